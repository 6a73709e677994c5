"""OpenCV's ``cv2.resize`` for uint8 images (INTER_LINEAR, INTER_NEAREST) in plain numpy integer arithmetic.

Bit-exact with x86-64 OpenCV (PaddleX's reference platform) and, being numpy integer arithmetic on tables built with
IEEE float32/float64 operations, the same on every machine (OpenCV's aarch64 wheel gives other INTER_LINEAR results on
about a quarter of the pixels). The algorithm is the one of ``web/imgcls.js`` (``linearTable``,
``resizeLinearWindow``, ``resizeNearestWindow``), which follows OpenCV's ``resize.cpp``:

* INTER_LINEAR (``resizeGeneric_`` with ``HResizeLinear`` / ``VResizeLinear`` over ``uchar, int, short``): per output
  column and row ``f = float((d + 0.5) * (1 / (dst / src)) - 0.5)``, ``s = floor(f)``, ``f -= s`` (float32),
  coefficients ``rint((1 - f) * 2048)`` and ``rint(f * 2048)`` rounded independently (ties to even). Columns past an
  edge get ``s`` clamped and coefficients (2048, 0); rows keep their weights and read the clamped edge row. The
  horizontal pass keeps ``value * 2048`` in int32, the vertical pass is ``VResizeLinearVec_32s8u``'s shifts:
  ``(((b0 * (r0 >> 4)) >> 16) + ((b1 * (r1 >> 4)) >> 16) + 2) >> 2``.
* An exact 2x downscale on both axes is INTER_AREA's fast path in OpenCV: ``(a + b + c + d + 2) >> 2``.
* INTER_NEAREST (``resizeNN``): ``s = min(floor(d * (1 / (dst / src))), src - 1)`` in float64.

Every function takes an optional output window ``(x0, y0, cw, ch)`` and computes only those output pixels (a
following centre crop), reading only the source rows and columns the window needs, so a 4000x3000 photo costs what its
small output costs. Images are ``(h, w)`` or ``(h, w, c)`` uint8; the result keeps the input's number of dimensions
(``cv2.resize`` drops a trailing channel axis of length 1; this does not).
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

__all__ = ["resize_linear", "resize_nearest", "linear_table"]

COEF_BITS = 11  # INTER_RESIZE_COEF_BITS
COEF_SCALE = 1 << COEF_BITS

Window = Tuple[int, int, int, int]
_BAND_VALUES = 1 << 14  # output values per band of INTER_LINEAR rows (16 rows of 341 RGB pixels)


def linear_table(src_size: int, dst_size: int, first: int, count: int, clamp: bool):
    """OpenCV's INTER_LINEAR table for output positions ``first .. first + count - 1``: (offset, a0, a1).

    ``clamp`` is the column rule (an offset outside ``[0, src_size - 1)`` is clamped with coefficients (2048, 0));
    rows keep offset and weights as computed (the vertical pass clamps the row it reads)."""
    scale = 1.0 / (dst_size / src_size)  # OpenCV: scale_x = 1. / inv_scale_x, inv_scale_x = (double)dst / src
    d = np.arange(first, first + count, dtype=np.float64)
    f = ((d + 0.5) * scale - 0.5).astype(np.float32)  # (float)((dx + 0.5) * scale_x - 0.5)
    s = np.floor(f)
    f = f - s  # float32, exact
    ofs = s.astype(np.int64)
    if clamp:
        f[ofs < 0] = 0
        ofs = np.maximum(ofs, 0)
        high = ofs >= src_size - 1
        f[high] = 0
        ofs[high] = src_size - 1
    one = np.float32(1)
    coef = np.float32(COEF_SCALE)
    # saturate_cast<short>(cbuf[k] * INTER_RESIZE_COEF_SCALE): float32 product, cvRound = nearest, ties to even
    a0 = np.rint((one - f) * coef).astype(np.int32)
    a1 = np.rint(f * coef).astype(np.int32)
    return ofs, a0, a1


def _prepare(img: np.ndarray, new_w: int, new_h: int, window: Optional[Window]):
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise ValueError("resize: the image must be a uint8 array of shape (h, w) or (h, w, c)")
    h, w = img.shape[:2]
    new_w, new_h = int(new_w), int(new_h)
    if h <= 0 or w <= 0 or new_w <= 0 or new_h <= 0 or (img.ndim == 3 and img.shape[2] == 0):
        raise ValueError(f"resize: cannot resize {w}x{h} to {new_w}x{new_h}")
    if window is None:
        window = (0, 0, new_w, new_h)
    x0, y0, cw, ch = (int(v) for v in window)
    if x0 < 0 or y0 < 0 or cw <= 0 or ch <= 0 or x0 + cw > new_w or y0 + ch > new_h:
        raise ValueError(f"resize: window {window} is outside the {new_w}x{new_h} output")
    src = img if img.ndim == 3 else img[:, :, None]
    return src, h, w, new_w, new_h, x0, y0, cw, ch


def _finish(out: np.ndarray, img: np.ndarray) -> np.ndarray:
    return out if img.ndim == 3 else out[:, :, 0]


def _halve(src: np.ndarray, x0: int, y0: int, cw: int, ch: int) -> np.ndarray:
    """hal::resize turns INTER_LINEAR into INTER_AREA's fast path for an exact halving: (a + b + c + d + 2) >> 2."""
    block = src[2 * y0 : 2 * (y0 + ch), 2 * x0 : 2 * (x0 + cw)]
    acc = block[0::2, 0::2].astype(np.uint16)
    acc += block[0::2, 1::2]
    acc += block[1::2, 0::2]
    acc += block[1::2, 1::2]
    acc += 2
    acc >>= 2
    return acc.astype(np.uint8)


