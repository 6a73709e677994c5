#!/usr/bin/env python3
"""Feed mutated image bytes to the loader for a fixed time; any exception that is not ours is a finding.

Findings are saved to reports/fuzz/finding_<n>.bin with the traceback; the summary goes to stdout.
"""
from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from helpers.corpus import fuzz_seeds, mutate  # noqa: E402

from imgcls_onnx.runtime.errors import ImgclsError  # noqa: E402
from imgcls_onnx.runtime.images import ImageLimits, load_image  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    seeds = fuzz_seeds()
    limits = ImageLimits(max_bytes=1 << 20, max_pixels=4_000_000)
    out = ROOT / "reports" / "fuzz"
    runs = decoded = refused = findings = 0
    by_error: dict[str, int] = {}
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        data = mutate(seeds[int(rng.integers(0, len(seeds)))], rng)
        runs += 1
        try:
            load_image(data, limits=limits)
            decoded += 1
        except ImgclsError as e:
            refused += 1
            by_error[type(e).__name__] = by_error.get(type(e).__name__, 0) + 1
        except BaseException:  # noqa: BLE001 - this is what we look for
            findings += 1
            out.mkdir(parents=True, exist_ok=True)
            (out / f"finding_{findings}.bin").write_bytes(data)
            (out / f"finding_{findings}.txt").write_text(traceback.format_exc())
    print(f"{runs} inputs in {args.seconds:.0f} s (seed {args.seed}): {decoded} decoded, {refused} refused with our "
          f"errors {by_error}, {findings} findings (other exceptions)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
