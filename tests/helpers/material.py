"""Real labelled datasets built from ../shared/realdata (labels known by construction), for tests and scripts."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from helpers import ORIENTATION_LABELS, REALDATA, need

TEXTLINE_YML = """Global:
  model_name: ch_ppocr_mobile_v2.0_cls
PreProcess:
  transform_ops:
  - ResizeImage: {size: [192, 48]}
  - NormalizeImage: {mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], scale: 0.00392156862745098, order: ''}
  - ToCHWImage: null
PostProcess:
  Topk: {topk: 2, label_list: ['0', '180']}
"""


def write_dataset(root: Path, labels, train, val):
    root.mkdir(parents=True, exist_ok=True)
    (root / "label.txt").write_text("".join(f"{i} {n}\n" for i, n in enumerate(labels)))
    (root / "train.txt").write_text("".join(f"{p} {lab}\n" for p, lab in train))
    (root / "val.txt").write_text("".join(f"{p} {lab}\n" for p, lab in val))
    return root


def orientation_dataset(root: Path, seed: int = 0) -> Path:
    """Real document photos, upright, turned 0/90/180/270 with crops and scale changes; labels by construction."""
    docs = need(REALDATA / "orientation_images")
    uprights = [cv2.imread(str(docs / "img_rot0_demo.jpg")),
                cv2.rotate(cv2.imread(str(docs / "img_rot180_demo.jpg")), cv2.ROTATE_180)]
    turns = [None, cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_COUNTERCLOCKWISE]
    rng = np.random.default_rng(seed)
    rows = []
    for d, page in enumerate(uprights):
        for v in range(4):
            h, w = page.shape[:2]
            ch, cw = int(h * rng.uniform(0.8, 1.0)), int(w * rng.uniform(0.8, 1.0))
            y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
            crop = page[y:y + ch, x:x + cw]
            s = rng.uniform(0.6, 1.3)
            crop = cv2.resize(crop, (int(cw * s), int(ch * s)))
            for label, turn in enumerate(turns):
                img = crop if turn is None else cv2.rotate(crop, turn)
                rel = f"images/doc{d}_v{v}_rot{ORIENTATION_LABELS[label]}.jpg"
                (root / "images").mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(root / rel), img)
                rows.append((rel, label))
    train = [r for r in rows if "_v0_" in r[0]]
    val = [r for r in rows if "_v0_" not in r[0]]
    return write_dataset(root, ORIENTATION_LABELS, train, val)


def textline_dataset(root: Path, variant: int = 0) -> Path:
    """Text lines rendered with OpenCV in 5 fonts and 3 sizes, upright (0) and turned 180 degrees (1)."""
    fonts = [cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX,
             cv2.FONT_HERSHEY_PLAIN]
    texts = ["Invoice number 2026-11", "Total amount due: 418.50", "The quick brown fox jumps",
             "Shipping address line two", "Paddle models without Paddle"]
    if variant:
        texts = ["Delivery note 7731", "Order reference AB-552", "Please sign and return",
                 "Payment within 30 days", "Warehouse 4, aisle 12"]
    rows = []
    (root / "lines").mkdir(parents=True, exist_ok=True)
    for f, font in enumerate(fonts):
        for s, scale in enumerate((0.8, 1.1, 1.5)):
            text = texts[(f + s) % len(texts)]
            thickness = 1 if font == cv2.FONT_HERSHEY_PLAIN else 2
            size = scale * (1.6 if font == cv2.FONT_HERSHEY_PLAIN else 1.0)
            (tw, th), base = cv2.getTextSize(text, font, size, thickness)
            img = np.full((th + base + 16, tw + 16, 3), 255, np.uint8)
            cv2.putText(img, text, (8, th + 8), font, size, (0, 0, 0), thickness, cv2.LINE_AA)
            for label, turned in enumerate((img, cv2.rotate(img, cv2.ROTATE_180))):
                rel = f"lines/f{f}_s{s}_{label}.png"
                cv2.imwrite(str(root / rel), turned)
                rows.append((rel, label))
    return write_dataset(root, ["0_degree", "180_degree"], rows[:6], rows[6:])
