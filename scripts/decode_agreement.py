#!/usr/bin/env python3
"""How close Pillow's decode comes to OpenCV's, per kind of image: the table in reports/decode_agreement.md.

For every image of the generated corpus (tests/decode_corpus.py, at several sizes and seeds) and the real photos in
../shared/realdata, three decodes are compared with ``cv2.imdecode(IMREAD_COLOR_RGB | IMREAD_IGNORE_ORIENTATION)``
(the runtime's OpenCV path): Pillow's plain ``convert("RGB")``, and the runtime's Pillow decoder
(``imgcls_onnx.runtime.decode``, what runs without OpenCV). Also end to end: ``load_image`` with the runtime's
decoder against ``load_image`` with OpenCV's (tests/conftest.py ``use_decoder``: EXIF orientation, Pillow fallbacks
included).

    scripts/decode_agreement.py [--max-side 256] [--seeds 0 1] [--markdown reports/decode_agreement.md]
"""
from __future__ import annotations

import argparse
import collections
import io
import os
import sys
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from helpers import decode_corpus, use_decoder  # noqa: E402

from imgcls_onnx.runtime import decode, images  # noqa: E402

FLAGS = cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION


def _diff(ref: np.ndarray | None, got: np.ndarray | None) -> tuple[int, float] | None:
    """(max abs difference, fraction of pixels differing); None when either is missing or the shapes differ."""
    if ref is None or got is None or ref.shape != got.shape:
        return None
    d = np.abs(ref.astype(np.int16) - got.astype(np.int16)).max(axis=-1)
    return int(d.max(initial=0)), float((d > 0).mean()) if d.size else 0.0


def _naive(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def _load(data: bytes, decoder: str) -> np.ndarray | str:
    try:
        with use_decoder(decoder):
            return images.load_image(data)
    except images.ImageLoadError as e:
        return type(e).__name__


class Row:
    def __init__(self) -> None:
        self.n = 0
        self.cv2_none = 0
        self.naive = [0, 0, 0.0]  # identical, max diff, worst fraction
        self.pillow = [0, 0, 0.0]
        self.e2e = 0
        self.examples: list[str] = []

    @staticmethod
    def _add(acc: list, d) -> None:
        if d is None:
            acc[1] = max(acc[1], 999)
        elif d[0] == 0:
            acc[0] += 1
        else:
            acc[1], acc[2] = max(acc[1], d[0]), max(acc[2], d[1])


def measure(items) -> dict[str, Row]:
    rows: dict[str, Row] = collections.defaultdict(Row)
    for name, kind, data in items:
        row = rows[kind]
        row.n += 1
        ref = cv2.imdecode(np.frombuffer(data, np.uint8), FLAGS)
        if ref is None:
            row.cv2_none += 1
        row._add(row.naive, _diff(ref, _naive(data)) if ref is not None else (0, 0.0))
        try:
            mine = decode._decode_single(data, name)
        except images.ImageLoadError:
            mine = None
        d = _diff(ref, mine) if ref is not None else (0, 0.0)
        row._add(row.pillow, d)
        if d is None or d[0]:
            row.examples.append(f"{name}: {d}")
        a, b = _load(data, "opencv"), _load(data, "pillow")
        same = (a == b) if isinstance(a, str) or isinstance(b, str) else (a.shape == b.shape and np.array_equal(a, b))
        row.e2e += bool(same)
    return rows


def table(rows: dict[str, Row]) -> str:
    out = ["| kind | images | Pillow convert('RGB'): identical / max diff / worst fraction | runtime Pillow decoder: "
           "identical / max diff / worst fraction | load_image pillow == opencv |",
           "| --- | ---: | --- | --- | ---: |"]
    for kind, r in rows.items():
        def cell(acc):
            return f"{acc[0]}/{r.n}" + ("" if acc[0] == r.n else f", max {acc[1]}, {acc[2]:.0%} of pixels")
        out.append(f"| {kind} | {r.n} | {cell(r.naive)} | {cell(r.pillow)} | {r.e2e}/{r.n} |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-side", type=int, default=256)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--markdown", type=Path, default=None)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    items = [it for seed in args.seeds for it in decode_corpus.build(args.max_side, seed)]
    real = Path(os.environ.get("IMGCLS_SHARED", ROOT.parent / "shared")) / "realdata"
    for p in sorted(real.rglob("*")):
        if p.suffix.lower() in (".jpg", ".jpeg", ".png"):
            items.append((p.name, "real photo " + p.suffix.lower().lstrip("."), p.read_bytes()))
    rows = measure(items)
    text = table(rows)
    print(text)
    for kind, r in rows.items():
        for ex in r.examples[:3]:
            print(f"  {kind}: {ex}")
    if args.markdown:
        args.markdown.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
