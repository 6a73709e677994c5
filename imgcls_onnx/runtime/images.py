"""Turn any accepted input into an RGB uint8 HWC image, or raise a typed, explained ImageLoadError.

The image contract (README, "Image contract"):

* Files and bytes are decoded (JPEG by simplejpeg where it applies, everything else by Pillow: ``_decode_single``)
  to the pixels PaddleX's ``ReadImage`` gets from OpenCV (``cv2.imread``,
  ``IMREAD_COLOR``: gray becomes 3 channels, alpha is dropped without compositing, 16-bit is scaled to 8-bit, CMYK
  JPEG is converted), in RGB order; measured per format in reports/decode_agreement.md and held to ``cv2.imdecode``
  by tests/runtime/test_pillow_decode.py. Both use libjpeg-turbo with its ISLOW IDCT and fancy upsampling (Pillow's
  ``draft()`` only serves ``min_side``, where it sets the same libjpeg scale as ``IMREAD_REDUCED_*``); what Pillow
  converts otherwise is converted here as OpenCV does: CMYK and YCCK JPEG with OpenCV's
  ``R = K - ((255 - C) * K >> 8)`` on libjpeg's raw CMYK (Pillow inverts it), TIFF with the rules of libtiff's RGBA
  interface that OpenCV reads TIFF through (CMYK as ``(255 - K) * (255 - C) // 255``, unassociated alpha
  premultiplied with rounding, associated alpha as stored), 16-bit gray PNG/TIFF/PGM as ``v >> 8``, 16-bit BMP by bit
  shifts, PGM/PPM samples unscaled unless plain 8-bit. Not matched: 16-bit colour TIFF (OpenCV rounds v / 257,
  Pillow gives only v >> 8: one level on about half the pixels); formats only OpenCV reads (PAM, PFM, Radiance HDR)
  are "not an image". OpenCV is never used here.
* RGB, RGBA and RGBX images are handed on as a view of Pillow's own buffer when the compiled kernel is in force and
  ``contiguous=False`` (the model's path: the kernel reads any strides), so the pixels are never copied.
* EXIF orientation is applied for files and bytes alike, by us, from the EXIF tag, so the result does not depend
  on the OpenCV version.
* The byte size and the pixel count (read from the header, before any pixel is allocated) are limited.
* numpy arrays are taken as BGR (PaddleX's convention): HxWx3 BGR, HxWx4 BGRA (alpha dropped) or HxW gray, uint8.
* PIL images are converted to RGB.
"""
from __future__ import annotations

import io
import os
import re
import struct
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from . import kernel as kernels
from .errors import (
    ImageDecodeError,
    ImageFetchError,
    ImageLoadError,
    ImageNotFoundError,
    ImageTooLargeError,
)
from .net import IMAGE_FETCH, FetchError, fetch_url, is_url

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview, np.ndarray, Image.Image]

SUPPORTED_FORMATS = "jpg, png, bmp, webp, tiff (first page), gif (first frame), ppm/pgm"

try:  # JPEG's fast path (binary wheels for Linux, macOS and Windows, x86-64 and ARM64); Pillow decodes without it
    import simplejpeg as _simplejpeg
except ImportError:
    _simplejpeg = None

_EXIF_ORIENTATION_TAG = 0x0112
_PIL_HEADER_LOCK = threading.Lock()

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


