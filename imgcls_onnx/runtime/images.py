"""Turn any accepted input into an RGB uint8 HWC image, or raise a typed, explained ImageLoadError.

The image contract (README, "Image contract"):

* Files, bytes and http(s) URLs are read here (byte limit, clear errors for missing files and refused fetches), then
  decoded by ``decode`` to the pixels PaddleX's ``ReadImage`` gets from OpenCV (``cv2.imread``, ``IMREAD_COLOR``), in
  RGB order: JPEG by simplejpeg where it applies, everything else by Pillow with OpenCV's conversions
  (``pillow_as_opencv``). Measured per format in reports/decode_agreement.md and held to ``cv2.imdecode`` by
  tests/runtime/test_decode.py. OpenCV is never used here.
* RGB, RGBA and RGBX images are handed on as a view of Pillow's own buffer when the compiled kernel is in force and
  ``contiguous=False`` (the model's path: the kernel reads any strides), so the pixels are never copied.
* EXIF orientation is applied for files and bytes alike, by us, from the EXIF tag, so the result does not depend
  on the OpenCV version.
* The byte size and the pixel count (read from the header, before any pixel is allocated) are limited.
* numpy arrays are taken as BGR (PaddleX's convention): HxWx3 BGR, HxWx4 BGRA (alpha dropped) or HxW gray, uint8.
* PIL images are converted to RGB.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps

from . import kernel as kernels
from .decode import SUPPORTED_FORMATS, apply_exif_orientation, decode, jpeg_reduction
from .errors import (
    ImageDecodeError,
    ImageFetchError,
    ImageLoadError,
    ImageNotFoundError,
    ImageTooLargeError,
)
from .net import IMAGE_FETCH, FetchError, is_url

__all__ = [
    "DEFAULT_LIMITS", "ImageLimits", "ImageSource", "SUPPORTED_FORMATS", "apply_exif_orientation",
    "decode_image_bytes", "describe_source", "fetch_image", "jpeg_reduction", "load_image", "read_image_file",
]

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview, np.ndarray, Image.Image]


@dataclass(frozen=True)
class ImageLimits:
    """Limits applied before decoding. ``max_pixels`` is checked against the header's width x height."""

    max_bytes: int = 256 * 1024 * 1024
    max_pixels: int = 178_956_970  # Pillow's DecompressionBombError threshold (2 x MAX_IMAGE_PIXELS)


DEFAULT_LIMITS = ImageLimits()


def describe_source(source: object, index: int | None = None) -> str:
    """A short human name for an input, used in every error message."""
    if isinstance(source, (str, os.PathLike)):
        return repr(os.fspath(source))
    suffix = f" #{index}" if index is not None else ""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<bytes{suffix}, {len(source)} bytes>"
    if isinstance(source, np.ndarray):
        return f"<ndarray{suffix}, shape {source.shape}, {source.dtype}>"
    if isinstance(source, Image.Image):
        return f"<PIL image{suffix}, {source.mode} {source.size[0]}x{source.size[1]}>"
    return f"<{type(source).__name__}{suffix}>"


def load_image(
    source: ImageSource, limits: ImageLimits = DEFAULT_LIMITS, name: str | None = None, min_side: int | None = None,
    contiguous: bool = True, kernel: kernels.Kernel | None = None,
) -> np.ndarray:
    """Return the image as RGB uint8 HWC (C-contiguous). Raise an ImageLoadError subclass on any failure.

    ``min_side`` (opt-in, not PaddleX-exact): a large JPEG may be decoded at 1/2, 1/4 or 1/8 scale in the DCT domain
    (libjpeg's scaled IDCT, several times less work) as long as its short side stays at least ``min_side``.
    ``contiguous=False``: a decoded file may come back as a read-only strided view of the decoder's buffer (no copy;
    ``kernel``, default the one in force, says whether it can): what the preprocessing kernel reads."""
    label = name or describe_source(source)
    if isinstance(source, np.ndarray):
        return _from_bgr_array(source, label)
    if isinstance(source, Image.Image):
        return _from_pil(source, label)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if len(data) > limits.max_bytes:
            raise ImageTooLargeError(label, f"{len(data)} bytes exceed the limit of {limits.max_bytes} bytes")
        return decode_image_bytes(data, limits, label, min_side, contiguous, kernel)
    if is_url(source):
        return decode_image_bytes(fetch_image(source, limits, label), limits, label, min_side, contiguous, kernel)
    if isinstance(source, (str, os.PathLike)):
        data = read_image_file(Path(os.fspath(source)), limits, label)
        return decode_image_bytes(data, limits, label, min_side, contiguous, kernel)
    raise ImageLoadError(
        label,
        f"unsupported input type {type(source).__name__}; pass a path, bytes, a numpy array (BGR) or a PIL image",
    )


