"""OnnxModel over a fake session (the injection point, no onnxruntime run): top-k order, scores, labels and the
label fallback, against values written by hand."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from imgcls_onnx.runtime.bundle import BundleConfig
from imgcls_onnx.runtime.errors import BundleError
from imgcls_onnx.runtime.model import OnnxModel
from imgcls_onnx.runtime.transforms import PreprocessSpec

LOGITS = [1.0, 3.0, 0.0, 2.0]
# softmax by hand: e^1, e^3, e^0, e^2 = 2.71828, 20.08554, 1, 7.38906; sum 31.19288
# -> 0.08714, 0.64391, 0.03206, 0.23688 (rounded to 5 places)


class FakeSession:
    """What OnnxModel reads of an onnxruntime session; every row of a batch answers LOGITS."""

    def __init__(self, classes="static"):
        self.runs = 0
        self.classes = 4 if classes == "static" else "C"

    def get_inputs(self):
        return [SimpleNamespace(name="x", type="tensor(float)", shape=["N", 3, 32, 32])]

    def get_outputs(self):
        return [SimpleNamespace(name="out", shape=["N", self.classes])]

    def get_providers(self):
        return ["CPUExecutionProvider"]

    def run(self, names, feeds, run_options=None):
        assert names == ["out"] and list(feeds) == ["x"]
        self.runs += 1
        return [np.tile(np.asarray(LOGITS, np.float32), (len(feeds["x"]), 1))]


def fake_bundle(labels):
    config = BundleConfig("fake", PreprocessSpec.imagenet(resize_short=36, crop=32), 3, labels)
    # logits recorded in the manifest, so nothing reads a graph file
    return SimpleNamespace(config=config, onnx_path=Path("fake.onnx"), directory=Path("fake"),
                           output_is_probabilities=False)


def build(labels, classes="static"):
    session = FakeSession(classes)
    model = OnnxModel(fake_bundle(labels), "cpu", session_factory=lambda path, device, options: session)
    return model, session


def test_top_k_scores_and_labels_from_written_logits():
    model, session = build(("cat", "dog", "eel", "fox"))
    assert (model.num_classes, model.applies_softmax, model.fused_input, model.topk) == (4, True, False, 3)
    probs = model.run(np.zeros((2, 3, 32, 32), np.float32))
    assert session.runs == 1 and probs.shape == (2, 4)
    res = model.prediction(probs[0], model.clamp_topk(None), index=5, input_path="a.jpg")
    assert res.class_ids == [1, 3, 0]
    assert res.scores == pytest.approx([0.64391, 0.23688, 0.08714], abs=1e-6)
    assert res.label_names == ["dog", "fox", "cat"]
    assert (res.index, res.input_path) == (5, "a.jpg")
    assert model.clamp_topk(10) == 4  # never more than the classes
    with pytest.raises(ValueError, match="topk"):
        model.clamp_topk(-1)


def test_label_fallback_is_the_class_id_as_text():
    no_labels, _ = build(None)
    res = no_labels.prediction(no_labels.run(np.zeros((1, 3, 32, 32), np.float32))[0], 4)
    assert res.class_ids == [1, 3, 0, 2] and res.label_names == ["1", "3", "0", "2"]
    # a graph whose class count is not fixed: labels are not checked when built; a class past them gets its id
    few, _ = build(("cat", "dog", "eel"), classes="dynamic")
    res = few.prediction(few.run(np.zeros((1, 3, 32, 32), np.float32))[0], 4)
    assert res.label_names == ["dog", "3", "cat", "eel"]


def test_checked_once_when_built():
    with pytest.raises(BundleError, match="label_list has 3 names but the model outputs 4 classes"):
        build(("cat", "dog", "eel"))
