"""The runtime: numpy, Pillow, simplejpeg, PyYAML, onnxruntime (and requests + tqdm for downloads) only. Never imports
paddle, click, the converter or anything above it (docs/architecture.md; tests/runtime/test_layering.py). The store's
errors (unknown model, downloads, archives) are in ``imgcls_onnx.store.errors``."""
from __future__ import annotations

from .errors import (
    BundleError,
    ChecksumError,
    ImageDecodeError,
    ImageLoadError,
    ImageNotFoundError,
    ImageTooLargeError,
    ImgclsError,
    MissingExtraError,
    ModelLoadError,
    PreprocessError,
    ProviderError,
)

__all__ = [
    "BundleError",
    "ChecksumError",
    "ImageDecodeError",
    "ImageLoadError",
    "ImageNotFoundError",
    "ImageTooLargeError",
    "ImgclsError",
    "MissingExtraError",
    "ModelLoadError",
    "PreprocessError",
    "ProviderError",
]
