"""What the dataset commands write for people: labelled sample pictures, the class histogram, evaluate's JSON and
confusion-matrix files. matplotlib is optional (the plots extra): without it the PNGs are skipped."""
from __future__ import annotations

import importlib.util
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..runtime.fsutil import atomic_write_text
from ..runtime.images import load_image
from ..runtime.visualize import draw_top1
from .evaluation import EvalResult
from .read import Dataset


def save_labelled_sample(src: Path, text: str, target: Path) -> None:
    """``src`` at most 640 pixels on a side with ``text`` drawn on it, as a JPEG."""
    image = load_image(src)
    h, w = image.shape[:2]
    if max(h, w) > 640:  # a picture for people (not a model input): Pillow's box filter averages like INTER_AREA
        s = 640 / max(h, w)
        image = np.asarray(Image.fromarray(image).resize((max(1, int(w * s)), max(1, int(h * s))), Image.BOX))
    draw_top1(image, text).save(target, format="JPEG", quality=90)


def matplotlib_available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def plot_histogram(ds: Dataset, counts: dict[str, Counter], target: Path) -> bool:
    """The per-class train/val image counts as a PNG; False (and nothing written) without matplotlib."""
    if not matplotlib_available():
        return False
    import matplotlib  # noqa: PLC0415 - optional dependency (the plots extra)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 - after use("Agg")

    idx = sorted(ds.labels)
    x = np.arange(len(idx))
    fig, ax = plt.subplots(figsize=(min(16, max(6, len(idx) * 0.25)), 4))  # bounded for any class count
    ax.bar(x - 0.2, [counts.get("train", Counter())[i] for i in idx], 0.4, label="train")
    ax.bar(x + 0.2, [counts.get("val", Counter())[i] for i in idx], 0.4, label="val")
    ax.set_xlabel("class")
    ax.set_ylabel("images")
    if len(idx) <= 40:
        ax.set_xticks(x, [ds.labels[i] for i in idx], rotation=60, ha="right", fontsize=7)
    ax.legend()
    fig.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=100)
    plt.close(fig)
    return True


def write_evaluation(result: EvalResult, ds: Dataset, output: "str | os.PathLike[str]",
                     extra: dict[str, Any] | None = None) -> list[Path]:
    """evaluate_result.json (``result.to_json`` plus ``extra``), confusion_matrix.json and, with matplotlib,
    confusion_matrix.png in ``output``; returns the files written."""
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    data = result.to_json(ds.labels)
    if extra:
        data.update(extra)
    written = [out / "evaluate_result.json"]
    atomic_write_text(written[0], json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    # the dense matrix is n x n (8 MB of JSON text for 1000 classes): its own file; the result JSON keeps it only for
    # small label sets and always has the sparse form (non-zero cells)
    cm = out / "confusion_matrix.json"
    atomic_write_text(cm, json.dumps({"labels": data["labels"], "matrix": result.confusion_matrix}))
    written.append(cm)
    if matplotlib_available():
        png = out / "confusion_matrix.png"
        _plot_confusion(np.array(result.confusion_matrix), ds.labels, png)
        written.append(png)
    return written


MAX_PLOT_CLASSES = 30


def _plot_confusion(m: np.ndarray, labels: dict[int, str], target: Path) -> None:
    """At most MAX_PLOT_CLASSES rows and columns (the classes with the most true or predicted images) in a figure of
    at most 10 x 10 inches: memory and time stay bounded for any class count."""
    import matplotlib  # noqa: PLC0415 - optional dependency (the plots extra)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415 - after use("Agg")

    n = len(m)
    keep = np.arange(n)
    if n > MAX_PLOT_CLASSES:
        weight = m.sum(axis=0) + m.sum(axis=1)
        keep = np.sort(np.argsort(-weight, kind="stable")[:MAX_PLOT_CLASSES])
    sub = m[np.ix_(keep, keep)]
    side = min(10.0, max(4.0, len(keep) * 0.35))
    fig, ax = plt.subplots(figsize=(side, side))
    ax.imshow(sub, cmap="Blues")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    names = [str(labels.get(int(i), int(i)))[:18] for i in keep]
    ax.set_xticks(range(len(keep)), names, rotation=90, fontsize=6)
    ax.set_yticks(range(len(keep)), names, fontsize=6)
    if n > MAX_PLOT_CLASSES:
        ax.set_title(f"{len(keep)} of {n} classes (most images); full matrix in confusion_matrix.json", fontsize=8)
    for i in range(len(keep)):
        for j in range(len(keep)):
            if sub[i, j]:
                ax.text(j, i, str(sub[i, j]), ha="center", va="center", fontsize=6)
    fig.tight_layout()
    fig.savefig(target, dpi=100)
    plt.close(fig)
