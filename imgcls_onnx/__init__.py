"""imgcls-onnx: PaddlePaddle / PaddleX image classification on onnxruntime, without Paddle.

``import imgcls_onnx`` is cheap: the public names below are imported on first use.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "BundleConfig": "imgcls_onnx.runtime.bundle",
    "BundleError": "imgcls_onnx.runtime.errors",
    "ChecksumError": "imgcls_onnx.runtime.errors",
    "Classifier": "imgcls_onnx.runtime.classifier",
    "Device": "imgcls_onnx.runtime.providers",
    "ImageLimits": "imgcls_onnx.runtime.images",
    "ImageLoadError": "imgcls_onnx.runtime.errors",
    "ImgclsError": "imgcls_onnx.runtime.errors",
    "Model": "imgcls_onnx.api",
    "Prediction": "imgcls_onnx.runtime.results",
    "PreprocessSpec": "imgcls_onnx.runtime.transforms",
    "ProviderError": "imgcls_onnx.runtime.errors",
    "UnknownModelError": "imgcls_onnx.store.errors",
    "Pipeline": "imgcls_onnx.api",
    "create_model": "imgcls_onnx.api",
    "create_pipeline": "imgcls_onnx.api",
    "create_predictor": "imgcls_onnx.api",
    "load_bundle": "imgcls_onnx.runtime.bundle",
    "load_image": "imgcls_onnx.runtime.images",
    "load_zoo": "imgcls_onnx.store.catalogue",
    "write_bundle": "imgcls_onnx.runtime.bundle",
}

#: old names: still importable, exported nowhere (old name -> its name now)
_OLD_NAMES = {"ManifestError": "BundleError"}

__all__ = sorted([*_LAZY, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _OLD_NAMES:
        return __getattr__(_OLD_NAMES[name])
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'imgcls_onnx' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
