"""Encoded image bytes -> RGB uint8 HWC, the pixels PaddleX's ``ReadImage`` gets from OpenCV, with no OpenCV.

* The header is read first (Pillow, no pixel decoded): format, size (the pixel limit is checked against it), EXIF
  orientation and frame count. Bytes Pillow cannot identify are explained ("a damaged PNG file", "not an image (looks
  like a PDF document)").
* ``_decode_single`` decodes a single-frame file to what ``cv2.imdecode(IMREAD_COLOR_RGB |
  IMREAD_IGNORE_ORIENTATION)`` gives: JPEG by simplejpeg where it applies (libjpeg-turbo with OpenCV's settings: ISLOW
  IDCT, fancy upsampling), the rest by Pillow with OpenCV's conversions (``pillow_as_opencv``). Pillow's ``draft()``
  only serves ``min_side``, where it sets the same libjpeg scale as ``IMREAD_REDUCED_*``. It is the decode hook: the
  tests (tests/conftest.py ``use_decoder``) and scripts/bench_worker.py put ``cv2.imdecode`` in its place.
* Multi-frame files (first frame) and AVIF are decoded by Pillow; formats only OpenCV reads (PAM, PFM, Radiance HDR)
  are "not an image". OpenCV is never used here.
* EXIF orientation is applied by us, from the tag, so the result does not depend on the OpenCV version.
"""
from __future__ import annotations

import io
import struct
import threading
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from . import kernel as kernels
from .errors import ImageDecodeError, ImageLoadError, ImageTooLargeError
from .pillow_as_opencv import opencv_pixels, pil_to_rgb

try:  # JPEG's fast path (binary wheels for Linux, macOS and Windows, x86-64 and ARM64); Pillow decodes without it
    import simplejpeg as _simplejpeg
except ImportError:
    _simplejpeg = None

SUPPORTED_FORMATS = "jpg, png, bmp, webp, tiff (first page), gif (first frame), ppm/pgm"

_EXIF_ORIENTATION_TAG = 0x0112
_PIL_HEADER_LOCK = threading.Lock()
# Formats decoded as Pillow's first frame (the multi-frame reader), not by _decode_single: GIF (first frame); AVIF
# (OpenCV 5.1 hands out BGR for AVIF with alpha under IMREAD_COLOR_RGB and cannot read gray AVIF with alpha).
_PILLOW_FORMATS = ("GIF", "AVIF")