def jpeg_reduction(width: int, height: int, min_side: int | None) -> int:
    """The largest libjpeg DCT scale-down (8, 4, 2, else 1) that keeps the short side at least ``min_side``."""
    if not min_side:
        return 1
    short = min(width, height)
    return next((d for d in (8, 4, 2) if -(-short // d) >= min_side), 1)


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


@dataclass(frozen=True)
class _Header:
    format: str | None
    width: int
    height: int
    orientation: int
    n_frames: int


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


# (magic prefix, format) of images whose header Pillow could not read: damaged, not "not an image".
_IMAGE_MAGICS = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF8", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)


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


def decode_image_bytes(
    data: bytes, limits: ImageLimits = DEFAULT_LIMITS, label: str = "<bytes>", min_side: int | None = None,
    contiguous: bool = True, kernel: kernels.Kernel | None = None,
) -> np.ndarray:
    """Decode encoded image bytes to RGB uint8 HWC, applying EXIF orientation. Raises only ImageLoadError.
    ``contiguous=False``: see :func:`load_image`."""
    try:
        view = None if contiguous else (kernel or kernels.from_env())
        rgb = _decode(data, limits, label, min_side, view)
        return np.ascontiguousarray(rgb) if contiguous else rgb
    except ImageLoadError:
        raise
    except MemoryError as e:
        raise ImageTooLargeError(label, "out of memory while decoding") from e
    except Exception as e:  # a decoder's unexpected exception is still this input's error, never a crash
        raise ImageDecodeError(label, f"cannot decode ({type(e).__name__}: {e})") from e


def _decode(data: bytes, limits: ImageLimits, label: str, min_side: int | None = None,
            view: kernels.Kernel | None = None) -> np.ndarray:
    if not data:
        raise ImageDecodeError(label, "empty file (0 bytes)")
    header = _read_header(data, label)
    if header is not None:
        pixels = header.width * header.height
        if pixels > limits.max_pixels:
            raise ImageTooLargeError(
                label,
                f"{header.width}x{header.height} = {pixels} pixels exceed the limit of {limits.max_pixels} "
                "(refused from the header, before decoding)",
            )
        if header.width <= 0 or header.height <= 0:
            raise ImageDecodeError(label, f"invalid size {header.width}x{header.height} in the header")
        if header.format == "JPEG" and data.rfind(b"\xff\xd9") < 0:
            raise ImageDecodeError(label, "truncated JPEG (no end-of-image marker)")
    factor = 1
    if min_side and header is not None and header.format == "JPEG":
        factor = jpeg_reduction(header.width, header.height, min_side)
    single = header is None or (header.format not in _PILLOW_FORMATS and header.n_frames <= 1)
    rgb = None
    if single and header is not None:
        rgb = _decode_single(data, label, factor, view)
    if rgb is None:
        if header is None:
            raise ImageDecodeError(label, _explain_not_an_image(data))
        rgb = _decode_with_pil(data, label)
    if header is not None and header.orientation != 1:
        rgb = apply_exif_orientation(rgb, header.orientation)
    return rgb


# Formats decoded as Pillow's first frame (the multi-frame reader), not by _decode_single: GIF (first frame); AVIF
# (OpenCV 5.1 hands out BGR for AVIF with alpha under IMREAD_COLOR_RGB and cannot read gray AVIF with alpha).
_PILLOW_FORMATS = ("GIF", "AVIF")
_SIXTEEN_BIT_GRAY = ("I;16", "I;16B", "I;16L", "I;16N")


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
            return _pil_to_rgb(im)
    except MemoryError:
        raise
    except Exception as e:  # Pillow raises many types for damaged data
        raise ImageDecodeError(label, f"cannot decode pixels ({type(e).__name__}: {e})") from e


def _pil_to_rgb(im: Image.Image) -> np.ndarray:
    if im.mode in _SIXTEEN_BIT_GRAY + ("I",):
        arr = np.asarray(im, dtype=np.uint32)
        arr8 = (arr >> 8).astype(np.uint8) if arr.max(initial=0) > 255 else arr.astype(np.uint8)
        return _gray_to_rgb(arr8)
    im.info.pop("transparency", None)  # IMREAD_COLOR ignores it (and Pillow warns about tRNS bytes in convert)
    return _pil_array(im.convert("RGB"))


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    out = np.empty(gray.shape + (3,), np.uint8)
    out[...] = gray[..., None]
    return out


_BYTES_PER_PIXEL = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4, "RGBX": 4, "CMYK": 4}


def _pil_array(im: Image.Image) -> np.ndarray:
    """The pixels of a loaded 8-bit image as a new writable numpy array. ``np.asarray(im)`` goes through
    ``tobytes()`` (64 KiB pieces joined into one bytes object, read-only, so one more copy to write to it); encoding
    pieces straight into the array, as tobytes() does internally, is several times faster (a 12 MP RGB image: about
    20 ms instead of 60-130 ms on this project's machine). Anything unexpected falls back to ``np.asarray``."""
    channels = _BYTES_PER_PIXEL.get(im.mode)
    width, height = im.size
    if channels and width > 0 and height > 0:
        try:
            out = np.empty((height, width, channels), np.uint8)
            flat = out.reshape(-1)
            encoder = Image._getencoder(im.mode, "raw", im.mode)
            try:
                encoder.setimage(im.im, (0, 0, width, height))
                pos, bufsize = 0, max(1 << 18, width * 4)
                while True:
                    _, status, piece = encoder.encode(bufsize)
                    flat[pos:pos + len(piece)] = np.frombuffer(piece, np.uint8)
                    pos += len(piece)
                    if status:
                        break
            finally:
                encoder.cleanup()
            if status > 0 and pos == flat.size:
                return out if channels > 1 else out[:, :, 0]
        except Exception:  # a Pillow without these internals: the public way below
            pass
    arr = np.asarray(im)
    return arr if arr.flags.writeable else arr.copy()


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
    gives (see the module docstring for what is matched and how): JPEGs by simplejpeg where it applies, the rest by
    Pillow. ``factor`` > 1: a JPEG decoded at 1/factor scale in the DCT domain, as OpenCV's ``IMREAD_REDUCED_*``
    (Pillow's draft() sets the same libjpeg scale_denom; same pixels)."""
    rgb = _decode_jpeg(data) if factor == 1 else None
    if rgb is not None:
        return rgb
    try:
        with _open_pil(data) as im:
            if factor > 1 and im.format == "JPEG":
                # draft() only sets libjpeg's scale; the decoder keeps ISLOW DCT and fancy upsampling
                im.draft(im.mode, (max(1, im.size[0] // factor), max(1, im.size[1] // factor)))
            return _opencv_pixels(im, data, view)
    except (ImageLoadError, MemoryError):
        raise
    except Exception as e:  # Pillow raises many types for damaged data
        raise ImageDecodeError(label, f"cannot decode pixels ({type(e).__name__}: {e})") from e


def _opencv_pixels(im: Image.Image, data: bytes, view: kernels.Kernel | None = None) -> np.ndarray:
    fmt, mode = im.format, im.mode
    tile = im.tile[0] if len(im.tile) == 1 else None
    args = tile.args if tile is not None else None
    rawmode = args if isinstance(args, str) else (args[0] if isinstance(args, (tuple, list)) and args else None)
    if fmt == "PPM" and mode in ("L", "I", "RGB") and tile is not None and tile.codec_name in ("ppm", "ppm_plain"):
        return _pnm_samples(im, data, tile)  # maxval other than 255 (and 65535 gray): OpenCV keeps the raw samples
    extra = None
    if fmt == "TIFF" and mode == "RGBA":
        extra = (im.tag_v2.get(338) or (0,))[0]  # ExtraSamples: 1 associated (premultiplied), 2 unassociated alpha
        if rawmode == "RGBa":  # libtiff's RGBA interface returns associated alpha as stored: do not unpremultiply
            im.tile = [tile._replace(args=("RGBA",) + tuple(tile.args[1:]))]
            extra = 1
    im.load()
    if mode == "RGB":
        if fmt == "BMP" and rawmode in _BMP16_TO_OPENCV:  # 16-bit BMP: OpenCV shifts 5/6-bit values left
            return _BMP16_TO_OPENCV[rawmode][np.arange(3), _pil_array(im)]
        pixels = view.pixels(im) if view is not None else None  # Pillow's buffer, not copied
        return pixels if pixels is not None else _pil_array(im)
    if mode in ("RGBA", "RGBX") and not (fmt == "TIFF" and extra == 2) and view is not None:
        pixels = view.pixels(im)  # alpha dropped without compositing, as IMREAD_COLOR does
        if pixels is not None:
            return pixels
    if mode in ("RGBA", "RGBX", "RGBa"):
        rgba = _pil_array(im)
        if fmt == "TIFF" and extra == 2:  # libtiff's RGBA interface premultiplies unassociated alpha, rounding
            alpha = rgba[..., 3:].astype(np.uint16)
            return ((rgba[..., :3] * alpha + 127) // 255).astype(np.uint8)
        return np.ascontiguousarray(rgba[..., :3])
    if mode in ("L", "LA", "La", "1"):
        gray = _pil_array(im.convert("L") if mode == "1" else im)
        return _gray_to_rgb(gray if gray.ndim == 2 else gray[..., 0])
    if mode in _SIXTEEN_BIT_GRAY or (mode == "I" and fmt == "PPM"):
        return _gray_to_rgb((np.asarray(im).astype(np.uint32) >> 8).astype(np.uint8))
    if mode == "CMYK" and fmt in ("JPEG", "MPO", "TIFF"):
        return _cmyk_like_opencv(_pil_array(im), fmt)
    return _pil_to_rgb(im)


def _bmp16_lut(bits: tuple[int, int, int]) -> np.ndarray:
    """Pillow scales an n-bit BMP channel to v * 255 // (2**n - 1); OpenCV shifts it: v << (8 - n)."""
    lut = np.zeros((3, 256), np.uint8)
    for channel, n in enumerate(bits):
        v = np.arange(1 << n)
        lut[channel, v * 255 // ((1 << n) - 1)] = v << (8 - n)
    return lut


_BMP16_TO_OPENCV = {"BGR;15": _bmp16_lut((5, 5, 5)), "BGR;16": _bmp16_lut((5, 6, 5))}


def _cmyk_like_opencv(cmyk: np.ndarray, fmt: str) -> np.ndarray:
    """CMYK -> RGB as OpenCV does. JPEG (libjpeg's CMYK output; Pillow hands it inverted, Adobe style, whatever
    the file says): OpenCV's icvCvt_CMYK2BGR, R = K - ((255 - C) * K >> 8) on the raw values, for Adobe, plain
    and YCCK files alike. TIFF (libtiff's RGBA interface): R = (255 - K) * (255 - C) // 255."""
    v = cmyk.astype(np.int32)
    if fmt == "TIFF":
        rgb = (255 - v[..., 3:]) * (255 - v[..., :3]) // 255
    else:
        raw = 255 - v
        k = raw[..., 3:]
        rgb = k - (((255 - raw[..., :3]) * k) >> 8)
    return rgb.astype(np.uint8)


def _pnm_samples(im: Image.Image, data: bytes, tile) -> np.ndarray:
    """PGM/PPM whose maxval is not 255, and plain (ASCII) ones: Pillow rescales samples to 0..255 (0..65535) with
    rounding; OpenCV keeps binary 8-bit samples as stored, scales plain 8-bit ones by v * 255 // maxval and shifts
    16-bit ones right by 8. Read the samples as stored and do what OpenCV does."""
    maxval = int(tile.args[1])
    channels = 3 if im.mode == "RGB" else 1
    width, height = im.size
    count = width * height * channels
    if tile.codec_name == "ppm":
        dtype = np.dtype(">u2") if maxval > 255 else np.dtype(np.uint8)
        if len(data) - tile.offset < count * dtype.itemsize:
            raise ValueError("truncated PGM/PPM data")
        samples = np.frombuffer(data, dtype, count, tile.offset).astype(np.uint32)
    else:  # plain (ASCII) samples; OpenCV clips each to maxval
        tokens = re.sub(rb"#[^\n]*", b" ", data[tile.offset:]).split()[:count]
        if len(tokens) < count:
            raise ValueError("truncated PGM/PPM data")
        values = [int(t) for t in tokens]
        if max(values) > 0x7FFFFFFF:  # OpenCV's reader refuses samples that overflow an int
            raise ValueError("a PGM/PPM sample overflows")
        samples = np.array([min(v, maxval) for v in values], dtype=np.uint32)
        if maxval <= 255:
            samples = samples * 255 // maxval
    if maxval > 255:
        samples >>= 8
    samples = samples.astype(np.uint8).reshape(height, width, channels)
    return np.ascontiguousarray(samples) if channels == 3 else _gray_to_rgb(samples[..., 0])


def apply_exif_orientation(image_hwc: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation value (1..8) to an HWC array; unknown values leave it unchanged."""
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
