"""Import the convert extra's packages with errors that say what to install."""
from __future__ import annotations

import importlib
import logging
import os
import warnings
from importlib.metadata import version

from .. import __version__
from ..runtime.errors import MissingExtraError
from ..store.converter_modules import CONVERTER_MODULES

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
            logging.getLogger("faiss.loader").setLevel(logging.WARNING)
            return importlib.import_module("paddleclas.ppcls.arch.backbone")
    except ImportError as e:
        raise MissingExtraError(
            "paddleclas", "convert",
            f"building zoo architectures ({e}; paddleclas must be installed without its pinned dependencies: "
            f"{PADDLECLAS_FIX})",
        ) from e


def versions() -> dict[str, str]:
    """The version of each package a conversion used (the converter's list, onnxruntime, paddleclas when present),
    by distribution name, for the bundle's manifest."""
    out = {}
    for mod, dist in (*CONVERTER_MODULES.items(), ("onnxruntime", "onnxruntime")):
        try:
            out[dist] = version(dist)
        except Exception:
            try:
                out[dist] = importlib.import_module(mod).__version__
            except Exception:
                out[dist] = "unknown"
    try:
        out["paddleclas"] = version("paddleclas")
    except Exception:
        pass
    out["imgcls-onnx"] = __version__
    return out
