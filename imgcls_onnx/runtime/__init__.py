"""The runtime: numpy, OpenCV, Pillow, PyYAML, onnxruntime (and requests + tqdm for downloads) only. Never imports
paddle, click, the converter or anything above it (docs/architecture.md; tests/runtime/test_layering.py)."""
from __future__ import annotations

from .errors import (
    ArchiveError,
    BundleError,
    ChecksumError,
    DownloadError,
    ImageDecodeError,
    ImageLoadError,
    ImageNotFoundError,
    ImageTooLargeError,
    ImgclsError,
    MissingExtraError,
    ModelLoadError,
    ModelNotConvertedError,
    PreprocessError,
    ProviderError,
    UnknownModelError,
)

__all__ = [
    "ArchiveError",
    "BundleError",
    "ChecksumError",
    "DownloadError",
    "ImageDecodeError",
    "ImageLoadError",
    "ImageNotFoundError",
    "ImageTooLargeError",
    "ImgclsError",
    "MissingExtraError",
    "ModelLoadError",
    "ModelNotConvertedError",
    "PreprocessError",
    "ProviderError",
    "UnknownModelError",
]