def fetch_image(url: str, limits: ImageLimits, label: str) -> bytes:
    """An http(s) image input (as in PaddleX's examples) under the service's policy (``net.IMAGE_FETCH``): size and
    time limits, no redirects, no private or loopback addresses unless $IMGCLS_ONNX_ALLOW_PRIVATE_URLS=1."""
    # the HTTP client (http.client, ssl, certifi: 24 ms) loads at the first URL, not at every start-up
    from .fetch import fetch_url  # noqa: PLC0415 - see the comment above

    try:
        return fetch_url(url, IMAGE_FETCH, max_bytes=limits.max_bytes)
    except FetchError as e:
        raise ImageFetchError(label, str(e)) from None


def read_image_file(path: Path, limits: ImageLimits, label: str) -> bytes:
    """Read a file's bytes with clear errors for missing files, directories, dangling links and huge files."""
    if path.is_symlink() and not path.exists():
        raise ImageNotFoundError(label, f"broken symbolic link (points to {os.readlink(path)!r})")
    if not path.exists():
        raise ImageNotFoundError(label, "no such file")
    if path.is_dir():
        raise ImageNotFoundError(label, "is a directory, not an image file")
    if not path.is_file():
        raise ImageNotFoundError(label, "not a regular file")
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise ImageTooLargeError(label, f"{size} bytes exceed the limit of {limits.max_bytes} bytes")
        with open(path, "rb") as f:
            return f.read()
    except PermissionError as e:
        raise ImageNotFoundError(label, f"permission denied ({e.strerror})") from e
    except OSError as e:
        raise ImageNotFoundError(label, f"cannot read file ({e.strerror or e})") from e


def decode_image_bytes(
    data: bytes, limits: ImageLimits = DEFAULT_LIMITS, label: str = "<bytes>", min_side: int | None = None,
    contiguous: bool = True, kernel: kernels.Kernel | None = None,
) -> np.ndarray:
    """Decode encoded image bytes to RGB uint8 HWC, applying EXIF orientation. Raises only ImageLoadError.
    ``contiguous=False``: see :func:`load_image`."""
    try:
        view = None if contiguous else (kernel or kernels.from_env())
        rgb = decode(data, label, limits.max_pixels, min_side, view)
        return np.ascontiguousarray(rgb) if contiguous else rgb
    except ImageLoadError:
        raise
    except MemoryError as e:
        raise ImageTooLargeError(label, "out of memory while decoding") from e
    except Exception as e:  # a decoder's unexpected exception is still this input's error, never a crash
        raise ImageDecodeError(label, f"cannot decode ({type(e).__name__}: {e})") from e


def _from_bgr_array(array: np.ndarray, label: str) -> np.ndarray:
    if array.dtype != np.uint8:
        raise ImageLoadError(label, f"arrays must be uint8 (got {array.dtype}); scale to 0..255 first")
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ImageLoadError(label, f"arrays must be HxW, HxWx3 (BGR) or HxWx4 (BGRA); got shape {array.shape}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageLoadError(label, f"empty array of shape {array.shape}")
    return np.ascontiguousarray(array[:, :, 2::-1])


def _from_pil(image: Image.Image, label: str) -> np.ndarray:
    try:
        image = ImageOps.exif_transpose(image) or image
        return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except Exception as e:
        raise ImageLoadError(label, f"cannot convert PIL image ({type(e).__name__}: {e})") from e
