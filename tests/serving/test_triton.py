"""export-triton: the config.pbtxt parses against Triton's own schema; the client's request body is right."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import structured_image, tiny_bundle, write_jpeg

from imgcls_onnx.cli import cli


def test_exported_repository_parses_against_triton_schema(tmp_path):
    mc = pytest.importorskip("tritonclient.grpc.model_config_pb2", reason="needs tritonclient (test extra)")
    from google.protobuf import text_format

    model = tiny_bundle(tmp_path / "m", num_classes=6, size=32)
    r = CliRunner().invoke(cli, ["export-triton", "-m", str(model), "--out", str(tmp_path / "repo"), "--name",
                                 "tiny_cls", "--max-batch-size", "16", "--instances", "2"])
    assert r.exit_code == 0, r.output
    target = tmp_path / "repo" / "tiny_cls"
    assert (target / "1" / "model.onnx").read_bytes() == (model / "inference.onnx").read_bytes()
    config = text_format.Parse((target / "config.pbtxt").read_text(), mc.ModelConfig())
    assert config.name == "tiny_cls" and config.platform == "onnxruntime_onnx" and config.max_batch_size == 16
    assert list(config.input[0].dims) == [3, 32, 32] and config.input[0].data_type == mc.TYPE_FP32
    assert config.input[0].name == "x" and list(config.output[0].dims) == [6]
    assert config.HasField("dynamic_batching") and config.instance_group[0].count == 2


def test_client_request_body_matches_our_preprocessing(tmp_path):
    model = tiny_bundle(tmp_path / "m", num_classes=6, size=32)
    CliRunner().invoke(cli, ["export-triton", "-m", str(model), "--out", str(tmp_path / "repo"), "--name", "t"])
    spec = importlib.util.spec_from_file_location("triton_client", tmp_path / "repo" / "t" / "client.py")
    client = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(client)
    img = write_jpeg(tmp_path / "a.jpg", structured_image(50, 60, seed=3))
    body = client.request_body([str(img)])
    (inp,) = body["inputs"]
    assert inp["name"] == "x" and inp["datatype"] == "FP32" and inp["shape"] == [1, 3, 32, 32]
    from imgcls_onnx import Classifier, load_image

    with Classifier.from_dir(model, device="cpu") as clf:
        expected = clf.preprocess.batch([load_image(str(img))])
    assert np.array_equal(np.asarray(inp["data"], np.float32).reshape(inp["shape"]), expected)
    assert json.dumps(body)  # serialisable as the KServe v2 JSON body


def _fused_bundle(directory, size=32, classes=4):
    """A bundle whose graph takes the resized, cropped uint8 NHWC batch (as `convert --fuse-preprocess` makes)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from imgcls_onnx.runtime.bundle import BundleConfig, write_bundle
    from imgcls_onnx.runtime.transforms import PreprocessSpec

    rng = np.random.default_rng(1)
    nodes = [
        helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", ["xf"], ["chw"], perm=[0, 3, 1, 2]),
        helper.make_node("GlobalAveragePool", ["chw"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "w"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["out"], axis=-1),
    ]
    graph = helper.make_graph(nodes, "fused", [helper.make_tensor_value_info("x", TensorProto.UINT8,
                                                                             ["N", size, size, 3])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", classes])],
                              [numpy_helper.from_array(rng.normal(0, 0.01, (classes, 3)).astype(np.float32), "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = directory.parent / "fused.onnx"
    onnx.save(model, str(path))
    config = BundleConfig("fused", PreprocessSpec.imagenet(size + 4, size), 4, tuple("abcd"[:classes]))
    return write_bundle(directory, path, config, {"output": "probabilities"})


def test_fused_bundle_exports_uint8_nhwc(tmp_path):
    """Defect: a --fuse-preprocess bundle was exported as TYPE_FP32 dims [3, 32, 3]."""
    mc = pytest.importorskip("tritonclient.grpc.model_config_pb2", reason="needs tritonclient (test extra)")
    from google.protobuf import text_format

    model = _fused_bundle(tmp_path / "m")
    r = CliRunner().invoke(cli, ["export-triton", "-m", str(model), "--out", str(tmp_path / "repo"), "--name", "f"])
    assert r.exit_code == 0, r.output
    config = text_format.Parse((tmp_path / "repo" / "f" / "config.pbtxt").read_text(), mc.ModelConfig())
    assert config.input[0].data_type == mc.TYPE_UINT8 and list(config.input[0].dims) == [32, 32, 3]
    spec = importlib.util.spec_from_file_location("fused_client", tmp_path / "repo" / "f" / "client.py")
    client = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(client)
    # the payload against an array built here by hand: a lossless PNG (so decoding adds nothing) of an image whose
    # three channels differ, resized as PaddleX's ResizeImage(resize_short=36) does (short side 50 -> 36, so
    # 60 -> round(43.2) = 43, cv2 linear), centre-cropped to 32 (x0 = (43 - 32) // 2 = 5, y0 = (36 - 32) // 2 = 2),
    # in RGB order, NHWC
    import cv2

    rgb = structured_image(50, 60, seed=3)
    png = tmp_path / "a.png"
    assert cv2.imwrite(str(png), np.ascontiguousarray(rgb[:, :, ::-1]))  # cv2 writes BGR
    expected = cv2.resize(rgb, (43, 36), interpolation=cv2.INTER_LINEAR)[2:34, 5:37][None]
    assert expected.shape == (1, 32, 32, 3)
    assert not np.array_equal(expected, expected[..., ::-1])  # a red/blue swap shows
    (inp,) = client.request_body([str(png)])["inputs"]
    assert inp["datatype"] == "UINT8" and inp["shape"] == [1, 32, 32, 3]
    assert all(isinstance(v, int) and 0 <= v <= 255 for v in inp["data"])
    assert np.array_equal(np.asarray(inp["data"], np.uint8).reshape(inp["shape"]), expected)


def _client_output(tmp_path, monkeypatch, capsys, logits: list, topk: int) -> dict:
    """The exported client.py of a logits model run against a stub server that answers ``logits``: what it prints."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    model = tiny_bundle(tmp_path / "m", num_classes=len(logits), size=32, softmax=False)
    r = CliRunner().invoke(cli, ["export-triton", "-m", str(model), "--out", str(tmp_path / "repo"), "--name", "t"])
    assert r.exit_code == 0, r.output

    class Stub(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            body = json.dumps({"outputs": [{"name": "out", "shape": [1, len(logits)], "datatype": "FP32",
                                            "data": logits}]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        spec = importlib.util.spec_from_file_location("logit_client", tmp_path / "repo" / "t" / "client.py")
        client = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(client)
        img = write_jpeg(tmp_path / "a.jpg", structured_image(50, 60, seed=3))
        monkeypatch.setattr("sys.argv", ["client.py", "--url", f"http://127.0.0.1:{server.server_address[1]}",
                                         "--topk", str(topk), str(img)])
        client.main()
    finally:
        server.shutdown()
        server.server_close()
    return json.loads(capsys.readouterr().out.strip())


def test_client_turns_logits_into_probabilities(tmp_path, monkeypatch, capsys):
    """Defect: the client stored output_is_probabilities but printed a logits model's raw logits as scores."""
    logits = [2.0, 1.0, 0.0, -1.0, 3.0, 0.5]
    printed = _client_output(tmp_path, monkeypatch, capsys, logits, topk=2)
    # softmax by hand: exp(l - 3) / sum
    import math

    z = sum(math.exp(v - 3.0) for v in logits)
    assert printed["class_ids"] == [4, 0]
    assert printed["scores"] == pytest.approx([1 / z, math.exp(-1.0) / z], rel=1e-5)


def test_client_orders_tied_logits_by_descending_class_id(tmp_path, monkeypatch, capsys):
    """#30: equal logits (equal probabilities) come out with the higher class id first, as predict prints them."""
    logits = [3.0, 1.0, 3.0, 0.0, 3.0, 2.0, 3.0, 2.0, 0.0, 1.0]
    printed = _client_output(tmp_path, monkeypatch, capsys, logits, topk=5)
    assert printed["class_ids"] == [6, 4, 2, 0, 7]  # by hand: four 3s (ids 6, 4, 2, 0), then the higher of the 2s
    assert printed["label_names"] == ["class_6", "class_4", "class_2", "class_0", "class_7"]
