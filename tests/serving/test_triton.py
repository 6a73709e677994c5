"""export-triton: the config.pbtxt parses against Triton's own schema; the client's request body is right."""
from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import structured_image, tiny_bundle, write_jpeg
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
