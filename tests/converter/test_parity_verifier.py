"""The parity verdict itself, on hand-made outputs: every known-wrong conversion must fail, including the ones a
check on probabilities alone would let through (outputs that ignore the input, a saturated softmax)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("paddle", reason="the converter needs the convert extra")
from imgcls_onnx.converter.verify import compare  # noqa: E402 - after the extra check

RNG = np.random.default_rng(7)
LOGITS = RNG.normal(0, 3, (8, 10)).astype(np.float32)  # 8 inputs, 10 classes, input-dependent


def softmax(x):
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_a_faithful_conversion_passes():
    noisy = LOGITS + RNG.normal(0, 1e-6, LOGITS.shape).astype(np.float32)
    assert compare(LOGITS, noisy, "logits", "hand").passed
    assert compare(softmax(LOGITS), softmax(noisy), "probabilities", "hand", require_spread=False).passed


def test_output_that_ignores_its_input_fails():
    constant = np.repeat(LOGITS.mean(axis=0, keepdims=True), len(LOGITS), axis=0)
    assert not compare(LOGITS, constant, "logits", "hand").passed


def test_two_swapped_classes_fail():
    top = LOGITS.argmax(axis=1)[0]
    other = (top + 1) % LOGITS.shape[1]
    swapped = LOGITS.copy()
    swapped[:, [top, other]] = swapped[:, [other, top]]
    report = compare(LOGITS, swapped, "logits", "hand")
    assert not report.passed and report.top1_agreement < 1.0


def test_noise_above_tolerance_fails():
    noisy = LOGITS + RNG.normal(0, 1e-2, LOGITS.shape).astype(np.float32)
    report = compare(LOGITS, noisy, "logits", "hand", tolerance=1e-4)
    assert not report.passed and report.relative_error > 1e-4


@pytest.mark.parametrize("require_spread", [True, False])
def test_saturated_softmax_cannot_pass(require_spread):
    """Defect: a Softmax-ended graph whose output is the same one-hot row for every input was reported passed."""
    one_hot = np.zeros((8, 10), np.float32)
    one_hot[:, 3] = 1.0
    report = compare(one_hot, one_hot.copy(), "probabilities", "hand", require_spread=require_spread)
    assert report.input_dependence == 0.0 and report.distinct_top1 == 1 and report.depends_on_input is False
    assert report.passed is False


def test_nearly_constant_outputs_cannot_pass():
    base = np.repeat(LOGITS[:1], 8, axis=0)
    wiggle = base + RNG.normal(0, 1e-9, base.shape)
    assert not compare(wiggle, base, "logits", "hand", require_spread=False).passed


def test_paddle_agreement_breaks_a_top1_tie_as_the_runtime_does(tmp_path, monkeypatch):
    """#30: a Paddle output with an exact tie for the top-1 agrees with our Prediction of the same probabilities
    (the higher class id first), where np.argmax would have picked the lower id and reported a disagreement."""
    from types import SimpleNamespace

    from imgcls_onnx.converter import compare as cmp
    from imgcls_onnx.runtime.results import Prediction

    probs = np.array([[0.1, 0.4, 0.1, 0.4]], np.float32)
    monkeypatch.setattr(cmp, "_find_paddle_files", lambda d: (d / "inference.pdmodel", d / "inference.pdiparams"))
    monkeypatch.setattr(cmp, "paddle_inference_outputs", lambda model_file, params_file, batch: probs)
    monkeypatch.setattr(cmp, "load_image", lambda path: np.zeros((4, 4, 3), np.uint8))
    model = SimpleNamespace(preprocess=lambda im: np.zeros((3, 4, 4), np.float32),
                            model_input=lambda im: np.zeros((3, 4, 4), np.float32), run=lambda batch: probs)
    ours = Prediction(index=0, input_path="a.jpg", class_ids=[3, 1], scores=[0.4, 0.4], label_names=["3", "1"])
    out = cmp.compare_with_paddle(tmp_path, model, ["a.jpg"], [ours])
    assert (out["top1_agreement"], out["disagreements"]) == (1.0, [])
