"""Per-image agreement between Paddle (the source model) and our ONNX bundle, on the same preprocessed inputs."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..runtime.defaults import BATCH_SIZE
from ..runtime.images import load_image
from ..runtime.postprocess import top_k
from .pipeline import _find_paddle_files
from .verify import paddle_inference_outputs


def compare_with_paddle(paddle_dir: Path, model, image_paths: Sequence[str], predictions: Sequence,
                        batch_size: int = BATCH_SIZE) -> dict:
    """Run Paddle Inference (oneDNN off) on every image that our model read, compare top-1 and scores. ``model``:
    the runtime's OnnxModel (a Classifier gives its own)."""
    model = getattr(model, "model", model)
    model_file, params_file = _find_paddle_files(Path(paddle_dir))
    agree = total = 0
    max_diff = 0.0
    disagreements = []
    pairs = [(p, r) for p, r in zip(image_paths, predictions) if r.ok]
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start:start + batch_size]
        images = [load_image(p) for p, _ in chunk]
        batch = np.stack([model.preprocess(im) for im in images])
        out = paddle_inference_outputs(model_file, params_file, batch)
        ours = model.run(np.stack([model.model_input(im) for im in images]))
        for (path, res), row_p, row_o in zip(chunk, out, ours):
            total += 1
            paddle_top1 = int(top_k(np.asarray(row_p).reshape(1, -1), 1)[0][0, 0])  # the runtime's rule for ties
            same = paddle_top1 == res.class_ids[0]
            agree += same
            max_diff = max(max_diff, float(np.abs(row_p - row_o).max()))
            if not same:
                disagreements.append({"image": path, "paddle": paddle_top1, "onnx": res.class_ids[0]})
    return {"images": total, "top1_agreement": agree / total if total else None, "max_score_difference": max_diff,
            "disagreements": disagreements, "reference": "Paddle Inference (oneDNN off)"}
