"""evaluate: top-1/top-5, per-class accuracy, confusion matrix, misclassified and unreadable images of a model on
a dataset split."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..runtime.defaults import BATCH_SIZE
from ..runtime.results import Prediction
from .errors import DatasetError
from .read import Dataset, read_dataset

DENSE_JSON_CLASSES = 100  # evaluate_result.json keeps the dense confusion matrix up to this many classes


@dataclass
class EvalResult:
    split: str
    num_images: int
    num_unreadable: int
    top1: float
    top5: float
    per_class_accuracy: dict[str, float | None]
    confusion_matrix: list[list[int]]
    misclassified: list[dict[str, Any]]
    unreadable: list[dict[str, Any]]
    seconds: float

    def to_json(self, labels: dict[int, str]) -> dict[str, Any]:
        return {
            "metric": {f"{self.split}.top1": self.top1, f"{self.split}.top5": self.top5},
            "split": self.split,
            "num_images": self.num_images,
            "num_unreadable": self.num_unreadable,
            "per_class_accuracy": self.per_class_accuracy,
            "labels": {str(k): v for k, v in sorted(labels.items())},
            **({"confusion_matrix": self.confusion_matrix} if len(self.confusion_matrix) <= DENSE_JSON_CLASSES
               else {}),
            "confusion_sparse": [[i, j, int(c)] for i, row in enumerate(self.confusion_matrix)
                                 for j, c in enumerate(row) if c],
            "misclassified": self.misclassified,
            "unreadable": self.unreadable,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class EvaluationResult:
    """What ``evaluate`` returns: the scores, the dataset they were computed on (its labels name the classes in
    ``metrics.to_json``), and one prediction per image of the split in list order (for --compare-paddle)."""

    metrics: EvalResult
    dataset: Dataset
    predictions: list[Prediction]


def evaluate(classifier, root: "str | os.PathLike[str]", split: str = "val", batch_size: int = BATCH_SIZE,
             progress: Callable[[int, int], None] | None = None,
             force: bool = False) -> EvaluationResult:
    """Top-1/top-5, per-class accuracy, confusion matrix, misclassified and unreadable files.

    Refuses (DatasetError) a model whose class count differs from the label list unless ``force``."""
    ds = read_dataset(root)
    model_classes = getattr(classifier, "num_classes", None)
    if model_classes is not None and model_classes != ds.num_classes and not force:
        raise DatasetError(
            f"the model has {model_classes} classes but {root}/label.txt lists {ds.num_classes}: its class ids would "
            f"not mean the dataset's labels (an ImageNet model on a 4-class dataset scores 0). Evaluate a model "
            f"trained on this label list, or pass --force if the ids do match")
    rows = ds.samples.get(split)
    if rows is None:
        raise DatasetError(f"{split}.txt is missing in {str(root)!r}")
    n = ds.num_classes
    confusion = np.zeros((n, n), dtype=np.int64)
    top1 = top5 = evaluated = 0
    misclassified, unreadable, predictions = [], [], []
    start = time.perf_counter()
    paths = [str(ds.image_path(s)) for s in rows]
    for i, (s, res) in enumerate(zip(rows, classifier.predict(paths, batch_size=batch_size, topk=min(5, n))), 1):
        if progress:
            progress(i, len(rows))
        predictions.append(res)
        if not res.ok:
            unreadable.append({"image": s.rel_path, "line": s.line, "error": str(res.error)})
            continue
        evaluated += 1
        pred = res.class_ids[0]
        if 0 <= pred < n:
            confusion[s.label, pred] += 1
        top1 += pred == s.label
        top5 += s.label in res.class_ids[:5]
        if pred != s.label:
            misclassified.append({"image": s.rel_path, "label": s.label, "predicted": pred,
                                  "score": res.scores[0], "label_name": ds.labels.get(s.label),
                                  "predicted_name": res.label_names[0]})
    per_class = {}
    for idx, name in sorted(ds.labels.items()):
        total = int(confusion[idx].sum())
        per_class[f"{idx} {name}"] = round(float(confusion[idx, idx]) / total, 6) if total else None
    metrics = EvalResult(split, len(rows), len(unreadable), round(top1 / evaluated, 6) if evaluated else 0.0,
                        round(top5 / evaluated, 6) if evaluated else 0.0, per_class, confusion.tolist(),
                        misclassified, unreadable, time.perf_counter() - start)
    return EvaluationResult(metrics, ds, predictions)
