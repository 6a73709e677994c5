"""One model per family (the smallest variant) converts from its real ppcls architecture and passes parity."""
from __future__ import annotations

import json

import pytest
from helpers import convert_ok, structured_image

from imgcls_onnx.store.catalogue import load_zoo


def _size_mb(m) -> float:
    text = m.reference.size or "0 M"
    return float(text.split()[0]) * (1000 if "G" in text else 1)


def smallest_per_family():
    best = {}
    for m in load_zoo().models:
        if m.module != "image_classification":
            continue
        if m.family not in best or _size_mb(m) < _size_mb(best[m.family]):
            best[m.family] = m
    return sorted(best.values(), key=lambda m: m.family)


@pytest.mark.convert
@pytest.mark.slow
@pytest.mark.parametrize("spec", smallest_per_family(), ids=lambda m: m.name)
def test_family_converts_with_parity(spec, tmp_path):
    out = tmp_path / spec.name
    report = convert_ok(spec.name, "--random-init", "--seed", "0", "--out", str(out))
    parity = report["parity"]
    assert parity["passed"] is True and parity["compared"] == "logits" and parity["reference"] == "paddle-dygraph"
    assert parity["top1_agreement"] == 1.0
    # within the tolerance, or (measured against a float64 run) no farther from the exact result than
    # Paddle's own float32 run is, and never beyond 10x the tolerance
    assert parity["relative_error"] <= 1e-4 or (parity["within_float32_noise"] and parity["relative_error"] <= 1e-3)
    if parity["paddle_fp32_vs_fp64"] is not None:
        assert parity["onnxruntime_vs_fp64"] <= 2 * parity["paddle_fp32_vs_fp64"] + 1e-4
    assert parity["reference_std"] > 1.0, "random-init logits must spread (docs/conversion.md)"
    assert parity["input_dependence"] >= 100 * parity["max_abs_error"]
    assert report["output"] == "probabilities" and report["opset"] >= 17
    import onnx

    dims = [d.dim_param or d.dim_value for d in onnx.load(str(out / "inference.onnx")).graph.input[0].type.tensor_type.shape.dim]
    assert dims[0] == "N" and dims[1:] == [3, *spec.input_hw]  # a dynamic batch, read from the graph

    # the bundle is a PaddleX model folder that our runtime runs; the graph ends in Softmax
    from imgcls_onnx import Classifier

    assert sorted(p.name for p in out.iterdir()) == ["inference.onnx", "inference.yml", "manifest.json"]
    with Classifier.from_dir(out, device="cpu", threads=2) as clf:
        assert not clf.applies_softmax
        img = structured_image(300, 400, seed=1)[:, :, ::-1].copy()
        results = list(clf.predict([img, img], batch_size=2))
    assert results[0].class_ids == results[1].class_ids and len(results[0].class_ids) == 5
    assert 0 < sum(results[0].scores) <= 1.0 + 1e-4
    assert results[0].label_names[0] == load_zoo().get(spec.name).label_names()[results[0].class_ids[0]]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["producer"]["paddle2onnx"] == "2.1.0" and len(manifest["onnx"]["sha256"]) == 64


# --- parity recomputed outside the converter -----------------------------------------------------------------------
# The test above reads the converter's own parity report. Here the figures are recomputed for one family from the
# bundle's ONNX file (onnxruntime) and from Paddle (eager, in a child process) on the same inputs, with weights made
# by this test from ppcls directly (not by the converter's random init), and the report must agree with them.

RECOMPUTE_TOLERANCE = 1e-4  # this test's own bound on max|ort - paddle| / logit range


@pytest.mark.convert
@pytest.mark.slow
def test_parity_figures_recomputed_from_onnx_and_paddle(tmp_path):
    import numpy as np
    from helpers import require_convert_extra
    from helpers.paddle_models import lcnet_x0_25_paddle_logits, lcnet_x0_25_weights, onnx_logits_and_probs

    from imgcls_onnx.converter.verify import verification_batch

    require_convert_extra()
    weights = lcnet_x0_25_weights(tmp_path / "lcnet.pdparams")
    out = tmp_path / "bundle"
    report = convert_ok("PP-LCNet_x0_25", "--weights", str(weights), "--out", str(out))
    parity = report["parity"]

    # the converter's verification inputs (8 synthetic images, seed 0, the model's preprocessing), as its report says
    spec = load_zoo().get("PP-LCNet_x0_25")
    batch, names = verification_batch(spec.preprocess, (), n=8, seed=0)
    assert report["verification_inputs"] == names and batch.shape == (8, 3, 224, 224)
    paddle_logits = lcnet_x0_25_paddle_logits(weights, batch, tmp_path).astype(np.float64)
    ort_logits, ort_probs = onnx_logits_and_probs(out / "inference.onnx", batch)
    ort_logits = ort_logits.astype(np.float64)

    # our own verdict: onnxruntime on the bundle reproduces Paddle's logits and its Softmax is softmax(logits)
    assert paddle_logits.shape == ort_logits.shape == (8, 1000)
    max_abs = float(np.abs(ort_logits - paddle_logits).max())
    logit_range = float(paddle_logits.max() - paddle_logits.min())
    assert logit_range > 10 and len(set(paddle_logits.argmax(1).tolist())) > 1  # spread, input-dependent
    assert 0 < max_abs <= RECOMPUTE_TOLERANCE * logit_range, (max_abs, logit_range)
    assert (ort_logits.argmax(1) == paddle_logits.argmax(1)).all()
    e = np.exp(ort_logits - ort_logits.max(axis=1, keepdims=True))
    assert np.abs(ort_probs - e / e.sum(axis=1, keepdims=True)).max() < 1e-6

    # the report's figures are these figures (the range and std come from Paddle alone: equal to float32 rounding;
    # the error is the same measurement repeated, in another process: equal within a factor of 2)
    assert parity["reference"] == "paddle-dygraph" and parity["batch"] == 8
    assert parity["reference_range"] == pytest.approx(logit_range, rel=1e-5)
    assert parity["reference_std"] == pytest.approx(float(paddle_logits.std(axis=1).mean()), rel=1e-5)
    assert max_abs / 2 <= parity["max_abs_error"] <= 2 * max_abs, (parity["max_abs_error"], max_abs)
    assert max_abs / logit_range / 2 <= parity["relative_error"] <= 2 * max_abs / logit_range
    assert parity["top1_agreement"] == 1.0 and parity["passed"] is True
