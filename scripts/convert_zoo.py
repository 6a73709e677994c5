#!/usr/bin/env python3
"""Convert every zoo model, one process per model, resumable, and write the report.

    scripts/convert_zoo [--out DIR] [--weights-dir DIR] [--seed 0] [--only NAME ...] [--family F] [--timeout 3600]

Each model runs `imgcls-onnx convert NAME --random-init --seed S` (or `--weights DIR/NAME_pretrained.pdparams` when
that file exists under --weights-dir) in its own process, so memory is returned between models; a bundle whose
manifest.json already records a passed parity check is skipped (resume). Peak RSS per model is read from wait4().
Writes reports/zoo_conversion.json and reports/zoo_conversion.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from imgcls_onnx.store.cache import models_home  # noqa: E402
from imgcls_onnx.store.catalogue import load_zoo  # noqa: E402


def bar(done: int, total: int, name: str, width: int = 30) -> None:
    filled = int(width * done / max(total, 1))
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {name:<45}")
    sys.stderr.flush()


def run_one(name: str, out: Path, weights_dir: Path | None, seed: int, timeout: int) -> dict:
    cmd = [sys.executable, "-m", "imgcls_onnx.cli", "convert", name, "--out", str(out), "--overwrite"]
    weights = weights_dir / f"{name}_pretrained.pdparams" if weights_dir else None
    if weights is not None and weights.is_file():
        cmd += ["--weights", str(weights)]
    else:
        cmd += ["--random-init", "--seed", str(seed)]
    # a small wrapper per model reports the peak RSS of the conversion and of paddle2onnx's child process
    wrapper = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
               "print(f'PEAK_RSS_KB={resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}', file=sys.stderr); "
               "sys.exit(r.returncode)")
    cmd = [sys.executable, "-c", wrapper, *cmd]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env=dict(os.environ, PYTHONWARNINGS="ignore"))
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        return {"name": name, "status": "timeout", "reason": f"no result within {timeout} s",
                "wall_seconds": round(time.perf_counter() - started, 1)}
    peak = [ln for ln in stderr.splitlines() if ln.startswith("PEAK_RSS_KB=")]
    peak_mb = int(peak[-1].split("=")[1]) / 1024 if peak else None
    wall = round(time.perf_counter() - started, 1)
    if proc.returncode != 0:
        reason = [ln for ln in stderr.strip().splitlines() if ln.startswith("error:")]
        tail = reason[-1] if reason else "\n".join(stderr.strip().splitlines()[-3:])
        return {"name": name, "status": "fail", "exit_code": proc.returncode, "reason": tail[:2000],
                "wall_seconds": wall}
    report = json.loads(stdout)
    parity = report.get("parity") or {}
    return {
        "name": name,
        "status": "pass" if parity.get("passed") else "fail",
        "weights": "pretrained" if report["source"].get("weights") else "random",
        "opset": report.get("opset"),
        "onnx_mb": round(report["onnx"]["bytes"] / 1e6, 1),
        "conversion_seconds": report.get("conversion_seconds"),
        "wall_seconds": wall,
        "relative_logit_error": parity.get("relative_error"),
        "max_abs_logit_error": parity.get("max_abs_error"),
        "top1_agreement": parity.get("top1_agreement"),
        "top5_agreement": parity.get("top5_agreement"),
        "logit_std": parity.get("reference_std"),
        "input_dependence": parity.get("input_dependence"),
        "paddle_fp32_vs_fp64": parity.get("paddle_fp32_vs_fp64"),
        "onnxruntime_vs_fp64": parity.get("onnxruntime_vs_fp64"),
        "repairs": report.get("repairs"),
        "peak_rss_mb": round(peak_mb) if peak_mb else None,
    }


def already_passed(bundle: Path) -> dict | None:
    manifest = bundle / "manifest.json"
    if not manifest.is_file() or not (bundle / "inference.onnx").is_file():
        return None
    m = json.loads(manifest.read_text())
    parity = m.get("parity") or {}
    if not parity.get("passed"):
        return None
    return {
        "name": m.get("model_name") or bundle.name, "status": "pass",
        "weights": "pretrained" if (m.get("source") or {}).get("weights") else "random",
        "opset": m.get("opset"), "onnx_mb": round(m["onnx"]["bytes"] / 1e6, 1),
        "conversion_seconds": m.get("conversion_seconds"), "wall_seconds": None,
        "relative_logit_error": parity.get("relative_error"), "max_abs_logit_error": parity.get("max_abs_error"),
        "top1_agreement": parity.get("top1_agreement"), "top5_agreement": parity.get("top5_agreement"),
        "logit_std": parity.get("reference_std"), "input_dependence": parity.get("input_dependence"),
        "paddle_fp32_vs_fp64": parity.get("paddle_fp32_vs_fp64"), "onnxruntime_vs_fp64": parity.get("onnxruntime_vs_fp64"),
        "repairs": m.get("repairs"), "peak_rss_mb": None, "resumed": True,
    }


def write_report(rows: list[dict], path_json: Path, path_md: Path, meta: dict) -> None:
    path_json.parent.mkdir(parents=True, exist_ok=True)
    path_json.write_text(json.dumps({"meta": meta, "models": rows}, indent=1) + "\n")
    passed = sum(r["status"] == "pass" for r in rows)
    lines = [
        "# Zoo conversion report", "",
        f"{passed}/{len(rows)} models converted and passed parity (Paddle eager vs onnxruntime, logits, batch of 8).",
        "", f"- Machine: {meta['machine']}", f"- Versions: {meta['versions']}", f"- Command: `{meta['command']}`",
        f"- Date: {meta['date']}", "- Relative error = max |ORT - Paddle| / (max - min of Paddle's logits); tolerance 1e-4.",
        "- vs fp64: the same model run by eager Paddle in float64 (exact to float32's eyes). A model passes within 1e-4, or",
        "  up to 1e-3 when ORT is no farther from float64 than 2x Paddle's own float32 run is (float32 noise, not a conversion error).",
        "- Random init re-draws BatchNorm statistics and the head from the seed so logits spread (docs/conversion.md).",
        "- Peak RSS: the largest process of that model's conversion (the converter or its paddle2onnx child), in MB.",
        "",
        "| model | status | opset | ONNX MB | convert s | rel. logit err | Paddle-fp32 vs fp64 | ORT vs fp64 | top-1 | top-5 | logit std | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["status"] != "pass":
            lines.append(f"| {r['name']} | **{r['status']}** | | | | | | | | | | {r.get('reason', '')[:200].replace('|', '/')} |")
            continue
        fmt = lambda v, f: (f.format(v) if isinstance(v, (int, float)) else "-")  # noqa: E731
        lines.append(
            f"| {r['name']} | pass | {r['opset']} | {r['onnx_mb']} | {fmt(r['conversion_seconds'], '{:.1f}')} | "
            f"{fmt(r['relative_logit_error'], '{:.1e}')} | {fmt(r.get('paddle_fp32_vs_fp64'), '{:.1e}')} | "
            f"{fmt(r.get('onnxruntime_vs_fp64'), '{:.1e}')} | "
            f"{fmt(r['top1_agreement'], '{:.2f}')} | {fmt(r['top5_agreement'], '{:.2f}')} | "
            f"{fmt(r['logit_std'], '{:.2f}')} | {fmt(r.get('peak_rss_mb'), '{}')} |"
        )
    path_md.write_text("\n".join(lines) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=None, help="bundle root [default: $IMGCLS_ONNX_HOME/models]")
    ap.add_argument("--weights-dir", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--family", default=None)
    ap.add_argument("--timeout", type=int, default=3600)
    ap.add_argument("--report", default=str(ROOT / "reports" / "zoo_conversion"))
    args = ap.parse_args()
    out_root = Path(args.out) if args.out else models_home() / "models"
    models = [m for m in load_zoo().models if (not args.only or m.name in args.only)
              and (not args.family or m.family == args.family)]
    # small first: a problem shows up early and the big ones run last
    size_mb = lambda m: float((m.reference.size or "0 M").split()[0]) * (1000 if "G" in (m.reference.size or "") else 1)  # noqa: E731
    models.sort(key=size_mb)
    from imgcls_onnx.converter.deps import versions

    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
            "versions": versions(), "command": " ".join(["scripts/convert_zoo", *sys.argv[1:]]),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "seed": args.seed}
    previous = {}
    if Path(args.report + ".json").exists():  # resumed rows keep what the earlier run measured (RSS, wall time)
        previous = {r["name"]: r for r in json.loads(Path(args.report + ".json").read_text())["models"]}
    rows = []
    for i, m in enumerate(models):
        bar(i, len(models), m.name)
        row = already_passed(out_root / m.name)
        if row is not None and m.name in previous:
            for key in ("peak_rss_mb", "wall_seconds"):
                if row.get(key) is None and previous[m.name].get(key) is not None:
                    row[key] = previous[m.name][key]
        if row is None:
            row = run_one(m.name, out_root / m.name, Path(args.weights_dir) if args.weights_dir else None, args.seed,
                          args.timeout)
        row["family"] = m.family
        rows.append(row)
        write_report(rows, Path(args.report + ".json"), Path(args.report + ".md"), meta)
    bar(len(models), len(models), "done")
    sys.stderr.write("\n")
    failed = [r["name"] for r in rows if r["status"] != "pass"]
    print(f"{len(rows) - len(failed)}/{len(rows)} passed" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
