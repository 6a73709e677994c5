"""split_dataset: re-split train+val, stratified by class, deterministic for a seed."""
from __future__ import annotations

import os
import random
import shutil
from collections import defaultdict
from pathlib import Path

from ..runtime.fsutil import atomic_write_text
from .errors import DatasetError
from .read import Sample, read_dataset


def split_dataset(root: "str | os.PathLike[str]", val_percent: float, seed: int = 0) -> dict[str, int]:
    """Re-split train+val into new lists, stratified by class, deterministic for a seed. The old lists are kept
    as ``train.txt.bak`` / ``val.txt.bak`` (numbered when those exist)."""
    if not 0 < val_percent < 100:
        raise DatasetError(f"--val-percent must be between 0 and 100, got {val_percent}")
    root = Path(root)
    ds = read_dataset(root)
    by_class: dict[int, list[Sample]] = defaultdict(list)
    for split in ("train", "val"):
        for s in ds.samples.get(split, []):
            by_class[s.label].append(s)
    rng = random.Random(seed)
    train, val = [], []
    for label in sorted(by_class):
        rows = sorted(by_class[label], key=lambda s: s.rel_path)
        rng.shuffle(rows)
        n_val = int(round(len(rows) * val_percent / 100))
        if len(rows) >= 2:
            n_val = min(max(n_val, 1), len(rows) - 1)
        val.extend(rows[:n_val])
        train.extend(rows[n_val:])
    stamp = ""
    for name in ("train.txt", "val.txt"):
        src = root / name
        if src.exists():
            backup = root / f"{name}.bak"
            k = 1
            while backup.exists():
                backup = root / f"{name}.bak{k}"
                k += 1
            shutil.copy2(src, backup)
            stamp = stamp or str(backup.name)
    for name, rows in (("train.txt", train), ("val.txt", val)):
        text = "".join(f"{s.rel_path} {s.label}\n" for s in sorted(rows, key=lambda s: (s.label, s.rel_path)))
        atomic_write_text(root / name, text)
    return {"train": len(train), "val": len(val)}
