#!/usr/bin/env python3
"""Side-by-side benchmark: imgcls-onnx vs PaddleX 3.7.2 (Paddle Inference, and its onnxruntime engine), same run.

    scripts/bench [--models PP-LCNet_x1_0 ...] [--batches 1 8] [--repeats 3] [--images 200] [--threads 2]

What it does (everything under .cache/bench/, nothing outside the repository):
1. Images: N JPEGs of mixed sizes (about 200 to 1600 px a side) cut and scaled from the photos in ../shared/realdata
   (or synthesised when ../shared is absent).
2. Models: each model is built from its ppcls architecture with random weights (seed 0), exported by Paddle
   (inference.json + .pdiparams + inference.yml, ending in Softmax as PaddleClas exports do), and converted by
   `imgcls-onnx convert` from that folder, so both sides run the same weights.
3. PaddleX is a peer, not a dependency: the bench installs paddlex==3.7.2 + paddlepaddle==3.3.1 into its own venv.
4. Every measurement runs in a fresh process (model loaded once, one warm-up pass, then timed full passes over all
   images, repeated until at least BENCH_MIN_SECONDS (default 3) have passed: the same rule for every system);
   systems are interleaved within each repeat; the table shows medians.
   - imgcls-onnx end to end: Classifier.predict over the image paths (decode, preprocess, infer, top-k), with its
     default schedule (one batch per core) and with parallel_batches=1 (a decode pool feeding one 2-thread stream).
   - PaddleX engine="paddle": create_model(..., engine="paddle") on the Paddle folder (its default CPU run mode,
     oneDNN), PADDLE_PDX_CPU_NUM_THREADS=threads.
   - PaddleX engine="onnxruntime": the same predictor on our bundle, intra_op_num_threads=threads.
   - onnxruntime model-only: session.run on ready tensors (the limit): the better of one stream with `threads`
     intra-op threads and `threads` concurrent one-thread streams (both are in the JSON).
   - decode+preprocess only: load_image + preprocessing in a `threads`-thread pool, no model.
5. Cold start: wall time of `imgcls-onnx predict --model DIR one.jpg` vs `python -c "create_model(...).predict(one)"`.
6. Installed size: a venv with `pip install .[cpu]` vs the PaddleX venv (site-packages, MB), with the largest
   packages of the runtime venv listed.
Writes reports/bench.json and reports/bench.md.
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

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench"
SHARED = ROOT.parent / "shared" / "realdata"
PY = sys.executable
PADDLEX_VENV = CACHE / "paddlex-venv"
RUNTIME_VENV = CACHE / "runtime-venv"
PADDLEX_PKGS = ["paddlex==3.7.2", "paddlepaddle==3.3.1", "onnxruntime==1.31.1", "opencv-contrib-python",
                "pypdfium2"]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def make_images(n: int, sides: tuple[int, int] = (200, 1600), suffixes=(".jpg", ".jpeg", ".png")) -> Path:
    """n JPEGs (quality 90) of ``sides`` px on the long side: random crops of ../shared's images with those
    ``suffixes``. Returns the listing (one path a line) in the cache folder that holds them."""
    import cv2
    import numpy as np

    default = sides == (200, 1600) and suffixes == (".jpg", ".jpeg", ".png")
    folder = CACHE / (f"images_{n}" if default else f"images_{n}_{sides[0]}-{sides[1]}_{'-'.join(suffixes)}")
    listing = folder / "list.txt"
    if listing.exists():
        return listing
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    sources = sorted(p for p in SHARED.rglob("*") if p.suffix.lower() in suffixes)
    photos = [cv2.imread(str(p)) for p in sources] if sources else []
    paths = []
    for i in range(n):
        if photos:
            img = photos[i % len(photos)]
            h, w = img.shape[:2]
            ch, cw = int(h * rng.uniform(0.6, 1.0)), int(w * rng.uniform(0.6, 1.0))
            y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
            crop = img[y:y + ch, x:x + cw]
        else:
            crop = rng.integers(0, 256, (400, 500, 3), dtype=np.uint8)
        side = float(rng.uniform(*sides))
        scale = side / max(crop.shape[:2])
        out = cv2.resize(crop, (max(1, int(crop.shape[1] * scale)), max(1, int(crop.shape[0] * scale))),
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        p = folder / f"bench_{i:04d}.jpg"
        cv2.imwrite(str(p), out, [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(str(p))
    listing.write_text("\n".join(paths) + "\n", encoding="utf-8")
    return listing


PREPARE = r"""
import sys, warnings, json
warnings.simplefilter("ignore")
from pathlib import Path
import paddle
import yaml
from imgcls_onnx.store.catalogue import load_zoo
from imgcls_onnx.runtime.bundle import BundleConfig
from imgcls_onnx.converter.architectures import build_architecture, randomize_for_parity
from imgcls_onnx.converter.export import jit_save, logits_module, with_softmax
from imgcls_onnx.converter.verify import synthetic_images
name, out = sys.argv[1], Path(sys.argv[2])
spec = load_zoo().get(name)
paddle.seed(0)
model = build_architecture(spec)
randomize_for_parity(model, 0, spec.preprocess.batch(synthetic_images(8, 0)))
net = with_softmax(logits_module(model))
jit_save(net, out, spec.input_hw)
cfg = BundleConfig(spec.name, spec.preprocess, spec.topk, spec.label_names())
(out / "inference.yml").write_text(yaml.safe_dump(cfg.to_yml_dict(), sort_keys=False, allow_unicode=True))
"""


def prepare_model(name: str) -> tuple[Path, Path]:
    paddle_dir = CACHE / "models" / name / "paddle"
    onnx_dir = CACHE / "models" / name / "onnx"
    if not (paddle_dir / "inference.yml").exists():
        log(f"exporting {name} (Paddle)")
        subprocess.run([PY, "-c", PREPARE, name, str(paddle_dir)], check=True, cwd=ROOT,
                       env=dict(os.environ, PYTHONWARNINGS="ignore"), stdout=subprocess.DEVNULL)
    if not (onnx_dir / "inference.onnx").exists():
        log(f"converting {name} (imgcls-onnx convert)")
        subprocess.run([PY, "-m", "imgcls_onnx.cli", "convert", str(paddle_dir), "--out", str(onnx_dir),
                        "--overwrite"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return paddle_dir, onnx_dir


def ensure_venv(path: Path, packages: list[str]) -> Path:
    python = path / "bin" / "python"
    marker = path / ".complete"
    if marker.exists():
        return python
    log(f"creating {path} with {' '.join(packages)} (pip, once)")
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *packages], check=True)
    marker.write_text("ok")
    return python


def site_packages_mb(venv: Path) -> float:
    sp = next((venv / "lib").glob("python*/site-packages"))
    total = sum(f.stat().st_size for f in sp.rglob("*") if f.is_file() and not f.is_symlink())
    return total / 1e6


def package_sizes_mb(venv: Path) -> dict[str, float]:
    """site-packages by distribution (a package's folder plus its vendored .libs folder), largest first."""
    sp = next((venv / "lib").glob("python*/site-packages"))
    sizes: dict[str, float] = {}
    for entry in sp.iterdir():
        if entry.name.endswith((".dist-info", ".pth")) or entry.name == "__pycache__":
            continue
        key = entry.name.removesuffix(".libs").split("_python")[0].lower()
        key = {"cv2": "opencv", "pil": "pillow", "yaml": "pyyaml", "google": "protobuf"}.get(key, key)
        files = [entry] if entry.is_file() else [f for f in entry.rglob("*") if f.is_file() and not f.is_symlink()]
        sizes[key] = sizes.get(key, 0.0) + sum(f.stat().st_size for f in files) / 1e6
    return dict(sorted(((k, round(v, 1)) for k, v in sizes.items() if v >= 1.0), key=lambda kv: -kv[1]))


def worker(python: Path, *args: str) -> dict:
    proc = subprocess.run([str(python), str(ROOT / "scripts" / "bench_worker.py"), *args], capture_output=True,
                          text=True, cwd=ROOT, env=dict(os.environ, PYTHONWARNINGS="ignore", GLOG_minloglevel="3"))
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args[:2]} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cold_start(cmd: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True,
                       env=dict(os.environ, PYTHONWARNINGS="ignore", GLOG_minloglevel="3"))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="*", default=["PP-LCNet_x1_0", "MobileNetV3_small_x1_0", "PP-HGNetV2-B0",
                                                     "ResNet50"])
    ap.add_argument("--batches", nargs="*", type=int, default=[1, 8])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-paddlex", action="store_true")
    args = ap.parse_args()
    listing = make_images(args.images)
    models = {name: prepare_model(name) for name in args.models}
    px = None if args.skip_paddlex else ensure_venv(PADDLEX_VENV, PADDLEX_PKGS)
    rt = ensure_venv(RUNTIME_VENV, [f"{ROOT}[cpu]"])
    # the cold-start command runs the installed copy: refresh it so it is this checkout's code
    subprocess.run([str(rt), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                    "--force-reinstall", str(ROOT)], check=True, capture_output=True)
    ours_py = Path(PY)
    systems = [("imgcls-onnx", ours_py, "ours", None),
               ("imgcls-onnx, one batch at a time", ours_py, "ours1", None),
               ("imgcls-onnx --fast-decode", ours_py, "oursfast", None),
               ("onnxruntime model-only", ours_py, "ort", None),
               ("decode+preprocess only", ours_py, "decode", None)]
    if px:
        systems += [("PaddleX engine=paddle", px, "paddlex", "paddle"),
                    ("PaddleX engine=onnxruntime", px, "paddlex", "onnxruntime")]
    raw: dict = {}
    for name, (paddle_dir, onnx_dir) in models.items():
        for batch in args.batches:
            for rep in range(args.repeats):
                for label, python, mode, engine in systems:
                    model_dir = paddle_dir if engine == "paddle" else onnx_dir
                    extra = [engine, name] if mode == "paddlex" else []
                    r = worker(python, mode, str(model_dir), str(batch), str(args.threads), str(listing), *extra)
                    raw.setdefault(name, {}).setdefault(str(batch), {}).setdefault(label, []).append(r)
                    log(f"{name} b{batch} rep{rep} {label}: {r['img_s']:.1f} img/s")
    one = [p for p in listing.read_text().splitlines() if p][0]
    first = args.models[0]
    cold = {"imgcls-onnx predict (one image)": cold_start(
        [str(RUNTIME_VENV / "bin" / "imgcls-onnx"), "predict", "--model", str(models[first][1]), "--device", "cpu",
         "--threads", str(args.threads), one], 5)}
    if px:
        code = ("import os; os.environ['PADDLE_PDX_CPU_NUM_THREADS']='%d'; from paddlex import create_model; "
                "m = create_model(model_name=%r, model_dir=%r, device='cpu', engine='paddle'); "
                "list(m.predict(%r))" % (args.threads, first, str(models[first][0]), one))
        cold["PaddleX create_model + predict (one image, engine=paddle)"] = cold_start([str(px), "-c", code], 5)
    sizes = {"imgcls-onnx[cpu] venv site-packages": site_packages_mb(RUNTIME_VENV)}
    breakdown = package_sizes_mb(RUNTIME_VENV)
    if px:
        sizes["PaddleX 3.7.2 + paddlepaddle venv site-packages"] = site_packages_mb(PADDLEX_VENV)
    summary = {}
    for name, per_batch in raw.items():
        for batch, per_sys in per_batch.items():
            summary.setdefault(name, {})[batch] = {
                label: {"img_s": statistics.median(r["img_s"] for r in runs),
                        "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in runs),
                        **({"top1_agreement_with_exact": runs[0]["top1_agreement_with_exact"]}
                           if "top1_agreement_with_exact" in runs[0] else {}),
                        "runs": [round(r["img_s"], 2) for r in runs]}
                for label, runs in per_sys.items()}
    meta = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
            "threads": args.threads, "images": args.images, "repeats": args.repeats,
            "min_seconds": float(os.environ.get("BENCH_MIN_SECONDS", "3")),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "python": platform.python_version()}
    out = {"meta": meta, "throughput": summary, "cold_start_s": cold, "installed_mb": sizes,
           "runtime_venv_packages_mb": breakdown}
    (ROOT / "reports").mkdir(exist_ok=True)
    (ROOT / "reports" / "bench.json").write_text(json.dumps(out, indent=1) + "\n")
    write_markdown(out)
    print((ROOT / "reports" / "bench.md").read_text())
    return 0


