#!/usr/bin/env python3
"""Issue 29's side by side, tried as a new user would: fresh installs, the command line, a hand-written loop.

    scripts/bench_newuser [--images 336] [--repeats 3] [--threads 2] [--batch 8]

What runs (every run a whole process, timed from start to exit as `time` would: imports, model load, every photo,
JSON lines written to a file):
- `edge`: `imgcls-onnx predict FOLDER -m MODEL -b 8 --threads 2` from a fresh virtual environment with this
  checkout's platform wheel (scripts/build_wheels) and `[edge]`. Today `[cpu]` installs the same packages (no extra
  brings OpenCV), so this is also the full install.
- `full install before`: the same command from a fresh environment with the package as it was when issue 29 was filed
  (105f6c7, `[cpu]`: OpenCV decodes and resizes on x86-64), the "full install" of the issue's 0.97x line.
- `hand-written, next batch`: scripts/handwritten_loop.py in an environment of its own (numpy, opencv-python-headless,
  onnxruntime): the issue's peer, "decode and preprocess in 2 threads while the model runs", the next batch prepared
  while the model runs the current one; `hand-written, run ahead`: the same loop with `pool.map` running as far ahead
  as the pool can (the stronger form, scripts/bench_worker.py's).
The photos: IMAGES JPEGs of 300-1400 px a side (bench.make_images: random crops of ../shared/realdata's photos,
quality 90), the issue's set-up. Models: MobileNetV2_x1_0 (the issue's model: ImageNet, 1000 classes; random
weights, converted offline by scripts/bench_portable) and the real PULC orientation model (PP-LCNet_x1_0, 4
classes). The variants are interleaved within each repeat; medians. Each variant also runs over the first 8 photos:
start-up (imports, session, first batch), so the steady rate is (IMAGES - 8) / (t_all - t_8).

Answers: the same top-1 per photo in every variant, up to exact ties (a differing top-1 whose score equals the other
one's, in that variant's own output); differing top-1s are listed with their score gaps (the hand-written loop
normalises in another float order than PaddleX, so its inputs differ in the last bits). Writes reports/newuser.md
and .json; the environments and photos stay in .cache/newuser/.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import ROOT, log, make_images  # noqa: E402
from bench_portable import bundle, bundle_mnv2  # noqa: E402

CACHE = ROOT / ".cache" / "newuser"
BEFORE = "105f6c7"  # the last commit before issue 29's work: [cpu] brought OpenCV, which decoded and resized
VARIANTS = ("edge", "full install before", "hand-written, next batch", "hand-written, run ahead")


def run(cmd: list, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], check=True, capture_output=True, text=True, **kw)


def environments() -> dict:
    """The three fresh environments (made once; the edge one again whenever the wheel changes)."""
    wheel = Path(run([ROOT / "scripts" / "build_wheels", "x86_64"]).stdout.split()[-1])
    envs = {}
    specs = {
        "edge": [f"{wheel}[edge]"],
        "before": [f"{CACHE / 'src-before'}[cpu]"],
        "hand": ["numpy", "opencv-python-headless", "onnxruntime"],
    }
    for name, packages in specs.items():
        env, stamp = CACHE / name, CACHE / name / "installed.txt"
        want = "\n".join(packages) + (f"\n{wheel.stat().st_mtime_ns}" if name == "edge" else "")
        if not stamp.exists() or stamp.read_text(encoding="utf-8") != want:
            shutil.rmtree(env, ignore_errors=True)
            if name == "before":
                src = CACHE / "src-before"
                shutil.rmtree(src, ignore_errors=True)
                src.mkdir(parents=True)
                archive = subprocess.run(["git", "-C", str(ROOT), "archive", BEFORE], check=True,
                                         capture_output=True).stdout
                subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
            log(f"making the {name} environment")
            run([sys.executable, "-m", "venv", env])
            run([env / "bin" / "pip", "install", "-q", *packages])
            stamp.write_text(want, encoding="utf-8")
        envs[name] = env / "bin"
    return envs


def photos(n: int) -> Path:
    """n JPEGs of 300-1400 px a side (bench.make_images: random crops of the real photos, quality 90) and the first 8
    of them, as `all.txt` / `first8.txt` listings in one folder."""
    listing = make_images(n, sides=(300, 1400), suffixes=(".jpg", ".jpeg"))
    paths = listing.read_text(encoding="utf-8").split()
    (listing.parent / "all.txt").write_text("\n".join(paths) + "\n", encoding="utf-8")
    (listing.parent / "first8.txt").write_text("\n".join(paths[:8]) + "\n", encoding="utf-8")
    return listing.parent


def command(variant: str, envs: dict, model: Path, folder: Path, subset: str, args) -> list:
    if variant.startswith("hand-written"):
        ahead = "next" if variant.endswith("next batch") else "all"
        return [envs["hand"] / "python", ROOT / "scripts" / "handwritten_loop.py", model / "inference.onnx",
                folder / f"{subset}.txt", "--batch", args.batch, "--threads", args.threads, "--ahead", ahead]
    env = envs["edge" if variant == "edge" else "before"]
    inputs = [folder] if subset == "all" else (folder / f"{subset}.txt").read_text(encoding="utf-8").split()
    return [env / "imgcls-onnx", "predict", *inputs, "-m", model, "-b", args.batch, "--threads", args.threads]


def timed(cmd: list, out: Path) -> float:
    with open(out, "w", encoding="utf-8") as f:
        start = time.perf_counter()
        subprocess.run([str(c) for c in cmd], check=True, stdout=f, stderr=subprocess.DEVNULL, cwd=CACHE)
        return time.perf_counter() - start


def top1s(path: Path) -> dict:
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        rows[Path(r["input_path"]).name] = dict(zip(r["class_ids"], r["scores"]))
    return rows


def agreement(outputs: dict) -> dict:
    """Per variant against edge: photos whose top-1 differs; exact ties (the two classes' scores equal in one of the
    two outputs) and the score gaps of the rest."""
    ref = outputs["edge"]
    report = {}
    for name, rows in outputs.items():
        diffs = []
        for photo, scores in ref.items():
            mine, theirs = max(scores, key=scores.get), max(rows[photo], key=rows[photo].get)
            if mine == theirs:
                continue
            tie = any(s.get(mine) == s.get(theirs) for s in (scores, rows[photo]))
            gap = scores[mine] - scores.get(theirs, float("nan"))
            diffs.append({"photo": photo, "edge": mine, name: theirs, "exact_tie": tie, "edge_score_gap": gap})
        report[name] = {"photos": len(ref), "differ": len(diffs), "not_exact_ties": sum(not d["exact_tie"] for d in
                                                                                          diffs), "cases": diffs}
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=336)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", default="2")
    ap.add_argument("--batch", default="8")
    args = ap.parse_args()
    envs, folder = environments(), photos(args.images)
    models = {"MobileNetV2_x1_0": bundle_mnv2(), "PULC PP-LCNet_x1_0": bundle()}
    raw: dict = {}
    outputs: dict = {}
    for rep in range(args.repeats):
        for label, model in models.items():
            for variant in VARIANTS:
                for subset in ("all", "first8"):
                    out = CACHE / "out" / f"{label}_{variant}_{subset}.jsonl".replace(" ", "_").replace(",", "")
                    out.parent.mkdir(exist_ok=True)
                    seconds = timed(command(variant, envs, model, folder, subset, args), out)
                    raw.setdefault(label, {}).setdefault(variant, {}).setdefault(subset, []).append(seconds)
                    log(f"rep{rep} {label} {variant} {subset}: {seconds:.2f} s")
                    if subset == "all" and rep == 0:
                        outputs.setdefault(label, {})[variant] = top1s(out)
    n = args.images
    med = {label: {v: {s: statistics.median(t) for s, t in per.items()} for v, per in d.items()}
           for label, d in raw.items()}
    rates = {label: {v: {"whole_img_s": n / t["all"], "steady_img_s": (n - 8) / (t["all"] - t["first8"]),
                         "startup_s": t["first8"]} for v, t in d.items()} for label, d in med.items()}
    agree = {label: agreement(o) for label, o in outputs.items()}
    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
            "images": n, "repeats": args.repeats, "threads": args.threads, "batch": args.batch, "before": BEFORE,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    (ROOT / "reports" / "newuser.json").write_text(
        json.dumps({"meta": meta, "seconds": raw, "rates": rates, "top1": agree}, indent=1) + "\n", encoding="utf-8")
    lines = ["# Issue 29's side by side, as a new user would run it", "",
             f"{meta['machine']}; {n} JPEGs of 300-1400 px; batch {args.batch}, {args.threads} threads; median of "
             f"{args.repeats} interleaved runs, each a whole process; {meta['date']}. Generated by "
             "`scripts/bench_newuser` (what each variant is: its docstring).", "",
             "| model | variant | whole run (s) | img/s | edge is | steady img/s | edge is | start-up, 8 photos (s) |",
             "|---|---|---|---|---|---|---|---|"]
    for label, per in rates.items():
        edge = per["edge"]
        for v, r in per.items():
            lines.append(f"| {label} | {v} | {med[label][v]['all']:.2f} | {r['whole_img_s']:.1f} | "
                         f"{edge['whole_img_s'] / r['whole_img_s']:.2f}x | {r['steady_img_s']:.1f} | "
                         f"{edge['steady_img_s'] / r['steady_img_s']:.2f}x | {r['startup_s']:.2f} |")
    lines += ["", "Top-1 against edge, per photo (exact ties: the two classes' scores equal in one output):", "",
              "| model | variant | photos | top-1 differs | not an exact tie | largest edge score gap |",
              "|---|---|---|---|---|---|"]
    for label, per in agree.items():
        for v, a in per.items():
            gaps = [c["edge_score_gap"] for c in a["cases"] if not c["exact_tie"]]
            gap = f"{max(gaps):.2e}" if gaps else "-"
            lines.append(f"| {label} | {v} | {a['photos']} | {a['differ']} | {a['not_exact_ties']} | {gap} |")
    (ROOT / "reports" / "newuser.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
