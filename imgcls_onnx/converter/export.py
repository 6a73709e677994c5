"""Paddle -> ONNX: jit.save (dygraph), paddle2onnx in a subprocess, graph repairs, Softmax at the end."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from .deps import import_onnx, import_paddle
from .errors import ConversionError


def _wrap(model, head):
    """A Layer whose forward is ``head(model(x))``, in eval mode (jit.save needs a real class with source)."""
    paddle = import_paddle()

    class Wrapped(paddle.nn.Layer):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return head(self.inner(x))

    wrapped = Wrapped(model)
    wrapped.eval()
    return wrapped


def _first_output(out):
    if isinstance(out, dict):
        return out.get("logits", next(iter(out.values())))
    if isinstance(out, (list, tuple)):
        return out[0]
    return out


def logits_module(model):
    """Wrap a ppcls backbone so that forward returns one logits tensor (some return dicts or tuples)."""
    return _wrap(model, _first_output)


def _softmax_last_axis(x):
    return import_paddle().nn.functional.softmax(x, axis=-1)


def with_softmax(model):
    """Wrap a logits module so that it ends in Softmax, as PaddleClas's own exports do."""
    return _wrap(model, _softmax_last_axis)


def jit_save(model, out_dir: Path, input_hw: tuple[int, int]) -> tuple[Path, Path]:
    """Save a dygraph model as Paddle 3 PIR inference files (dynamic batch). Returns (model_file, params_file)."""
    paddle = import_paddle()
    out_dir.mkdir(parents=True, exist_ok=True)
    spec = [paddle.static.InputSpec([None, 3, int(input_hw[0]), int(input_hw[1])], "float32", "x")]
    prefix = out_dir / "inference"
    try:
        paddle.jit.save(model, str(prefix), input_spec=spec)
    except Exception as e:
        raise ConversionError(f"paddle.jit.save failed: {type(e).__name__}: {str(e).strip()[:300]}") from e
    for suffix in (".json", ".pdmodel"):
        if prefix.with_suffix(suffix).exists():
            return prefix.with_suffix(suffix), prefix.with_suffix(".pdiparams")
    raise ConversionError(f"paddle.jit.save wrote no model file in {out_dir}")


def paddle_to_onnx(model_file: Path, params_file: Path, save_file: Path, opset: int, timeout_s: int = 1800) -> str:
    """Run paddle2onnx in a child process; a crash (SIGABRT) becomes a ConversionError with its output."""
    save_file.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GLOG_minloglevel="2", PYTHONWARNINGS="ignore")
    cmd = [sys.executable, "-m", "imgcls_onnx.converter._p2o_worker", str(model_file), str(params_file),
           str(save_file), str(opset)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired as e:
        raise ConversionError(f"paddle2onnx did not finish within {timeout_s} s") from e
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-12:])
    if proc.returncode != 0 or not save_file.is_file():
        if proc.returncode < 0:
            how = f"was killed by signal {signal.Signals(-proc.returncode).name}"
        elif proc.returncode == 134:
            how = "aborted (exit 134, SIGABRT)"
        else:
            how = f"exited with status {proc.returncode}"
        raise ConversionError(f"paddle2onnx {how} converting {model_file}:\n{tail}")
    return tail


def _ranks(model) -> dict[str, int]:
    onnx = import_onnx()
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    ranks: dict[str, int] = {}
    g = inferred.graph
    for vi in list(g.value_info) + list(g.input) + list(g.output):
        if vi.type.tensor_type.HasField("shape"):
            ranks[vi.name] = len(vi.type.tensor_type.shape.dim)
    for init in g.initializer:
        ranks[init.name] = len(init.dims)
    for node in g.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    ranks[node.output[0]] = len(a.t.dims)
    return ranks


def repair_scalar_concat(model) -> int:
    """paddle2onnx 2.1.0 bug on legacy (pre-0-D) Paddle programs, fixed in place; returns the count of fixes.

    Root cause: a legacy ``reshape2`` whose target shape is a list of tensors (``[batch, 200]``, the batch taken
    by ``slice(shape(x), decrease_axis=[0])``) became, through Paddle 3's program translator, a 0-D scalar for the
    batch element: Paddle >= 2.5 has 0-D tensors, legacy programs did not. paddle2onnx turns the list into
    ``Concat(axis=0)`` of its elements and assumes each is 1-D, so a 0-D input makes the ONNX invalid
    ("Concat ... axis must be in [-rank, rank-1]"). The fix unsqueezes 0-D inputs of such Concat nodes to 1-D,
    which is what the legacy program meant.
    """
    onnx = import_onnx()
    import numpy as np
    from onnx import helper, numpy_helper

    ranks = _ranks(model)
    fixes = 0
    new_nodes = []
    axes_name = "imgcls_repair_axes0"
    need_axes = False
    for node in model.graph.node:
        if node.op_type == "Concat":
            in_ranks = [ranks.get(i) for i in node.input]
            if 0 in in_ranks and any(r == 1 for r in in_ranks):
                for idx, name in enumerate(node.input):
                    if ranks.get(name) == 0:
                        out = f"{name}__as_1d_{fixes}"
                        new_nodes.append(helper.make_node("Unsqueeze", [name, axes_name], [out],
                                                          name=f"imgcls_repair_unsqueeze_{fixes}"))
                        node.input[idx] = out
                        fixes += 1
                        need_axes = True
        new_nodes.append(node)
    if fixes:
        del model.graph.node[:]
        model.graph.node.extend(new_nodes)
        if need_axes:
            model.graph.initializer.append(numpy_helper.from_array(np.array([0], dtype=np.int64), axes_name))
        onnx.checker.check_model(model)
    return fixes


def drop_unused_initializers(model) -> int:
    """paddle2onnx leaves constants no node reads; onnxruntime warns about each one at load time."""
    used = {i for node in model.graph.node for i in node.input}
    used |= {o.name for o in model.graph.output}
    keep = [init for init in model.graph.initializer if init.name in used]
    dropped = len(model.graph.initializer) - len(keep)
    if dropped:
        del model.graph.initializer[:]
        model.graph.initializer.extend(keep)
    return dropped


def output_ends_in_softmax(model) -> bool:
    from ..runtime.onnx_graph import inspect_onnx_bytes

    return inspect_onnx_bytes(model.SerializeToString()).ends_in_softmax


def append_softmax(model) -> None:
    """Rename the logits output and add ``Softmax(axis=-1)`` producing an output of the old name."""
    onnx = import_onnx()
    from onnx import helper

    out = model.graph.output[0]
    name = out.name
    logits = f"{name}__logits"
    for node in model.graph.node:
        for i, o in enumerate(node.output):
            if o == name:
                node.output[i] = logits
        for i, inp in enumerate(node.input):
            if inp == name:
                node.input[i] = logits
    model.graph.node.append(helper.make_node("Softmax", [logits], [name], axis=-1, name="imgcls_softmax"))
    onnx.checker.check_model(model)


def set_dynamic_batch(model) -> None:
    """Name the batch dimension of the input and output ('N'), so every batch size is accepted."""
    for vi in list(model.graph.input[:1]) + list(model.graph.output[:1]):
        dims = vi.type.tensor_type.shape.dim
        if len(dims) >= 1:
            dims[0].ClearField("dim_value")
            dims[0].dim_param = "N"