def resize_linear(img: np.ndarray, new_w: int, new_h: int, window: Optional[Window] = None) -> np.ndarray:
    """``cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_LINEAR)`` for uint8, bit-exact with x86-64 OpenCV;
    with ``window=(x0, y0, cw, ch)`` only ``result[y0:y0 + ch, x0:x0 + cw]`` is computed and returned."""
    src, h, w, new_w, new_h, x0, y0, cw, ch = _prepare(img, new_w, new_h, window)
    if (new_w, new_h) == (w, h):
        return _finish(src[y0 : y0 + ch, x0 : x0 + cw].copy(), img)
    if new_w * 2 == w and new_h * 2 == h:
        return _finish(_halve(src, x0, y0, cw, ch), img)
    xofs, a0, a1 = linear_table(w, new_w, x0, cw, clamp=True)
    yofs, b0, b1 = linear_table(h, new_h, y0, ch, clamp=False)
    sy0 = np.clip(yofs, 0, h - 1)
    sy1 = np.clip(yofs + 1, 0, h - 1)
    cn = src.shape[2]
    # flat offsets, within a source row, of each output value's first tap, and the step to its second tap (cn, or 0
    # where the column was clamped: its coefficient is 0 there)
    col0 = (xofs[:, None] * cn + np.arange(cn)).reshape(-1)
    step = np.repeat((np.minimum(xofs + 1, w - 1) - xofs) * cn, cn)
    ha0 = np.repeat(a0, cn)
    ha1 = np.repeat(a1, cn)
    out = np.empty((ch, cw, cn), dtype=np.uint8)
    pixels = src.reshape(-1) if src.flags.c_contiguous else None
    # bands of output rows keep the temporaries cache-sized (fresh large arrays cost page faults)
    band = max(1, _BAND_VALUES // (cw * cn))
    for y in range(0, ch, band):
        v0 = sy0[y : y + band]
        v1 = sy1[y : y + band]
        rows = np.unique(np.concatenate([v0, v1]))  # the source rows this band reads: the horizontal pass runs on them
        if pixels is not None:
            flat, index = pixels, (rows * (w * cn))[:, None] + col0
        else:  # a view (a crop, a channel flip): copy just those rows
            flat, index = src[rows].reshape(-1), (np.arange(len(rows)) * (w * cn))[:, None] + col0
        # horizontal pass, value * 2048 in int32, for this band's rows and the window's columns only
        hrows = np.take(flat, index).astype(np.int32)
        hrows *= ha0
        index += step
        tap1 = np.take(flat, index).astype(np.int32)
        tap1 *= ha1
        hrows += tap1
        hrows >>= 4
        # vertical pass: VResizeLinearVec_32s8u's shifts (OpenCV's scalar tail uses the same). No saturation needed:
        # a0 + a1 and b0 + b1 are 2047..2049, so a tap is <= 255 * 2049 >> 4 = 32655, the two products sum to
        # <= 2049 * 32655 / 65536 < 1021, and (1020 + 2) >> 2 = 255
        r0 = np.take(hrows, np.searchsorted(rows, v0), axis=0)
        r1 = np.take(hrows, np.searchsorted(rows, v1), axis=0)
        r0 *= b0[y : y + band, None]
        r0 >>= 16
        r1 *= b1[y : y + band, None]
        r1 >>= 16
        r0 += r1
        r0 += 2
        r0 >>= 2
        out[y : y + band] = r0.reshape(-1, cw, cn)
    return _finish(out, img)


def resize_nearest(img: np.ndarray, new_w: int, new_h: int, window: Optional[Window] = None) -> np.ndarray:
    """``cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_NEAREST)`` for uint8 (any channel count), bit-exact;
    with ``window=(x0, y0, cw, ch)`` only that part of the result is computed and returned."""
    src, h, w, new_w, new_h, x0, y0, cw, ch = _prepare(img, new_w, new_h, window)
    if (new_w, new_h) == (w, h):
        return _finish(src[y0 : y0 + ch, x0 : x0 + cw].copy(), img)
    fx = 1.0 / (new_w / w)
    fy = 1.0 / (new_h / h)
    sx = np.minimum(np.floor(np.arange(x0, x0 + cw, dtype=np.float64) * fx).astype(np.int64), w - 1)
    sy = np.minimum(np.floor(np.arange(y0, y0 + ch, dtype=np.float64) * fy).astype(np.int64), h - 1)
    if src.flags.c_contiguous:
        out = np.take(src.reshape(h * w, src.shape[2]), (sy * w)[:, None] + sx, axis=0)
    else:
        out = np.take(np.take(src, sy, axis=0), sx, axis=1)
    return _finish(out, img)
