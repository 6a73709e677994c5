"""The runtime: numpy, OpenCV, Pillow, PyYAML and onnxruntime only. Never imports paddle, click or the converter."""
from __future__ import annotations

from .errors import (
    ChecksumError,
    ImageDecodeError,
    ImageLoadError,
    ImageNotFoundError,
    ImageTooLargeError,
    ImgclsError,
    ManifestError,
    MissingExtraError,
    PreprocessError,
    ProviderError,
    UnknownModelError,
)

__all__ = [
    "ChecksumError",
    "ImageDecodeError",
    "ImageLoadError",
    "ImageNotFoundError",
    "ImageTooLargeError",
    "ImgclsError",
    "ManifestError",
    "MissingExtraError",
    "PreprocessError",
    "ProviderError",
    "UnknownModelError",
]
