#!/usr/bin/env python3
"""Generate imgcls_onnx/zoo_manifest.json from ../shared/reference/{zoo_preprocess,zoo_reference_figures}.json.

Those two files hold what PaddleX's per-model training configs (paddlex/repo_apis/PaddleClas_api/configs/<model>.yaml,
``Infer`` section; in no wheel) and its model table say. The generated JSON is committed and needs nothing at run time.

    python scripts/make_zoo_manifest.py [--reference ../shared/reference] [--out imgcls_onnx/zoo_manifest.json]
"""
from __future__ import annotations

import argparse
import json
import re
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FAMILIES = [  # (name prefix, family), first match wins
    ("PP-LCNetV2", "PP-LCNetV2"), ("PP-LCNet", "PP-LCNet"), ("PP-HGNetV2", "PP-HGNetV2"), ("PP-HGNet", "PP-HGNet"),
    ("ResNet", None), ("MobileNetV1", "MobileNetV1"), ("MobileNetV2", "MobileNetV2"), ("MobileNetV3", "MobileNetV3"),
    ("MobileNetV4_conv", "MobileNetV4_conv"), ("MobileNetV4_hybrid", "MobileNetV4_hybrid"), ("ConvNeXt", "ConvNeXt"),
    ("SwinTransformer", "SwinTransformer"), ("CLIP", "CLIP"), ("StarNet", "StarNet"), ("FasterNet", "FasterNet"),
]


def family_of(name: str) -> str:
    for prefix, fam in FAMILIES:
        if name.startswith(prefix):
            if fam is None:
                return "ResNet_vd" if name.endswith("_vd") else "ResNet"
            return fam
    raise SystemExit(f"no family for {name}")


def scale_of(text) -> float:
    if isinstance(text, (int, float)):
        return float(text)
    num, _, den = str(text).partition("/")
    return float(Fraction(num.strip()) / Fraction(den.strip())) if den else float(num)


IMAGENET_NORM = {"NormalizeImage": {"channel_num": 3, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                                    "scale": 0.00392156862745098, "order": ""}}
# PaddleX's PP-LCNet classifiers of other modules (PaddleClas PULC configs in the paddleclas 2.6.0 wheel,
# deploy/configs/PULC/, and PaddleX's module docs). Their official archives carry their own inference.yml, which is
# what a conversion uses; these entries name the models and serve --weights / --random-init. Top-1 is on PaddleX's
# internal test sets (only where PaddleX publishes it).
PULC_MODULES = [
    {"name": "PP-LCNet_x1_0_doc_ori", "family": "PP-LCNet", "module": "doc_text_orientation", "arch": "PPLCNet_x1_0",
     "class_num": 4, "input_hw": [224, 224],
     "transform_ops": [{"ResizeImage": {"resize_short": 256}}, {"CropImage": {"size": 224}}, IMAGENET_NORM,
                       {"ToCHWImage": None}],
     "topk": 1, "labels": ["0", "90", "180", "270"],
     "reference": {"top1": None, "gpu_ms_t4_fp32": None, "cpu_ms_xeon5117_8t_fp32": None, "size": "7 M"}},
    {"name": "PP-LCNet_x0_25_textline_ori", "family": "PP-LCNet", "module": "textline_orientation",
     "arch": "PPLCNet_x0_25", "class_num": 2, "input_hw": [80, 160],
     "transform_ops": [{"ResizeImage": {"size": [160, 80]}}, IMAGENET_NORM, {"ToCHWImage": None}],
     "topk": 1, "labels": ["0_degree", "180_degree"],
     "reference": {"top1": 98.85, "gpu_ms_t4_fp32": None, "cpu_ms_xeon5117_8t_fp32": None, "size": "0.96 M"}},
    {"name": "PP-LCNet_x1_0_textline_ori", "family": "PP-LCNet", "module": "textline_orientation",
     "arch": "PPLCNet_x1_0", "class_num": 2, "input_hw": [80, 160],
     "transform_ops": [{"ResizeImage": {"size": [160, 80]}}, IMAGENET_NORM, {"ToCHWImage": None}],
     "topk": 1, "labels": ["0_degree", "180_degree"],
     "reference": {"top1": None, "gpu_ms_t4_fp32": None, "cpu_ms_xeon5117_8t_fp32": None, "size": None}},
    {"name": "PP-LCNet_x1_0_table_cls", "family": "PP-LCNet", "module": "table_classification",
     "arch": "PPLCNet_x1_0", "class_num": 2, "input_hw": [224, 224],
     "transform_ops": [{"ResizeImage": {"resize_short": 256}}, {"CropImage": {"size": 224}}, IMAGENET_NORM,
                       {"ToCHWImage": None}],
     "topk": 1, "labels": ["wired_table", "wireless_table"],
     "reference": {"top1": 94.2, "gpu_ms_t4_fp32": None, "cpu_ms_xeon5117_8t_fp32": None, "size": "6.6 M"}},
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", default=str(ROOT.parent / "shared" / "reference"))
    ap.add_argument("--out", default=str(ROOT / "imgcls_onnx" / "zoo_manifest.json"))
    args = ap.parse_args()
    ref = Path(args.reference)
    pre = json.loads((ref / "zoo_preprocess.json").read_text())
    figs = {m["name"]: m for m in json.loads((ref / "zoo_reference_figures.json").read_text())["models"]}
    models = []
    for m in pre:
        name = m["seed"]
        resize = {"resize_short": m["resize_short"]} if m["resize_short"] else {"size": m["resize_size"]}
        extra = m.get("resize_extra") or {}
        if extra:
            resize["interpolation"] = extra.get("interpolation", "linear").lower()
            resize["backend"] = extra.get("backend", "cv2").lower()
        crop = m["crop"]
        ops = [
            {"ResizeImage": resize},
            {"CropImage": {"size": crop}},
            {"NormalizeImage": {"channel_num": 3, "mean": m["mean"], "std": m["std"], "scale": scale_of(m["scale"]),
                                "order": m.get("order") or ""}},
            {"ToCHWImage": None},
        ]
        if m["label_file"] != "ppcls/utils/imagenet1k_label_list.txt":
            raise SystemExit(f"{name}: unexpected label file {m['label_file']}")
        f = figs.get(name)
        if f is None:
            raise SystemExit(f"{name}: no reference figures")
        models.append({
            "name": name,
            "family": family_of(name),
            "arch": m["arch"],
            "class_num": m["class_num"],
            "input_hw": [crop, crop],
            "transform_ops": ops,
            "topk": m["topk"],
            "labels": "imagenet1k",
            "reference": {k: f.get(k) for k in ("top1", "gpu_ms_t4_fp32", "cpu_ms_xeon5117_8t_fp32", "size")},
        })
    models.extend(PULC_MODULES)
    models.sort(key=lambda d: (d["family"], [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", d["name"])]))
    out = {
        "source": "PaddleX per-model configs (Infer section) and PaddleX image-classification model table, "
                  "via shared/reference/zoo_preprocess.json and zoo_reference_figures.json; generated by "
                  "scripts/make_zoo_manifest.py",
        "reference_notes": json.loads((ref / "zoo_reference_figures.json").read_text()).get("notes"),
        "models": models,
    }
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {len(models)} models to {args.out}")


if __name__ == "__main__":
    main()