# (magic prefix, format) of images whose header Pillow could not read: damaged, not "not an image".
_IMAGE_MAGICS = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF8", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)
# (magic prefix, what it looks like) used to explain why bytes are not an image.
_KNOWN_NON_IMAGES = (
    (b"PK\x03\x04", "a zip archive (or docx/xlsx/jar)"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf", "a 7z archive"),
    (b"Rar!", "a RAR archive"),
    (b"\x7fELF", "an ELF executable"),
    (b"<!DOCTYPE", "an HTML page"),
    (b"<html", "an HTML page"),
    (b"{", "JSON or text"),
)


@dataclass(frozen=True)
class _Header:
    format: str | None
    width: int
    height: int
    orientation: int
    n_frames: int


def decode(data: bytes, label: str, max_pixels: int, min_side: int | None = None,
           view: kernels.Kernel | None = None) -> np.ndarray:
    """Decode ``data`` (the header checked first, the pixel limit applied to it), then apply its EXIF orientation.
    ``min_side``: see ``images.load_image``; ``view``: the kernel that may hand out Pillow's buffer uncopied (the
    result is then a read-only, possibly strided view). Raises ImageLoadError for what it diagnoses; a decoder's
    own exceptions pass through (``images.decode_image_bytes`` turns them into ImageDecodeError)."""
    if not data:
        raise ImageDecodeError(label, "empty file (0 bytes)")
    header = _read_header(data, label)
    if header is None:
        raise ImageDecodeError(label, _explain_not_an_image(data))
    _check_header(header, data, label, max_pixels)
    factor = jpeg_reduction(header.width, header.height, min_side) if header.format == "JPEG" else 1
    rgb = None
    if header.format not in _PILLOW_FORMATS and header.n_frames <= 1:
        rgb = _decode_single(data, label, factor, view)
    if rgb is None:
        rgb = _decode_with_pil(data, label)
    return apply_exif_orientation(rgb, header.orientation)


def _check_header(header: _Header, data: bytes, label: str, max_pixels: int) -> None:
    pixels = header.width * header.height
    if pixels > max_pixels:
        raise ImageTooLargeError(
            label,
            f"{header.width}x{header.height} = {pixels} pixels exceed the limit of {max_pixels} "
            "(refused from the header, before decoding)",
        )
    if header.width <= 0 or header.height <= 0:
        raise ImageDecodeError(label, f"invalid size {header.width}x{header.height} in the header")
    if header.format == "JPEG" and data.rfind(b"\xff\xd9") < 0:
        raise ImageDecodeError(label, "truncated JPEG (no end-of-image marker)")


def jpeg_reduction(width: int, height: int, min_side: int | None) -> int:
    """The largest libjpeg DCT scale-down (8, 4, 2, else 1) that keeps the short side at least ``min_side``."""
    if not min_side:
        return 1
    short = min(width, height)
    return next((d for d in (8, 4, 2) if -(-short // d) >= min_side), 1)


def _read_header(data: bytes, label: str) -> _Header | None:
    """Parse the header with Pillow (no pixels decoded). None when Pillow does not know the format."""
    try:
        with _PIL_HEADER_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                orientation = 1
                try:
                    orientation = int(im.getexif().get(_EXIF_ORIENTATION_TAG, 1) or 1)
                except Exception:  # malformed EXIF: decode the pixels, ignore the tag
                    orientation = 1
                return _Header(im.format, im.size[0], im.size[1], orientation, int(getattr(im, "n_frames", 1) or 1))
    except Image.DecompressionBombError as e:
        raise ImageTooLargeError(label, f"decompression bomb refused before decoding ({e})") from e
    except UnidentifiedImageError:
        return None
    except (OSError, ValueError, SyntaxError, EOFError, struct.error) as e:
        raise ImageDecodeError(label, f"corrupt image header ({e})") from e
    except MemoryError as e:
        raise ImageTooLargeError(label, "out of memory while reading the header") from e
    except Exception as e:  # Pillow's format plugins raise other types on hostile bytes (found by fuzzing)
        raise ImageDecodeError(label, f"corrupt image header ({type(e).__name__}: {e})") from e


def _explain_not_an_image(data: bytes) -> str:
    if not data:
        return "empty file (0 bytes)"
    head = data[:16]
    hexed = " ".join(f"{b:02x}" for b in head[:4])
    for magic, fmt in _IMAGE_MAGICS:
        if head.startswith(magic):
            return f"a damaged {fmt} file (its header cannot be read; first bytes {hexed})"
    for magic, what in _KNOWN_NON_IMAGES:
        if head.startswith(magic):
            return f"not an image (first bytes {hexed} look like {what}); supported: {SUPPORTED_FORMATS}"
    if all(32 <= b < 127 or b in (9, 10, 13) for b in data[:512]):
        return f"not an image (looks like plain text); supported: {SUPPORTED_FORMATS}"
    return f"not an image (unrecognised first bytes {hexed}); supported: {SUPPORTED_FORMATS}"


def _open_pil(data: bytes) -> Image.Image:
    with _PIL_HEADER_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(data))


def _decode_with_pil(data: bytes, label: str) -> np.ndarray:
    """First frame / first page through Pillow, converted the way IMREAD_COLOR would (alpha dropped): what OpenCV
    cannot read (multi-frame files, formats it lacks)."""
    try:
        with _open_pil(data) as im:
            im.seek(0)
            return pil_to_rgb(im)
    except MemoryError:
        raise
    except Exception as e:  # Pillow raises many types for damaged data
        raise ImageDecodeError(label, f"cannot decode pixels ({type(e).__name__}: {e})") from e


def _decode_jpeg(data: bytes) -> np.ndarray | None:
    """A YCbCr, RGB or gray JPEG straight into a new RGB array by simplejpeg (libjpeg-turbo, ISLOW IDCT, fancy upsampling:
    OpenCV's settings, so OpenCV's pixels; faster than Pillow's decode and its hand-off: reports/portable.md). None
    where it does not apply (no simplejpeg, CMYK/YCCK, a file libjpeg refuses): Pillow decodes then."""
    if _simplejpeg is None or not data.startswith(b"\xff\xd8\xff"):
        return None
    try:
        if _simplejpeg.decode_jpeg_header(data)[2] not in ("YCbCr", "Gray", "RGB"):
            return None
        # strict=False: libjpeg's warnings (corrupt data it can go on with) do not stop it, as in OpenCV
        return _simplejpeg.decode_jpeg(data, colorspace="RGB", fastdct=False, fastupsample=False, strict=False)
    except ValueError:
        return None


def _decode_single(data: bytes, label: str, factor: int = 1, view: kernels.Kernel | None = None) -> np.ndarray:
    """Decode a single-frame image to the pixels ``cv2.imdecode(IMREAD_COLOR_RGB | IMREAD_IGNORE_ORIENTATION)``
    gives (see the module docstring): JPEGs by simplejpeg where it applies, the rest by Pillow. ``factor`` > 1: a
    JPEG decoded at 1/factor scale in the DCT domain, as OpenCV's ``IMREAD_REDUCED_*`` (Pillow's draft() sets the
    same libjpeg scale_denom; same pixels). A replacement may return None: Pillow's first frame is used then."""
    rgb = _decode_jpeg(data) if factor == 1 else None
    if rgb is not None:
        return rgb
    try:
        with _open_pil(data) as im:
            if factor > 1 and im.format == "JPEG":
                # draft() only sets libjpeg's scale; the decoder keeps ISLOW DCT and fancy upsampling
                im.draft(im.mode, (max(1, im.size[0] // factor), max(1, im.size[1] // factor)))
            return opencv_pixels(im, data, view)
    except (ImageLoadError, MemoryError):
        raise
    except Exception as e:  # Pillow raises many types for damaged data
        raise ImageDecodeError(label, f"cannot decode pixels ({type(e).__name__}: {e})") from e


def apply_exif_orientation(image_hwc: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation value (1..8) to an HWC array; unknown values (and 1) leave it unchanged."""
    if orientation == 2:
        return image_hwc[:, ::-1]
    if orientation == 3:
        return image_hwc[::-1, ::-1]
    if orientation == 4:
        return image_hwc[::-1, :]
    if orientation == 5:
        return image_hwc.transpose(1, 0, 2)
    if orientation == 6:
        return np.rot90(image_hwc, k=-1)
    if orientation == 7:  # transverse: the mirror image across the anti-diagonal (cv2.imread and Pillow agree)
        return image_hwc[::-1, ::-1].transpose(1, 0, 2)
    if orientation == 8:
        return np.rot90(image_hwc, k=1)
    return image_hwc
