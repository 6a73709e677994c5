"""Real PaddleOCR text-line classifier: legacy .pdmodel (which paddle2onnx 2.1.0 breaks) and its PIR copy."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from helpers import REALDATA, convert_ok, need, run_cli

TEXTLINE_YML = """Global:
  model_name: ch_ppocr_mobile_v2.0_cls
PreProcess:
  transform_ops:
  - ResizeImage:
      size: [192, 48]
  - NormalizeImage:
      mean: [0.5, 0.5, 0.5]
      std: [0.5, 0.5, 0.5]
      scale: 0.00392156862745098
      order: ''
  - ToCHWImage: null
PostProcess:
  Topk:
    topk: 2
    label_list: ['0', '180']
"""


def textlines():
    folder = need(REALDATA / "orientation_images")
    files = sorted(folder.glob("textline_orientation_test_*.png"))
    assert len(files) == 4
    images = [cv2.imread(str(f)) for f in files]
    truth = ["0" if f.stem.split("_")[-2] == "0" else "180" for f in files]
    flipped = ["180" if t == "0" else "0" for t in truth]
    return images + [cv2.rotate(i, cv2.ROTATE_180) for i in images], truth + flipped, files


@pytest.fixture(scope="module")
def yml(tmp_path_factory):
    p = tmp_path_factory.mktemp("yml") / "inference.yml"
    p.write_text(TEXTLINE_YML)
    return p


def test_paddle2onnx_alone_gives_a_model_onnxruntime_rejects(tmp_path):
    """The bug we repair is real: the raw paddle2onnx output does not load."""
    from helpers import require_convert_extra

    require_convert_extra()
    src = need(REALDATA / "ppocr_cls_paddle")
    from imgcls_onnx.converter.export import paddle_to_onnx

    out = tmp_path / "raw.onnx"
    paddle_to_onnx(src / "inference.pdmodel", src / "inference.pdiparams", out, 17)
    import onnxruntime as ort

    with pytest.raises(Exception, match="axis must be in"):
        ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])


@pytest.mark.convert
@pytest.mark.realdata
@pytest.mark.parametrize("folder", ["ppocr_cls_paddle", "ppocr_cls_pir_json"])
def test_real_textline_model_converts_and_matches(folder, yml, tmp_path):
    src = need(REALDATA / folder)
    reference_onnx = need(REALDATA / "ppocr_cls_onnx" / "ch_ppocr_mobile_v2.0_cls_infer.onnx")
    images, truth, files = textlines()
    out = tmp_path / "bundle"
    report = convert_ok(str(src), "--yml", str(yml), "--out", str(out), *sum((["--verify-images", str(f)] for f in files), []))
    assert report["repairs"] == 1
    assert report["parity"]["passed"] and report["parity"]["reference"] == "paddle-inference (oneDNN off)"
    assert report["parity"]["max_abs_error"] < 1e-4
    assert report["source"]["format"] == ("legacy-pdmodel" if folder == "ppocr_cls_paddle" else "pir-json")

    import onnxruntime as ort

    from imgcls_onnx import Classifier, load_image

    with Classifier.from_dir(out, device="cpu") as clf:
        results = list(clf.predict(images, batch_size=4))
        batch = clf.preprocess.batch([load_image(i) for i in images])
    assert [r.label_names[0] for r in results] == truth, "8/8 on the text lines and their 180-degree rotations"
    ref = ort.InferenceSession(str(reference_onnx), providers=["CPUExecutionProvider"])
    ours = ort.InferenceSession(str(out / "inference.onnx"), providers=["CPUExecutionProvider"])
    a = ours.run(None, {ours.get_inputs()[0].name: batch})[0]
    b = ref.run(None, {ref.get_inputs()[0].name: batch})[0]
    assert float(np.abs(a - b).max()) < 1e-5
    yml_out = (out / "inference.yml").read_text()
    assert "label_list" in yml_out and "'180'" in yml_out


@pytest.mark.convert
@pytest.mark.realdata
def test_folder_without_yml_needs_preprocessing(tmp_path):
    src = need(REALDATA / "ppocr_cls_paddle")
    proc = run_cli("convert", str(src), "--out", str(tmp_path / "x"))
    assert proc.returncode == 1
    assert "--yml" in proc.stderr and "--preset" in proc.stderr
    assert not (tmp_path / "x").exists()
