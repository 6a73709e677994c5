"""Softmax (only when the graph does not end in one) and PaddleX's top-k order, with one order for ties."""
from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    x = np.asarray(logits, dtype=np.float32)
    x = x - x.max(axis=-1, keepdims=True)
    np.exp(x, out=x)
    x /= x.sum(axis=-1, keepdims=True)
    return x


def top_k(probs: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` highest of each row, highest first, and their scores rounded to 5 places (as PaddleX prints them).

    Among exactly equal scores the **higher class id comes first**: PaddleX's ``argsort(axis=1)[:, -k:][:, ::-1]``
    with a *stable* sort, and what ``imgcls.js`` does. PaddleX's own argsort is not stable (numpy's default sort:
    x86-simd-sort on x86-64, introsort on aarch64), so its order among ties depends on the CPU; ours does not
    (docs/usage.md). A tie at the k-th place keeps the higher ids. Linear in the class count for small ``k``; ``k``
    larger than the class count gives every class."""
    p = np.asarray(probs)
    if p.ndim != 2:
        raise ValueError(f"top_k takes a (batch, classes) array, got shape {p.shape}")
    k = max(0, min(int(k), p.shape[1]))
    if (0 < k and k * _PARTITION_BELOW < p.shape[1] and p.shape[0] and np.issubdtype(p.dtype, np.floating)
            and not np.isnan(p).any()):
        ids = _top_k_partitioned(p, k)
    else:
        ids = _top_k_sorted(p, k)
    scores = np.around(np.take_along_axis(p, ids.astype(np.intp), axis=1), decimals=5)
    return ids, scores


_PARTITION_BELOW = 4  # k < classes / 4: find the k-th value in linear time and sort only the candidates


def _top_k_sorted(p: np.ndarray, k: int) -> np.ndarray:
    """PaddleX's expression with a stable sort: ties ascending by id, then reversed (NaN counts as the highest)."""
    return np.argsort(p, axis=1, kind="stable")[:, ::-1][:, :k].astype(np.int32)


def _top_k_partitioned(p: np.ndarray, k: int) -> np.ndarray:
    """The same order in O(classes + candidates log candidates) per row: the k-th highest value by partition, every
    id whose score is at least that value as a candidate (ties at the boundary included), the candidates ordered by
    (-score, -id), the first k kept."""
    n, c = p.shape
    kth = np.partition(p, c - k, axis=1)[:, c - k]
    rows, cols = np.nonzero(p >= kth[:, None])  # row-major: rows ascending, ids ascending within a row
    order = np.lexsort((-cols, -p[rows, cols], rows))  # last key first: by row, then score down, then id down
    cols = cols[order]
    starts = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=n))[:-1]))
    return cols[starts[:, None] + np.arange(k)].astype(np.int32)


def label_name(labels, class_id: int) -> str:
    """The one label rule: the bundle's name for ``class_id``, or the id as text when there are no labels (or too
    few)."""
    return labels[class_id] if labels is not None and class_id < len(labels) else str(class_id)
