"""PaddleX result compatibility: JSON keys, top-k order, rounding, save_to_json / save_to_img naming."""
from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import structured_image, tiny_bundle, tiny_onnx_model, write_jpeg
from PIL import Image

from imgcls_onnx.runtime.postprocess import softmax, top_k
from imgcls_onnx.runtime.results import Prediction


def test_topk_order_matches_paddlex_argsort_and_ties_go_high():
    probs = np.array([[0.1, 0.3, 0.3, 0.05, 0.25]], np.float32)
    ids, scores = top_k(probs, 3)
    assert ids.tolist() == probs.argsort(axis=1, kind="stable")[:, -3:][:, ::-1].tolist()  # (tests/runtime/test_ties.py)
    assert ids.tolist() == [[2, 1, 4]]
    assert scores[0].tolist() == pytest.approx([0.3, 0.3, 0.25])


def test_scores_rounded_to_5_decimals():
    probs = np.array([[0.123456789, 0.876543211]], np.float32)
    ids, scores = top_k(probs, 2)
    assert scores.dtype == np.float32
    assert scores[0].tolist() == [float(np.float32(0.87654)), float(np.float32(0.12346))]


def test_softmax_stable():
    p = softmax(np.array([[1000.0, 1000.0, -1000.0]], np.float32))
    assert np.allclose(p, [[0.5, 0.5, 0.0]])


def test_result_json_schema(tmp_path):
    clf_dir = tiny_bundle(tmp_path / "m", num_classes=7)
    from imgcls_onnx import create_model

    img = write_jpeg(tmp_path / "in" / "photo.jpg", structured_image(60, 80))
    model = create_model(str(clf_dir), device="cpu")
    (res,) = list(model.predict(str(img)))
    j = res.json
    assert set(j) == {"res"}
    assert list(j["res"]) == ["input_path", "page_index", "class_ids", "scores", "label_names"]
    assert j["res"]["input_path"] == str(img) and j["res"]["page_index"] is None
    assert len(j["res"]["class_ids"]) == 5 and all(isinstance(i, int) for i in j["res"]["class_ids"])
    # PaddleX: float32 rounded to 5 places, widened to double (0.07301 -> 0.07300999760627747)
    assert all(float(np.float32(round(s, 5))) == s for s in j["res"]["scores"])
    assert j["res"]["scores"] == sorted(j["res"]["scores"], reverse=True)
    assert j["res"]["label_names"] == [f"class_{i}" for i in j["res"]["class_ids"]]
    # print() writes the same JSON
    assert json.loads(str(res)) == j

    out = res.save_to_json(tmp_path / "out")
    assert out.name == "photo_res.json" and json.loads(out.read_text()) == j["res"]  # PaddleX writes the inner object
    explicit = res.save_to_json(tmp_path / "x" / "named.json")
    assert explicit.name == "named.json" and explicit.exists()

    img_out = res.save_to_img(tmp_path / "out")
    assert img_out.name == "photo_res.jpg"
    drawn = np.asarray(Image.open(img_out))
    assert drawn.shape == (60, 80, 3)
    original = np.asarray(Image.open(img))
    # the label box changed the top-left corner and left the bottom-right alone (JPEG noise aside)
    assert np.abs(drawn[3:10, 3:20].astype(int) - original[3:10, 3:20]).mean() > 20
    assert np.abs(drawn[-10:, -10:].astype(int) - original[-10:, -10:]).mean() < 8


def test_labels_missing_fall_back_to_ids(tmp_path):
    from imgcls_onnx import Classifier

    d = tiny_bundle(tmp_path / "m", num_classes=4, labels=False)
    with Classifier.from_dir(d, device="cpu") as clf:
        res = clf.predict_one(structured_image(40, 40)[:, :, ::-1].copy())
    assert res.label_names == [str(i) for i in res.class_ids]
    assert res.input_path is None


def test_failed_result_json_names_error():
    from imgcls_onnx.runtime.errors import ImageDecodeError

    r = Prediction(index=3, input_path="a.jpg", error=ImageDecodeError("'a.jpg'", "truncated"))
    assert r.json == {"res": {"input_path": "a.jpg", "page_index": None,
                              "error": {"type": "ImageDecodeError", "message": "cannot load 'a.jpg': truncated"}}}
    assert not r.ok
    with pytest.raises(ValueError):
        r.to_img()


# hand-written non-ASCII labels and their escapes (json's \uXXXX form, written out by hand)
CHINESE_LABELS = ("猫", "狗", "汽车", "飞机", "船")
ESCAPED = {"猫": "\\u732b", "狗": "\\u72d7", "汽车": "\\u6c7d\\u8f66", "飞机": "\\u98de\\u673a", "船": "\\u8239"}


def test_save_to_json_ensure_ascii_with_chinese_labels(tmp_path):
    """PaddleX's save_to_json(ensure_ascii=...): True writes \\uXXXX escapes (pure ASCII bytes), False (the default)
    raw UTF-8. Expected text from the json stdlib on values built by the test."""
    from imgcls_onnx import create_model
    from imgcls_onnx.runtime.bundle import BundleConfig, write_bundle
    from imgcls_onnx.runtime.transforms import PreprocessSpec

    onnx_path = tiny_onnx_model(tmp_path / "src.onnx", num_classes=5, size=32)
    config = BundleConfig("tiny_zh", PreprocessSpec.imagenet(resize_short=36, crop=32), 5, CHINESE_LABELS)
    bundle = write_bundle(tmp_path / "tiny_zh", onnx_path, config)
    img = write_jpeg(tmp_path / "in" / "照片.jpg", structured_image(60, 80))
    with create_model(str(bundle), device="cpu") as model:
        (res,) = list(model.predict(str(img)))
    ids = list(res["class_ids"])
    assert sorted(ids) == [0, 1, 2, 3, 4]
    expected = {"input_path": str(img), "page_index": None, "class_ids": ids, "scores": list(res["scores"]),
                "label_names": [CHINESE_LABELS[i] for i in ids]}

    escaped = res.save_to_json(tmp_path / "ascii", ensure_ascii=True)
    data = escaped.read_bytes()
    assert escaped.name == "照片_res.json"
    assert data.isascii() and "猫".encode() not in data
    assert data.decode("ascii") == json.dumps(expected, indent=4, ensure_ascii=True) + "\n"
    assert ESCAPED[CHINESE_LABELS[ids[0]]] in data.decode("ascii")
    assert "\\u7167\\u7247.jpg" in data.decode("ascii")  # the file name 照片 in the input path, escaped too

    for kwargs in ({"ensure_ascii": False}, {}):  # False is PaddleX's default
        raw = res.save_to_json(tmp_path / f"utf8{len(kwargs)}", indent=2, **kwargs).read_bytes()
        assert raw.decode("utf-8") == json.dumps(expected, indent=2, ensure_ascii=False) + "\n"
        assert "猫".encode("utf-8") in raw and b"\\u" not in raw
        assert json.loads(raw) == json.loads(data) == expected