def write_markdown(out: dict) -> None:
    m = out["meta"]
    lines = ["# Benchmark: imgcls-onnx vs PaddleX 3.7.2", "",
             f"Machine: {m['machine']}; {m['threads']} threads; {m['images']} JPEGs of mixed sizes; median of "
             f"{m['repeats']} interleaved runs, each in a fresh process after one warm-up pass, timing whole passes over the "
             f"images for at least {m.get('min_seconds', 0):g} s; {m['date']}.",
             "Generated by `scripts/bench` (see its docstring for the method). Random weights (speed does not depend on them).",
             "", "## End-to-end throughput (images/s, higher is better)", "",
             "| model | batch | imgcls-onnx | one batch at a time | PaddleX paddle | PaddleX onnxruntime | ORT model-only | decode+preprocess only | vs PaddleX paddle | vs PaddleX ORT | e2e / model-only |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    fast_lines = ["", "## Opt-in `--fast-decode` (not PaddleX-exact)", "",
                  "JPEGs decoded at 1/2-1/4-1/8 scale in the DCT domain, never below the first resize's short side. "
                  "Agreement: top-1 equal to the exact path on the same 200 images (random weights, which react to "
                  "small input changes far more than trained ones; see the README for the real-weight check).", "",
                  "| model | batch | img/s | vs exact imgcls-onnx | vs PaddleX paddle | top-1 agreement with exact |",
                  "|---|---|---|---|---|---|"]
    for name, per_batch in out["throughput"].items():
        for batch, s in per_batch.items():
            ours = s["imgcls-onnx"]["img_s"]
            pp = s.get("PaddleX engine=paddle", {}).get("img_s")
            po = s.get("PaddleX engine=onnxruntime", {}).get("img_s")
            mo = s["onnxruntime model-only"]["img_s"]
            o1 = s.get("imgcls-onnx, one batch at a time", {}).get("img_s")
            dp = s.get("decode+preprocess only", {}).get("img_s")
            f = lambda v: f"{v:.1f}" if v else "-"  # noqa: E731
            r = lambda a, b: f"{a / b:.2f}x" if a and b else "-"  # noqa: E731
            fd = s.get("imgcls-onnx --fast-decode", {})
            if fd:
                fast_lines.append(f"| {name} | {batch} | {f(fd['img_s'])} | {r(fd['img_s'], ours)} | "
                                  f"{r(fd['img_s'], pp)} | {fd['top1_agreement_with_exact']:.1%} |")
            lines.append(f"| {name} | {batch} | {f(ours)} | {f(o1)} | {f(pp)} | {f(po)} | {f(mo)} | {f(dp)} | {r(ours, pp)} | "
                         f"{r(ours, po)} | {r(ours, mo)} |")
    if len(fast_lines) > 6:
        lines += fast_lines
    lines += ["", "## Peak RSS of the measuring process (MB, batch 8)", "", "| model | " +
              " | ".join(next(iter(next(iter(out['throughput'].values())).values())).keys()) + " |",
              "|---|" + "---|" * len(next(iter(next(iter(out['throughput'].values())).values())))]
    for name, per_batch in out["throughput"].items():
        s = per_batch.get("8") or next(iter(per_batch.values()))
        lines.append(f"| {name} | " + " | ".join(f"{v['peak_rss_mb']:.0f}" for v in s.values()) + " |")
    lines += ["", "## Cold start (s, wall, median of 5)", "", "| command | seconds |", "|---|---|"]
    lines += [f"| {k} | {v:.2f} |" for k, v in out["cold_start_s"].items()]
    lines += ["", "## Installed size (MB)", "", "| environment | MB |", "|---|---|"]
    lines += [f"| {k} | {v:.0f} |" for k, v in out["installed_mb"].items()]
    if out.get("runtime_venv_packages_mb"):
        lines += ["", "Largest packages in the imgcls-onnx[cpu] venv (MB): " + ", ".join(
            f"{k} {v:.0f}" for k, v in out["runtime_venv_packages_mb"].items())]
    (ROOT / "reports" / "bench.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
