"""Paddle models made by the tests themselves, from ppcls directly (never by the converter), to check converted
bundles against: weights for PP-LCNet_x0_25 whose logits spread and depend on the input, and Paddle's own logits
for them. Paddle runs in child processes (it stays out of the test process)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers import ROOT

LCNET_X0_25_WEIGHTS = """
import sys, warnings; warnings.simplefilter("ignore")
import numpy as np, paddle
from paddleclas.ppcls.arch.backbone import PPLCNet_x0_25
rng = np.random.default_rng(11)
paddle.seed(11)
m = PPLCNet_x0_25(class_num=1000)
bns = [layer for _, layer in m.named_sublayers() if isinstance(layer, paddle.nn.BatchNorm2D)]
assert len(bns) > 20
for layer in bns:  # random affine, running statistics of a random batch: activations that depend on the input
    c = int(layer._mean.shape[0])
    layer.weight.set_value(rng.uniform(0.5, 1.5, c).astype("float32"))
    layer.bias.set_value(rng.normal(0, 0.3, c).astype("float32"))
    layer._momentum = 0.0
m.train()
with paddle.no_grad():
    m(paddle.to_tensor(rng.uniform(-2, 2, (8, 3, 224, 224)).astype("float32")))
m.eval()
m.fc.weight.set_value(rng.normal(0, 1, tuple(m.fc.weight.shape)).astype("float32"))
m.fc.bias.set_value(rng.normal(0, 0.1, tuple(m.fc.bias.shape)).astype("float32"))
paddle.save(m.state_dict(), sys.argv[1])
"""

LCNET_X0_25_LOGITS = """
import sys, warnings; warnings.simplefilter("ignore")
import numpy as np, paddle
from paddleclas.ppcls.arch.backbone import PPLCNet_x0_25
m = PPLCNet_x0_25(class_num=1000)
m.set_state_dict(paddle.load(sys.argv[1]))
m.eval()
with paddle.no_grad():
    out = m(paddle.to_tensor(np.load(sys.argv[2])))
np.save(sys.argv[3], out.numpy())
"""


def run_python(code: str, *args: str, workdir: Path) -> None:
    """Run ``code`` from a file (paddle.jit and dy2static read the source) in a child process."""
    script = workdir / "paddle_script.py"
    script.write_text(code, encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, text=True,
                          timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]


def lcnet_x0_25_weights(path: Path) -> Path:
    run_python(LCNET_X0_25_WEIGHTS, path, workdir=path.parent)
    return path


def lcnet_x0_25_paddle_logits(weights: Path, batch, workdir: Path):
    """Paddle eager's logits for ``batch`` (NCHW float32) with these weights."""
    import numpy as np

    np.save(workdir / "batch.npy", batch)
    run_python(LCNET_X0_25_LOGITS, weights, workdir / "batch.npy", workdir / "paddle.npy", workdir=workdir)
    return np.load(workdir / "paddle.npy")


def onnx_logits_and_probs(onnx_path: Path, batch):
    """Run a bundle's graph, which ends in Softmax, as it is and with the Softmax's input as its output (logits)."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(onnx_path))
    last = model.graph.node[-1]
    assert last.op_type == "Softmax" and last.output[0] == model.graph.output[0].name
    probs_sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    model.graph.output[0].name = last.input[0]
    model.graph.node.pop()
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {sess.get_inputs()[0].name: batch}
    return sess.run(None, feed)[0], probs_sess.run(None, feed)[0]
