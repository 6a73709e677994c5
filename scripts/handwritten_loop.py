#!/usr/bin/env python3
"""A skilled user's own OpenCV + onnxruntime classifier, the peer of issue 29's side by side (scripts/bench_newuser).

    python handwritten_loop.py MODEL.onnx IMAGE_LIST [--batch 8] [--threads 2] [--topk 5] [--ahead next|all]

Needs only numpy, opencv-python-headless and onnxruntime (the user's own environment, not this package). Reads the
images named in IMAGE_LIST (one path a line, UTF-8), and prints one JSON line per image, as `imgcls-onnx predict`
does: {"input_path", "class_ids", "scores"} (top-k, softmax already in the model).

Preprocessing is the ImageNet recipe the bundles use (resize the short side to 256 with cv2.INTER_LINEAR, centre crop
224, (x - mean) / std in float32, CHW), written the way a skilled user writes it: cv2.imread straight to RGB, one
float32 pass for the normalisation. Decode and preprocess run in a pool of --threads threads while onnxruntime (also
--threads intra-op threads) runs the model:
- `--ahead next` (default, issue 29's words): the next batch is prepared, split over the pool, while the model runs
  the current one;
- `--ahead all`: `pool.map` over all batches, which runs as far ahead of the model as the pool can (what
  scripts/bench_worker.py's `handwritten` mode times in-process).
"""
from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import onnxruntime as ort

MEAN = np.array([0.485, 0.456, 0.406], np.float32) * 255
INV_STD = 1 / (np.array([0.229, 0.224, 0.225], np.float32) * 255)


def prep(path: str) -> np.ndarray:
    img = cv2.imread(path, cv2.IMREAD_COLOR_RGB)
    h, w = img.shape[:2]
    s = 256 / min(h, w)
    img = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_LINEAR)
    h, w = img.shape[:2]
    y, x = (h - 224) // 2, (w - 224) // 2
    return ((img[y:y + 224, x:x + 224].astype(np.float32) - MEAN) * INV_STD).transpose(2, 0, 1)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("image_list")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--topk", type=int, default=5)
    ap.add_argument("--ahead", choices=("next", "all"), default="next")
    args = ap.parse_args()
    with open(args.image_list, encoding="utf-8") as f:
        paths = [line.strip() for line in f if line.strip()]
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(args.model, so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    chunks = [paths[i:i + args.batch] for i in range(0, len(paths), args.batch)]
    out = sys.stdout
    with ThreadPoolExecutor(args.threads) as pool:
        if args.ahead == "next":
            def batches():  # the next batch's images go to the pool before the model runs the current one
                nxt = _Batch(pool, chunks[0]) if chunks else None
                for i, chunk in enumerate(chunks):
                    x = nxt.result()
                    nxt = _Batch(pool, chunks[i + 1]) if i + 1 < len(chunks) else None
                    yield chunk, x
        else:
            def batches():
                yield from zip(chunks, pool.map(lambda c: np.stack([prep(p) for p in c]), chunks))

        for chunk, x in batches():
            probs = sess.run(None, {name: x})[0]
            for path, row in zip(chunk, probs):
                top = np.argsort(-row, kind="stable")[:args.topk]
                out.write(json.dumps({"input_path": path, "class_ids": top.tolist(),
                                      "scores": [float(row[i]) for i in top]}) + "\n")
    return 0


class _Batch:
    """A batch whose images were submitted to the pool one by one; result() stacks them in order."""

    def __init__(self, pool: ThreadPoolExecutor, chunk: list):
        self.parts = [pool.submit(prep, p) for p in chunk]

    def result(self) -> np.ndarray:
        return np.stack([f.result() for f in self.parts])


if __name__ == "__main__":
    raise SystemExit(main())
