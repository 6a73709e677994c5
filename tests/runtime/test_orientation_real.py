"""The real PULC text-image orientation model (PP-LCNet_x1_0) on the real document photos."""
from __future__ import annotations

import cv2
import pytest
from helpers import REALDATA, need

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


@pytest.mark.realdata
def test_fast_decode_keeps_the_real_model_right(orientation_bundle, tmp_path):
    """--fast-decode on real weights: the document photos and their rotations, enlarged to camera-like sizes (the
    photos here are under 512 px, where fast decoding changes nothing) and saved as JPEG, are still 8/8."""
    import numpy as np

    from imgcls_onnx import Classifier

    need(DOCS)
    rot0 = cv2.imread(str(DOCS / "img_rot0_demo.jpg"))
    rot180 = cv2.imread(str(DOCS / "img_rot180_demo.jpg"))
    cases = [(rot0, "0"), (rot180, "180"), (cv2.rotate(rot0, cv2.ROTATE_90_CLOCKWISE), "90"),
             (cv2.rotate(rot0, cv2.ROTATE_90_COUNTERCLOCKWISE), "270"), (cv2.rotate(rot0, cv2.ROTATE_180), "180"),
             (cv2.rotate(rot180, cv2.ROTATE_180), "0"), (cv2.rotate(rot180, cv2.ROTATE_90_CLOCKWISE), "270"),
             (cv2.rotate(rot180, cv2.ROTATE_90_COUNTERCLOCKWISE), "90")]
    paths = []
    for i, (img, _) in enumerate(cases):
        scale = (2.3, 4.4)[i % 2]  # reduced 2x and 4x by the decoder
        big = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        path = tmp_path / f"doc{i}.jpg"
        cv2.imwrite(str(path), big, [cv2.IMWRITE_JPEG_QUALITY, 92])
        paths.append(str(path))
    runs = {}
    for fast in (False, True):
        with Classifier.from_dir(orientation_bundle, device="cpu", threads=2, fast_decode=fast) as clf:
            runs[fast] = list(clf.predict(paths, batch_size=4))
    for fast, results in runs.items():
        assert [r.label_names[0] for r in results] == [c[1] for c in cases], f"fast_decode={fast}"
    exact, fast = np.array([r.scores[0] for r in runs[False]]), np.array([r.scores[0] for r in runs[True]])
    assert not np.array_equal(exact, fast)  # the decoder really took the reduced path
    assert float(np.abs(exact - fast).max()) < 0.1, np.abs(exact - fast)
