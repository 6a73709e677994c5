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

from .runtime.classifier import Classifier
from .runtime.manifest import resolve_model
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

    def close(self) -> None:
        self.classifier.close()


def create_model(
    model_name: "str | os.PathLike[str]",
    model_dir: "str | os.PathLike[str] | None" = None,
    device: str | None = None,
    topk: int | None = None,
    **kwargs: Any,
) -> Model:
    """Load a zoo model (converted locally) or a model folder. ``device``: 'cpu', 'gpu', 'gpu:N' or None (auto)."""
    directory = resolve_model(model_dir if model_dir is not None else model_name)
    kwargs.pop("engine", None)  # PaddleX's engine switch: here it is always onnxruntime
    return Model(Classifier.from_dir(directory, device=device or "auto", topk=topk, **kwargs))
