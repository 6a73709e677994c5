"""Read the weights of an ONNX export back into the ppcls architecture it came from.

paddle2onnx keeps the Paddle parameter order in the initializer list (``conv2d_0.w_0``, ``batch_norm2d_0.w_0``,
``.b_0``, ``.w_1`` (mean), ``.w_2`` (variance), ...), which is also the order of the dygraph ``state_dict``.
We map by position and refuse unless every shape matches, so a wrong architecture cannot load silently. The one
transformation allowed is paddle2onnx's folding of a conv bias into a broadcastable ``[1, C, 1, 1]`` constant
(named ``p2o.pd_op.reshape.N``), which is reshaped back to ``[C]``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .deps import import_onnx
from .errors import ConversionError


def state_dict_from_onnx(onnx_path: Path, model) -> dict[str, np.ndarray]:
    onnx = import_onnx()
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    weights = [(i.name, numpy_helper.to_array(i)) for i in graph.initializer
               if not i.name.startswith("helper.")]
    own = list(model.state_dict().items())
    if len(weights) != len(own):
        raise ConversionError(
            f"{onnx_path} holds {len(weights)} weight tensors, the architecture has {len(own)}: not the same network"
        )
    state = {}
    for (onnx_name, array), (key, value) in zip(weights, own):
        want = tuple(value.shape)
        if tuple(array.shape) != want and tuple(d for d in array.shape if d != 1) == tuple(d for d in want if d != 1):
            array = array.reshape(want)
        if tuple(array.shape) != want:
            raise ConversionError(
                f"{onnx_path}: tensor {onnx_name!r} has shape {list(array.shape)} but {key!r} needs {list(value.shape)}"
            )
        state[key] = array.astype(np.float32)
    return state
