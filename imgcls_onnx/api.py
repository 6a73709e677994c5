"""PaddleX-style API: ``create_model(name_or_dir).predict(input, batch_size=1)``.

Switching from PaddleX is one import::

    # from paddlex import create_model
    from imgcls_onnx import create_model

    model = create_model("PP-LCNet_x1_0")          # or a model folder
    for res in model.predict("photo.jpg", batch_size=1):
        res.print(); res.save_to_json("out/"); res.save_to_img("out/")
"""
from __future__ import annotations

import os
from typing import Any, Iterator

from .hub import obtain_model
from .runtime.classifier import Classifier
from .runtime.results import Prediction


class Model:
    """What ``create_model`` returns: a Classifier behind PaddleX's predictor interface."""

    def __init__(self, classifier: Classifier):
        self.classifier = classifier
        self.model_name = classifier.bundle.name

    def predict(self, input: Any, batch_size: int = 1, topk: int | None = None, **kwargs: Any) -> Iterator[Prediction]:
        """Yield one result per input (path, folder, glob, list, bytes, BGR array, PIL image)."""
        return self.classifier.predict(input, batch_size=batch_size, topk=topk, keep_images=True, **kwargs)

    __call__ = predict

    def evaluate(self, dataset: "str | os.PathLike[str]", split: str = "val", batch_size: int | None = None):
        """Accuracy on a PaddleX ClsDataset split: an EvalResult (top1, top5, per-class, confusion matrix)."""
        from .datasets import evaluate

        return evaluate(self.classifier, dataset, split, batch_size or self.classifier.batch_size)[0]

    def close(self) -> None:
        self.classifier.close()


def create_model(
    model_name: "str | os.PathLike[str]",
    model_dir: "str | os.PathLike[str] | None" = None,
    device: str | None = None,
    topk: int | None = None,
    **kwargs: Any,
) -> Model:
    """Load a zoo model, a model folder or a bundle archive (file or URL). A zoo model with no bundle in the cache is
    fetched from PaddleX and converted once when the converter is installed (a notice goes to stderr), as PaddleX's
    ``create_model`` downloads it. ``device``: 'cpu', 'gpu', 'gpu:N' or None (auto)."""
    directory = obtain_model(model_dir if model_dir is not None else model_name)
    kwargs.pop("engine", None)  # PaddleX's engine switch: here it is always onnxruntime
    return Model(Classifier.from_dir(directory, device=device or "auto", topk=topk, **kwargs))
