"""Model files are checked at load time: checksum, missing yml, unknown op, label count, truncated ONNX."""
from __future__ import annotations

import json

import pytest
from helpers import tiny_bundle

from imgcls_onnx import Classifier
from imgcls_onnx.runtime.bundle import load_bundle
from imgcls_onnx.runtime.errors import BundleError, ChecksumError


def test_written_bundle_loads_and_records_sha(tmp_path):
    d = tiny_bundle(tmp_path / "m")
    b = load_bundle(d)
    m = json.loads((d / "manifest.json").read_text())
    assert m["onnx"]["sha256"] and len(m["onnx"]["sha256"]) == 64
    assert b.config.label_list[0] == "class_0"
    assert not list(tmp_path.glob(".m.*")), "temporary folders left behind"


def test_tampered_onnx_is_a_checksum_error(tmp_path):
    d = tiny_bundle(tmp_path / "m")
    data = bytearray((d / "inference.onnx").read_bytes())
    data[-10] ^= 0xFF
    (d / "inference.onnx").write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="sha256"):
        Classifier.from_dir(d, device="cpu")


def test_truncated_onnx_is_a_clear_error(tmp_path):
    d = tiny_bundle(tmp_path / "m")
    (d / "manifest.json").unlink()
    data = (d / "inference.onnx").read_bytes()
    (d / "inference.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match="inference.onnx"):
        Classifier.from_dir(d, device="cpu")


def test_missing_yml(tmp_path):
    d = tiny_bundle(tmp_path / "m")
    (d / "inference.yml").unlink()
    with pytest.raises(BundleError, match="needs inference.yml"):
        load_bundle(d)


def test_unknown_op_in_yml(tmp_path):
    d = tiny_bundle(tmp_path / "m")
    text = (d / "inference.yml").read_text().replace("ToCHWImage", "ToHWCImage")
    (d / "inference.yml").write_text(text)
    with pytest.raises(BundleError, match="unknown preprocessing op 'ToHWCImage'"):
        load_bundle(d)


def test_label_count_mismatch(tmp_path):
    d = tiny_bundle(tmp_path / "m", num_classes=5)
    text = (d / "inference.yml").read_text().replace("  - class_4\n", "")
    (d / "inference.yml").write_text(text)
    with pytest.raises(BundleError, match="label_list has 4 names but the model outputs 5"):
        Classifier.from_dir(d, device="cpu")


def test_paddle_folder_hint(tmp_path):
    (tmp_path / "inference.json").write_text("{}")
    with pytest.raises(BundleError, match="imgcls-onnx convert"):
        load_bundle(tmp_path)


def test_softmax_detected_from_graph(tmp_path):
    from helpers import structured_image

    with_sm = Classifier.from_dir(tiny_bundle(tmp_path / "a", softmax=True, seed=1), device="cpu")
    without = Classifier.from_dir(tiny_bundle(tmp_path / "b", softmax=False, seed=1), device="cpu")
    assert not with_sm.applies_softmax and without.applies_softmax
    img = structured_image(40, 40)[:, :, ::-1].copy()
    a, b = with_sm.predict_one(img), without.predict_one(img)
    assert a.class_ids == b.class_ids
    assert a.scores == pytest.approx(b.scores, abs=2e-5)


@pytest.mark.parametrize("patch, needle", [
    ({"format": "imgcls-onnx-bundle/2"}, "newer imgcls-onnx"),
    ({"format": "something-else/1"}, "unknown format"),
    ({"output": "probs"}, "'output' must be"),
    ({"weights": "pretrained"}, "'weights' must be"),
])
def test_manifest_is_typed_and_its_format_checked(tmp_path, patch, needle):
    import json as _json

    from helpers import tiny_bundle

    from imgcls_onnx.runtime.bundle import load_bundle
    from imgcls_onnx.runtime.errors import BundleError

    model = tiny_bundle(tmp_path / "m")
    manifest = _json.loads((model / "manifest.json").read_text())
    manifest.update(patch)
    (model / "manifest.json").write_text(_json.dumps(manifest))
    with pytest.raises(BundleError, match=needle):
        load_bundle(model)
