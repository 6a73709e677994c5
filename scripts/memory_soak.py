#!/usr/bin/env python3
"""Peak RSS while streaming N generated images (default 10,000) through Classifier.predict.

    .venv/bin/python scripts/memory_soak.py [--model DIR] [--count 10000] [--batch-size 8]

Images are generated on the fly in a generator (varied sizes, 120x160 up to 1200x1600), so the only thing that could
make memory grow is the pipeline itself. Prints RSS after warm-up and at every 10 % of the stream.
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def images(count: int):
    rng = np.random.default_rng(0)
    sizes = [(120, 160), (480, 640), (1200, 1600), (300, 300), (768, 1024)]
    base = {s: rng.integers(0, 256, (*s, 3), dtype=np.uint8) for s in sizes}
    for i in range(count):
        img = base[sizes[i % len(sizes)]].copy()
        img[i % img.shape[0]] = i % 256  # every image differs
        yield img


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / ".cache" / "demo" / "PULC_text_image_orientation"))
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--batch-size", type=int, default=8)
    args = ap.parse_args()
    from imgcls_onnx import Classifier

    clf = Classifier.from_dir(args.model, device="cpu")
    start = time.perf_counter()
    samples = []
    for i, res in enumerate(clf.predict(images(args.count), batch_size=args.batch_size), 1):
        assert res.ok, res.error
        if i == 200 or i % (args.count // 10) == 0:
            samples.append((i, rss_mb()))
            print(f"{i:>6} images  RSS {samples[-1][1]:7.1f} MB", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    warm = samples[0][1]
    print(f"{args.count} images in {time.perf_counter() - start:.0f} s; RSS after 200: {warm:.0f} MB, at the end: "
          f"{samples[-1][1]:.0f} MB, peak RSS {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
