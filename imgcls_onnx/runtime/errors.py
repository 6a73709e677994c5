"""Typed errors. Every message says what failed, why, and how to fix it.

Every error class lives in an ``errors`` module of the package that raises it (each re-exported from the module that
first defined it, so old imports keep working):

- here, ``imgcls_onnx.runtime.errors``: the runtime's errors (bundle, model load, checksum, images, preprocessing,
  providers, optional extras) and ``FetchError``, the URL fetcher's internal failure;
- ``imgcls_onnx.store.errors``: getting a model (``UnknownModelError``, ``ModelNotConvertedError``,
  ``DownloadError``, ``ArchiveError``);
- ``imgcls_onnx.converter.errors``: ``ConversionError``;
- ``imgcls_onnx.datasets.errors``: ``DatasetError``;
- ``imgcls_onnx.serving.errors``: ``QueueFull`` (the batcher's back-pressure signal);
- ``imgcls_onnx.errors``: the top-level modules' errors: ``ConfigRunError`` (paddlex_config), ``WebExportError``
  (web_export), ``StorageError`` (the ray package).

Every public error derives from ``ImgclsError``; ``FetchError`` and ``QueueFull`` are internal signals (plain
``Exception``) that their callers turn into ``ImageFetchError`` or an HTTP status. What the library only warns about
goes through ``warn`` as an ``ImgclsWarning`` (both defined here).
"""
from __future__ import annotations

import os
import sys
import warnings

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # imgcls_onnx/


class ImgclsError(Exception):
    """Base class of every error this package raises on purpose."""


class ImgclsWarning(UserWarning):
    """What this package warns about and goes on: random weights, an int8 graph that may saturate on this CPU, a
    label no installed font can draw, a PaddleX option that does not apply. Each cause is warned about once per
    process; the CLI prints each as one ``warning: ...`` line on stderr (``cli.common.show_warnings_as_lines``)."""


def warn(message: str) -> None:
    """An ``ImgclsWarning`` reported at the first caller outside this package: the user's own line, however deep in
    the package the cause was found (no hand-counted ``stacklevel`` to go stale when a call moves)."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, ImgclsWarning, stacklevel=level)


class BundleError(ImgclsError):
    """A bundle is missing, malformed or inconsistent: inference.yml, manifest.json, label list, preprocessing op
    list, or the zoo's own entries."""


#: the old name: importable for code written against it, raised and named nowhere else (tests/runtime/test_errors.py)
ManifestError = BundleError


class ModelLoadError(BundleError):
    """onnxruntime (or the ONNX reader) cannot load the model file: truncated, not ONNX, an unsupported op."""


class ChecksumError(ImgclsError):
    """A model file does not match the sha256 recorded for it."""


class ImageLoadError(ImgclsError):
    """An input could not be turned into an RGB image. The message names the input and the reason."""

    def __init__(self, source: str, reason: str):
        self.source = source
        self.reason = reason
        super().__init__(f"cannot load {source}: {reason}")


class ImageNotFoundError(ImageLoadError):
    """The path does not exist, is a dangling link or is not a regular file."""


class ImageFetchError(ImageLoadError):
    """An http(s) input could not be fetched (offline, refused address, too large, not 200)."""


class ImageDecodeError(ImageLoadError):
    """The bytes are not a decodable image."""


class ImageTooLargeError(ImageLoadError):
    """The image exceeds the configured byte or pixel limit (refused before decoding)."""


class PreprocessError(ImgclsError):
    """An image could not be preprocessed with the model's op list."""


class ProviderError(ImgclsError):
    """The requested execution provider (device) is not available."""


class MissingExtraError(ImgclsError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, package: str, extra: str, purpose: str):
        self.package = package
        self.extra = extra
        super().__init__(
            f"{purpose} needs the Python package '{package}', which is not installed. "
            f"Install it with: pip install 'imgcls-onnx[{extra}]'"
        )


class FetchError(Exception):
    """Internal: ``runtime.fetch.fetch_url`` could not fetch a URL (refused address, not 200, too large, timed out);
    callers turn it into ``ImageFetchError`` or an HTTP 400."""
