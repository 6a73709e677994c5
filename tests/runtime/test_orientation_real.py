"""The real PULC text-image orientation model (PP-LCNet_x1_0) on the real document photos."""
from __future__ import annotations

import cv2
import pytest

from conftest import REALDATA, need

DOCS = REALDATA / "orientation_images"


@pytest.mark.realdata
def test_real_documents_and_their_rotations(orientation_classifier):
    need(DOCS)
    rot0 = cv2.imread(str(DOCS / "img_rot0_demo.jpg"))
    rot180 = cv2.imread(str(DOCS / "img_rot180_demo.jpg"))
    cases = [
        (str(DOCS / "img_rot0_demo.jpg"), "0"),
        (str(DOCS / "img_rot180_demo.jpg"), "180"),
        (cv2.rotate(rot0, cv2.ROTATE_90_CLOCKWISE), "90"),
        (cv2.rotate(rot0, cv2.ROTATE_90_COUNTERCLOCKWISE), "270"),
        (cv2.rotate(rot0, cv2.ROTATE_180), "180"),
        (cv2.rotate(rot180, cv2.ROTATE_180), "0"),
        (cv2.rotate(rot180, cv2.ROTATE_90_CLOCKWISE), "270"),
        (cv2.rotate(rot180, cv2.ROTATE_90_COUNTERCLOCKWISE), "90"),
    ]
    results = list(orientation_classifier.predict([c[0] for c in cases], batch_size=3))
    assert [r.label_names[0] for r in results] == [c[1] for c in cases]
    assert all(r.scores[0] > 0.5 for r in results)
    # scores are probabilities: the model ends in Softmax and we must not apply another one
    assert not orientation_classifier.applies_softmax
    for r in results:
        assert sum(r.scores) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.realdata
def test_agrees_with_raw_onnxruntime(orientation_classifier, orientation_bundle):
    """End to end equals onnxruntime on our preprocessed tensor (no hidden transformation in between)."""
    import numpy as np
    import onnxruntime as ort

    from imgcls_onnx.runtime.images import load_image

    need(DOCS)
    path = DOCS / "img_rot0_demo.jpg"
    x = orientation_classifier.preprocess.batch([load_image(path)])
    sess = ort.InferenceSession(str(orientation_bundle / "inference.onnx"), providers=["CPUExecutionProvider"])
    raw = sess.run(None, {sess.get_inputs()[0].name: x})[0][0]
    res = orientation_classifier.predict_one(str(path))
    assert res.class_ids[0] == int(np.argmax(raw))
    assert res.scores[0] == pytest.approx(round(float(raw.max()), 5), abs=1e-5)
