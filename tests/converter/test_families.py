"""One model per family (the smallest variant) converts from its real ppcls architecture and passes parity."""
from __future__ import annotations

import json

import pytest
from conftest import convert_ok, structured_image

from imgcls_onnx.runtime.zoo import load_zoo


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
    assert report["input"]["shape"][0] == "N" and report["input"]["shape"][2:] == list(spec.input_hw)

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
