"""Zoo name -> ppcls architecture; random init that gives spread logits, or .pdparams with strict checks."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..store.catalogue import ModelSpec
from .deps import import_backbones, import_paddle
from .errors import ConversionError


def build_architecture(spec: ModelSpec, class_num: int | None = None):
    """Instantiate ``spec.arch`` from ppcls.arch.backbone in eval mode (inside a unique_name guard, so that a
    second model of the same family can be built in one process)."""
    paddle = import_paddle()
    backbones = import_backbones()
    ctor = getattr(backbones, spec.arch, None)
    if ctor is None:
        raise ConversionError(f"paddleclas has no architecture {spec.arch!r} (needed by {spec.name})")
    with paddle.utils.unique_name.guard():
        model = ctor(class_num=int(class_num or spec.class_num))
    model.eval()
    return model


def _head(model) -> Any:
    """The last Linear layer (the classifier head) of a ppcls backbone."""
    paddle = import_paddle()
    last = None
    for _, layer in model.named_sublayers():
        if isinstance(layer, paddle.nn.Linear):
            last = layer
    return last


def randomize_for_parity(model, seed: int, calibration_nchw: np.ndarray | None = None) -> dict[str, int]:
    """Make random weights produce logits that spread and depend on the input (docs/conversion.md: with ppcls' default
    init the softmax is flat, and a comparison on it proves nothing).

    * BatchNorm affine parameters are drawn from ``seed``; their running statistics are then set to the batch
      statistics of ``calibration_nchw`` (one forward in train mode with momentum 0), so every layer sees
      normalised, input-dependent activations, as in a trained network, instead of collapsing to a constant.
    * The classifier head gets random weights whose gain makes the logits' standard deviation across classes
      about 3 on the calibration batch.

    Returns how many layers were touched."""
    paddle = import_paddle()
    rng = np.random.default_rng(seed)
    bn_types = tuple(t for t in (getattr(paddle.nn, n, None) for n in ("BatchNorm", "BatchNorm1D", "BatchNorm2D",
                                                                         "BatchNorm3D", "SyncBatchNorm")) if t)
    bns = [layer for _, layer in model.named_sublayers() if isinstance(layer, bn_types)]
    for layer in bns:
        c = int(layer._mean.shape[0])
        if getattr(layer, "weight", None) is not None:
            layer.weight.set_value(rng.uniform(0.5, 1.5, c).astype("float32"))
        if getattr(layer, "bias", None) is not None:
            layer.bias.set_value(rng.normal(0.0, 0.3, c).astype("float32"))
    if calibration_nchw is not None and bns:
        saved = [layer._momentum for layer in bns]
        for layer in bns:
            layer._momentum = 0.0
        model.train()
        try:
            with paddle.no_grad():
                model(paddle.to_tensor(calibration_nchw))
        finally:
            for layer, momentum in zip(bns, saved):
                layer._momentum = momentum
            model.eval()
    head = _head(model)
    if head is None:
        return {"batchnorm_layers": len(bns), "head": 0}
    fan_in, fan_out = int(head.weight.shape[0]), int(head.weight.shape[1])
    weight = rng.normal(0.0, 1.0 / np.sqrt(fan_in), (fan_in, fan_out))
    if calibration_nchw is not None:
        captured = []
        handle = head.register_forward_pre_hook(lambda layer, inputs: captured.append(inputs[0].numpy()))
        try:
            with paddle.no_grad():
                model(paddle.to_tensor(calibration_nchw))
        finally:
            handle.remove()
        feats = captured[0].reshape(-1, fan_in).astype(np.float64)
        spread = float((feats @ weight).std(axis=1).mean())
        if spread > 0:
            weight *= 3.0 / spread
    head.weight.set_value(weight.astype("float32"))
    if head.bias is not None:
        head.bias.set_value(rng.normal(0.0, 0.1, fan_out).astype("float32"))
    return {"batchnorm_layers": len(bns), "head": 1}


def load_weights(model, weights: "str | os.PathLike[str]") -> dict[str, int]:
    """Load a .pdparams state dict strictly: every model tensor present, no extra keys, same shapes."""
    paddle = import_paddle()
    path = Path(weights)
    try:
        state = paddle.load(str(path))
    except Exception as e:
        raise ConversionError(
            f"cannot read weights {str(path)!r}: {type(e).__name__}: {str(e).strip()[:200]} "
            "(the file is damaged, truncated or not a .pdparams file)"
        ) from e
    if not isinstance(state, dict):
        raise ConversionError(f"{str(path)!r} is not a state dict (.pdparams); got {type(state).__name__}")
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing:
        raise ConversionError(
            f"weights {str(path)!r} lack {len(missing)} tensor(s) the architecture needs, first: {missing[0]!r}"
            f"{' (also ' + ', '.join(repr(m) for m in missing[1:4]) + ')' if len(missing) > 1 else ''}. "
            "Are these weights for another model or class count (--class-num)?"
        )
    if unexpected:
        raise ConversionError(
            f"weights {str(path)!r} hold {len(unexpected)} tensor(s) the architecture does not have, first: "
            f"{unexpected[0]!r}. Are these weights for another model?"
        )
    for key, value in own.items():
        got = tuple(np.shape(state[key]))
        want = tuple(value.shape)
        if got != want:
            raise ConversionError(
                f"weights {str(path)!r}: tensor {key!r} has shape {list(got)}, the architecture needs {list(want)}"
                f"{' (is --class-num right?)' if key.startswith(('fc', 'head', 'last')) or 'fc' in key else ''}"
            )
    model.set_state_dict(state)
    return {"tensors": len(own)}
