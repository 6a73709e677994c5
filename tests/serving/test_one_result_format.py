"""One result, one format: a Ray row, the server's categories and a Prediction's JSON are views of the same
Prediction, and agree (values written by hand)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="serving needs the serve extra")

from imgcls_onnx import ray as ray_jobs  # noqa: E402
from imgcls_onnx.runtime.errors import ImageLoadError  # noqa: E402
from imgcls_onnx.runtime.results import Prediction, error_row  # noqa: E402

RES = Prediction(index=0, input_path="a.jpg", class_ids=[1, 3], scores=[0.64391, 0.23688], label_names=["dog", "fox"])


def test_row_categories_and_json_agree():
    assert RES.json == {"res": {"input_path": "a.jpg", "page_index": None, "class_ids": [1, 3],
                                "scores": [0.64391, 0.23688], "label_names": ["dog", "fox"]}}
    assert RES.to_row() == {"input_path": "a.jpg", "class_ids": [1, 3], "scores": [0.64391, 0.23688],
                            "label_names": ["dog", "fox"], "error": None}
    assert RES.categories() == [{"id": 1, "name": "dog", "score": 0.64391}, {"id": 3, "name": "fox", "score": 0.23688}]
    assert RES.categories(1) == [{"id": 1, "name": "dog", "score": 0.64391}]
    assert ray_jobs.row_to_json(RES.to_row()) == RES.json["res"]  # the Ray CLI prints what predict prints


def test_serving_categories_come_from_the_models_prediction():
    from types import SimpleNamespace

    from imgcls_onnx.serving.handlers import _categories

    class Model:  # the OnnxModel's top-k and prediction, as the server calls them
        topk = 2

        @staticmethod
        def prediction(probs, k):
            assert k == 2 and list(probs) == [0.1, 0.6, 0.0, 0.3]
            return RES

    state = SimpleNamespace(model=Model())
    assert _categories(state, np.array([0.1, 0.6, 0.0, 0.3]), None) == RES.categories()


def test_a_failed_input_agrees_too():
    failed = Prediction.failed("b.jpg", ImageLoadError("b.jpg", "truncated"))
    message = "cannot load b.jpg: truncated"
    assert failed.json == {"res": {"input_path": "b.jpg", "page_index": None,
                                   "error": {"type": "ImageLoadError", "message": message}}}
    row = {"input_path": "b.jpg", "class_ids": [], "scores": [], "label_names": [], "error": message}
    assert failed.to_row() == row == error_row("b.jpg", "truncated")
    assert ray_jobs.row_to_json(row) == failed.json["res"]
    assert failed.categories() == []
