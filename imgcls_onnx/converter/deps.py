"""Import the convert extra's packages with errors that say what to install."""
from __future__ import annotations

import importlib
import os
import warnings

from ..runtime.errors import MissingExtraError

PADDLECLAS_FIX = "pip install --no-deps 'paddleclas==2.6.0'"


def import_paddle():
    os.environ.setdefault("GLOG_minloglevel", "2")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import paddle
    except ImportError as e:
        raise MissingExtraError("paddlepaddle", "convert", "converting Paddle models") from e
    paddle.set_device("cpu")
    return paddle


def import_onnx():
    try:
        import onnx
    except ImportError as e:
        raise MissingExtraError("onnx", "convert", "checking and editing ONNX graphs") from e
    return onnx


def import_backbones():
    """ppcls.arch.backbone from the paddleclas wheel (installed without its pinned dependencies)."""
    import_paddle()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import logging

            logging.getLogger("faiss.loader").setLevel(logging.WARNING)
            return importlib.import_module("paddleclas.ppcls.arch.backbone")
    except ImportError as e:
        raise MissingExtraError(
            "paddleclas", "convert",
            f"building zoo architectures ({e}; paddleclas must be installed without its pinned dependencies: "
            f"{PADDLECLAS_FIX})",
        ) from e


def versions() -> dict[str, str]:
    out = {}
    for mod, dist in (("paddle", "paddlepaddle"), ("paddle2onnx", "paddle2onnx"), ("onnx", "onnx"),
                      ("onnxruntime", "onnxruntime")):
        try:
            from importlib.metadata import version

            out[dist] = version(dist if dist != "onnxruntime" else "onnxruntime")
        except Exception:
            try:
                out[dist] = importlib.import_module(mod).__version__
            except Exception:
                out[dist] = "unknown"
    try:
        from importlib.metadata import version

        out["paddleclas"] = version("paddleclas")
    except Exception:
        pass
    from .. import __version__

    out["imgcls-onnx"] = __version__
    return out
