"""Export a bundle as a Triton Inference Server model repository, plus a small client that applies our
preprocessing and calls Triton over HTTP (KServe v2 protocol)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..runtime.bundle import Bundle, load_bundle

CONFIG_TEMPLATE = """name: "{name}"
platform: "onnxruntime_onnx"
max_batch_size: {max_batch_size}
input [
  {{
    name: "{input_name}"
    data_type: TYPE_FP32
    dims: [ 3, {height}, {width} ]
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
from imgcls_onnx.runtime.postprocess import top_k

HERE = Path(__file__).resolve().parent
META = json.loads((HERE / "imgcls_client.json").read_text())


def request_body(images):
    config = BundleConfig.from_yml_dict(META["inference_yml"])
    batch = config.preprocess.batch([load_image(p) for p in images])
    return {"inputs": [{"name": META["input_name"], "shape": list(batch.shape), "datatype": "FP32",
                        "data": batch.reshape(-1).tolist()}],
            "outputs": [{"name": META["output_name"]}]}


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
    probs = np.asarray(out["data"], np.float32).reshape(out["shape"])
    ids, scores = top_k(probs, min(args.topk, probs.shape[1]))
    labels = META["labels"]
    for path, row_ids, row_scores in zip(args.images, ids, scores):
        print(json.dumps({"input_path": path, "class_ids": row_ids.tolist(), "scores": [float(s) for s in row_scores],
                          "label_names": [labels[i] if labels else str(i) for i in row_ids]}))


if __name__ == "__main__":
    sys.exit(main())
'''


def export_triton(bundle_dir, repo: Path, name: str | None = None, max_batch_size: int = 32, instances: int = 1,
                  kind: str = "KIND_CPU", max_queue_delay_us: int = 5000) -> Path:
    from ..runtime.classifier import Classifier

    bundle: Bundle = load_bundle(bundle_dir)
    clf = Classifier(bundle, device="cpu")
    inp = clf.session.get_inputs()[0]
    out = clf.session.get_outputs()[0]
    h, w = (inp.shape[2], inp.shape[3])
    if not (isinstance(h, int) and isinstance(w, int)):
        hw = bundle.config.preprocess.output_hw
        if hw is None:
            raise ValueError("the model has no fixed input size; Triton needs one (add a CropImage or a fixed resize)")
        h, w = hw
    classes = out.shape[-1] if isinstance(out.shape[-1], int) else clf.num_classes
    model_name = (name or bundle.name).replace("/", "_")
    target = repo / model_name
    (target / "1").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(bundle.onnx_path, target / "1" / "model.onnx")
    preferred = ", ".join(str(b) for b in (4, 8, 16, 32) if b <= max_batch_size) or str(max_batch_size)
    (target / "config.pbtxt").write_text(CONFIG_TEMPLATE.format(
        name=model_name, max_batch_size=max_batch_size, input_name=inp.name, output_name=out.name, height=h,
        width=w, classes=classes, preferred=preferred, delay_us=max_queue_delay_us, instances=instances, kind=kind))
    (target / "client.py").write_text(CLIENT)
    (target / "imgcls_client.json").write_text(json.dumps({
        "model": model_name, "input_name": inp.name, "output_name": out.name,
        "inference_yml": bundle.config.to_yml_dict(), "labels": list(bundle.config.label_list or []),
        "output_is_probabilities": not clf.applies_softmax}, indent=1))
    clf.close()
    return target
