"""Model files are checked at load time: checksum, missing yml, unknown op, label count, truncated ONNX; YAML is read
with libyaml to the pure-Python loader's values."""
from __future__ import annotations

import json

import pytest
import yaml
from helpers import REALDATA, tiny_bundle

from imgcls_onnx import Classifier
from imgcls_onnx.runtime import bundle
from imgcls_onnx.runtime.bundle import load_bundle, load_yaml
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


TRICKY_YML = """\
Global:
  model_name: "PP-LCNet_x1_0"
  flags: [yes, No, on, OFF, true, ~, null]
  numbers: [1, -2, 0x1F, 0o17, 1_000, 1.5e-3, .inf, -.Inf, .NaN, 190:20:30, 007]
  dates: [2026-12-07, 2001-12-14t21:59:43.10-05:00]
PreProcess:
  transform_ops: &ops
  - ResizeImage: {resize_short: 256, interpolation: null}
  - NormalizeImage:
      mean: [0.485, 0.456, 0.406]
      scale: 0.00392156862745098
      order: ''
  again: *ops
PostProcess:
  Topk:
    topk: 5
    label_list:
    - "tench, Tinca tinca"
    - 'dog''s toy'
    - 猫
    - "\\u00e9t\\u00e9 \\t tab"
    - |
      two
      lines
    - >-
      folded
      text
    - '0012'
    - 3.0
"""


def test_yaml_parses_as_the_pure_python_safe_loader_does():
    """load_yaml (libyaml's parser under PyYAML's safe constructor) gives the values yaml.SafeLoader (pure Python, the
    independent reading) gives: on a hand-written document of YAML 1.1's corner cases and on a 1000-label inference.yml
    written the way bundles are (real ImageNet labels)."""
    labels = (REALDATA / "imagenet_images" / "imagenet1k_label_list.txt").read_text(encoding="utf-8").splitlines()
    written = yaml.safe_dump({"PostProcess": {"Topk": {"topk": 5, "label_list": labels}}}, sort_keys=False,
                             allow_unicode=True)
    for text in (TRICKY_YML, written):
        expected = yaml.load(text, Loader=yaml.SafeLoader)
        got = load_yaml(text)
        assert repr(got) == repr(expected)  # repr: nan != nan, and 1 == 1.0 == True would hide a type change
    assert len(load_yaml(written)["PostProcess"]["Topk"]["label_list"]) == 1000


def test_yaml_uses_libyaml_where_pyyaml_has_it():
    """PyYAML's wheels (x86-64, aarch64) carry libyaml: a 1000-label inference.yml in 3 ms instead of 30, at every
    start-up. Under ./scripts/test libyaml must be there."""
    assert yaml.__with_libyaml__, "PyYAML without libyaml: install a PyYAML wheel (pip install --force pyyaml)"
    assert bundle._SAFE_LOADER is yaml.CSafeLoader
