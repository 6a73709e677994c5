"""Softmax (only when the graph does not end in one) and PaddleX's top-k order."""
from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    x = np.asarray(logits, dtype=np.float32)
    x = x - x.max(axis=-1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=-1, keepdims=True)
    return x


def top_k(probs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """PaddleX's ``argsort(axis=1)[:, -k:][:, ::-1]`` (ties go to the higher index) and scores rounded to 5 places."""
    ids = probs.argsort(axis=1)[:, -k:][:, ::-1].astype(np.int32)
    scores = np.around(np.take_along_axis(probs, ids.astype(np.intp), axis=1), decimals=5)
    return ids, scores


def label_name(labels, class_id: int) -> str:
    """The one label rule: the bundle's name for ``class_id``, or the id as text when there are no labels (or too
    few)."""
    return labels[class_id] if labels is not None and class_id < len(labels) else str(class_id)
