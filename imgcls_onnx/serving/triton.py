"""Export a bundle as a Triton Inference Server model repository, plus a small client that applies our
preprocessing and calls Triton over HTTP (KServe v2 protocol)."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

from ..runtime.bundle import Bundle, load_bundle
from ..runtime.model import OnnxModel

CONFIG_TEMPLATE = """name: "{name}"
platform: "onnxruntime_onnx"
max_batch_size: {max_batch_size}
input [
  {{
    name: "{input_name}"
    data_type: {input_type}
    dims: [ {input_dims} ]
  }}
]
output [
  {{
    name: "{output_name}"
    data_type: TYPE_FP32
    dims: [ {classes} ]
  }}
]
dynamic_batching {{
  preferred_batch_size: [ {preferred} ]
  max_queue_delay_microseconds: {delay_us}
}}
instance_group [
  {{
    count: {instances}
    kind: {kind}
  }}
]
"""

CLIENT = '''#!/usr/bin/env python3
"""Classify images with a Triton server that serves this repository (HTTP, KServe v2 JSON protocol).

    python client.py --url http://localhost:8000 IMAGE...

Needs imgcls-onnx (for the exact PaddleX preprocessing) and nothing else: requests go through urllib.
"""
import argparse, json, sys, urllib.request
from pathlib import Path

import numpy as np

from imgcls_onnx.runtime.bundle import BundleConfig
from imgcls_onnx.runtime.images import load_image
from imgcls_onnx.runtime.postprocess import label_name, softmax, top_k

HERE = Path(__file__).resolve().parent
META = json.loads((HERE / "imgcls_client.json").read_text(encoding="utf-8"))


def request_body(images):
    config = BundleConfig.from_yml_dict(META["inference_yml"])
    rgb = [load_image(p) for p in images]
    if META["input"]["layout"] == "NHWC":  # a --fuse-preprocess bundle: resized, cropped uint8, normalised in-graph
        batch = np.stack([config.preprocess.apply_image_ops(img) for img in rgb]).astype(np.uint8)
        datatype = "UINT8"
    else:
        batch = config.preprocess.batch(rgb)
        datatype = "FP32"
    return {"inputs": [{"name": META["input"]["name"], "shape": list(batch.shape), "datatype": datatype,
                        "data": batch.reshape(-1).tolist()}],
            "outputs": [{"name": META["output"]["name"]}]}


def scores_from(out):
    values = np.asarray(out["data"], np.float32).reshape(out["shape"])
    # the model returns logits: the runtime's softmax
    return values if META["output"]["probabilities"] else softmax(values)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://localhost:8000")
    ap.add_argument("--topk", type=int, default=5)
    ap.add_argument("images", nargs="+")
    args = ap.parse_args()
    body = json.dumps(request_body(args.images)).encode()
    req = urllib.request.Request(f"{args.url}/v2/models/{META['model']}/infer", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        out = json.loads(resp.read())["outputs"][0]
    probs = scores_from(out)
    ids, scores = top_k(probs, min(args.topk, probs.shape[1]))
    labels = META["labels"] or None
    for path, row_ids, row_scores in zip(args.images, ids, scores):
        print(json.dumps({"input_path": path, "class_ids": row_ids.tolist(), "scores": [float(s) for s in row_scores],
                          "label_names": [label_name(labels, int(i)) for i in row_ids]}))


if __name__ == "__main__":
    sys.exit(main())
'''


def export_triton(model, repo: Path, name: str | None = None, max_batch_size: int = 32, instances: int = 1,
                  kind: str = "KIND_CPU", max_queue_delay_us: int = 5000) -> Path:
    """``model``: an OnnxModel, or a bundle folder (loaded on the CPU)."""
    if not isinstance(model, OnnxModel):
        model = OnnxModel(load_bundle(model), "cpu")
    bundle: Bundle = model.bundle
    io = model.io  # the same contract the classifier and the server run by
    if io.height is None or io.width is None:
        hw = bundle.config.preprocess.output_hw
        if hw is None:
            raise ValueError("the model has no fixed input size; Triton needs one (add a CropImage or a fixed resize)")
        io = replace(io, height=hw[0], width=hw[1])
    if io.num_classes is None:
        raise ValueError("the model's class count is not fixed in the graph; Triton needs it")
    input_type, input_dims = io.triton_input()
    model_name = (name or bundle.name).replace("/", "_")
    target = repo / model_name
    (target / "1").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(bundle.onnx_path, target / "1" / "model.onnx")
    preferred = ", ".join(str(b) for b in (4, 8, 16, 32) if b <= max_batch_size) or str(max_batch_size)
    (target / "config.pbtxt").write_text(CONFIG_TEMPLATE.format(
        name=model_name, max_batch_size=max_batch_size, input_name=io.input_name, output_name=io.output_name,
        input_type=input_type, input_dims=", ".join(str(d) for d in input_dims), classes=io.num_classes,
        preferred=preferred, delay_us=max_queue_delay_us, instances=instances, kind=kind), encoding="utf-8")
    (target / "client.py").write_text(CLIENT, encoding="utf-8")
    (target / "imgcls_client.json").write_text(json.dumps({
        "model": model_name, **io.to_dict(), "inference_yml": bundle.config.to_yml_dict(),
        "labels": list(bundle.config.label_list or [])},
        indent=1), encoding="utf-8")
    return target
