"""A Pillow image -> the RGB pixels ``cv2.imdecode(IMREAD_COLOR_RGB | IMREAD_IGNORE_ORIENTATION)`` gives for the same
file, with no OpenCV: OpenCV's colour conversions done on what Pillow decoded.

``IMREAD_COLOR``: gray becomes 3 channels, alpha is dropped without compositing, 16-bit is scaled to 8-bit, CMYK JPEG
is converted. What Pillow converts otherwise is converted here as OpenCV does: CMYK and YCCK JPEG with OpenCV's
``R = K - ((255 - C) * K >> 8)`` on libjpeg's raw CMYK (Pillow inverts it), TIFF with the rules of libtiff's RGBA
interface that OpenCV reads TIFF through (CMYK as ``(255 - K) * (255 - C) // 255``, unassociated alpha premultiplied
with rounding, associated alpha as stored), 16-bit gray PNG/TIFF/PGM as ``v >> 8``, 16-bit BMP by bit shifts, PGM/PPM
samples unscaled unless plain 8-bit. Not matched: 16-bit colour TIFF (OpenCV rounds v / 257, Pillow gives only
v >> 8: one level on about half the pixels). Measured per format in reports/decode_agreement.md and held to
``cv2.imdecode`` by tests/runtime/test_decode.py; tests/runtime/test_pillow_as_opencv.py tests this module alone.
"""
from __future__ import annotations

import re

import numpy as np
from PIL import Image

from . import kernel as kernels

SIXTEEN_BIT_GRAY = ("I;16", "I;16B", "I;16L", "I;16N")
_BYTES_PER_PIXEL = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4, "RGBX": 4, "CMYK": 4}


def opencv_pixels(im: Image.Image, data: bytes, view: kernels.Kernel | None = None) -> np.ndarray:
    """The pixels OpenCV gives for ``data``, from ``im``: Pillow's (not yet loaded) image of it. ``view``: an RGB,
    RGBA or RGBX image may come back as a read-only view of Pillow's buffer (``Kernel.pixels``), not copied."""
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
            return _BMP16_TO_OPENCV[rawmode][np.arange(3), pil_array(im)]
        pixels = view.pixels(im) if view is not None else None  # Pillow's buffer, not copied
        return pixels if pixels is not None else pil_array(im)
    if mode in ("RGBA", "RGBX") and not (fmt == "TIFF" and extra == 2) and view is not None:
        pixels = view.pixels(im)  # alpha dropped without compositing, as IMREAD_COLOR does
        if pixels is not None:
            return pixels
    if mode in ("RGBA", "RGBX", "RGBa"):
        rgba = pil_array(im)
        if fmt == "TIFF" and extra == 2:  # libtiff's RGBA interface premultiplies unassociated alpha, rounding
            alpha = rgba[..., 3:].astype(np.uint16)
            return ((rgba[..., :3] * alpha + 127) // 255).astype(np.uint8)
        return np.ascontiguousarray(rgba[..., :3])
    if mode in ("L", "LA", "La", "1"):
        gray = pil_array(im.convert("L") if mode == "1" else im)
        return gray_to_rgb(gray if gray.ndim == 2 else gray[..., 0])
    if mode in SIXTEEN_BIT_GRAY or (mode == "I" and fmt == "PPM"):
        return gray_to_rgb((np.asarray(im).astype(np.uint32) >> 8).astype(np.uint8))
    if mode == "CMYK" and fmt in ("JPEG", "MPO", "TIFF"):
        return cmyk_like_opencv(pil_array(im), fmt)
    return pil_to_rgb(im)


def pil_to_rgb(im: Image.Image) -> np.ndarray:
    """Any other mode the way ``IMREAD_COLOR`` gives it: 16/32-bit gray scaled by ``v >> 8`` (8-bit values kept),
    transparency ignored, the rest through Pillow's ``convert("RGB")``."""
    if im.mode in SIXTEEN_BIT_GRAY + ("I",):
        arr = np.asarray(im, dtype=np.uint32)
        arr8 = (arr >> 8).astype(np.uint8) if arr.max(initial=0) > 255 else arr.astype(np.uint8)
        return gray_to_rgb(arr8)
    im.info.pop("transparency", None)  # IMREAD_COLOR ignores it (and Pillow warns about tRNS bytes in convert)
    return pil_array(im.convert("RGB"))


def gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    out = np.empty(gray.shape + (3,), np.uint8)
    out[...] = gray[..., None]
    return out


def pil_array(im: Image.Image) -> np.ndarray:
    """The pixels of a loaded 8-bit image as a new writable numpy array. ``np.asarray(im)`` goes through
    ``tobytes()`` (pieces joined into one read-only bytes object, so one more copy to write to it); encoding the
    pieces straight into the array, as tobytes() does internally, is several times faster on large images
    (reports/portable.md). Pillow has no public way to do that, so this uses its private ``Image._getencoder``; a
    Pillow without it (or with a changed one) gets the public ``np.asarray`` with the same pixels
    (tests/runtime/test_pillow_as_opencv.py hides it)."""
    channels = _BYTES_PER_PIXEL.get(im.mode)
    width, height = im.size
    if channels and width > 0 and height > 0:
        try:
            out = _encode_raw_into(im, np.empty((height, width, channels), np.uint8))
        except (AttributeError, TypeError, OSError, ValueError):  # a Pillow whose internals differ: the public way
            out = None
        if out is not None:
            return out if channels > 1 else out[:, :, 0]
    arr = np.asarray(im)
    return arr if arr.flags.writeable else arr.copy()


def _encode_raw_into(im: Image.Image, out: np.ndarray) -> np.ndarray | None:
    """Pillow's raw encoder writing ``im`` piece by piece into ``out``; None if it did not fill it exactly."""
    width, height = im.size
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
    return out if status > 0 and pos == flat.size else None


def _bmp16_lut(bits: tuple[int, int, int]) -> np.ndarray:
    """Pillow scales an n-bit BMP channel to v * 255 // (2**n - 1); OpenCV shifts it: v << (8 - n)."""
    lut = np.zeros((3, 256), np.uint8)
    for channel, n in enumerate(bits):
        v = np.arange(1 << n)
        lut[channel, v * 255 // ((1 << n) - 1)] = v << (8 - n)
    return lut


_BMP16_TO_OPENCV = {"BGR;15": _bmp16_lut((5, 5, 5)), "BGR;16": _bmp16_lut((5, 6, 5))}


def cmyk_like_opencv(cmyk: np.ndarray, fmt: str) -> np.ndarray:
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
    return np.ascontiguousarray(samples) if channels == 3 else gray_to_rgb(samples[..., 0])
