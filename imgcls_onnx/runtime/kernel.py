"""The preprocessing kernel in force: the compiled one (``_kernel.c``) or the numpy code it equals bit for bit.

One setting, ``$IMGCLS_ONNX_KERNEL``: ``auto`` (or unset) takes the compiled kernel when the installed package has
it (a platform wheel; an sdist built with a C compiler) and numpy otherwise; ``compiled`` insists on it (an error
where it is missing); ``numpy`` runs the pure-Python path (``runtime/resize.py``, the oracle the tests hold the
kernel to). It is read when a model is built (:func:`from_env`), never per image: a bad value is one
:class:`KernelSettingError` then. Both kernels give the same bytes; only the speed differs.

A kernel does the three steps of the exact preprocessing that cost time:

* ``resize(image, interpolation, new_w, new_h, window)``: OpenCV's x86-64 INTER_LINEAR (with its exact-halving
  INTER_AREA path) or INTER_NEAREST of a uint8 ``(h, w[, c])`` array of any strides, computing only the ``window``
  ``(x0, y0, cw, ch)`` of the output (a following centre crop);
* ``lookup(staged, lut, out)``: the normalisation table lookup, ``out[c, y, x] = lut[c, staged[y, x, c]]``
  (``PreprocessSpec.fill``), written straight into a batch row;
* ``pixels(image)``: a decoded Pillow image's pixels as an ``(h, w, 3)`` uint8 view of Pillow's own buffer (Arrow's
  C data interface, Pillow >= 11.2), without a copy; None where that is not possible (then the caller copies).
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

import numpy as np

from .resize import _finish, _prepare, resize_linear, resize_nearest

try:
    from . import _kernel as _compiled
except ImportError:  # an sdist installed without a C compiler, or a platform without a wheel: numpy does the work
    _compiled = None

#: ``auto`` (default), ``compiled`` or ``numpy``
KERNEL_ENV = "IMGCLS_ONNX_KERNEL"
CHOICES = ("auto", "compiled", "numpy")

Window = Tuple[int, int, int, int]
_MODES = {"linear": 0, "nearest": 1}
_NUMPY_RESIZE = {"linear": resize_linear, "nearest": resize_nearest}


class KernelSettingError(ValueError):
    """``$IMGCLS_ONNX_KERNEL`` names no kernel, or the compiled one it asks for is not installed."""


def compiled_available() -> bool:
    return _compiled is not None


@dataclass(frozen=True)
class Kernel:
    """One kernel: ``name`` is ``"compiled"`` or ``"numpy"``."""

    name: str

    @property
    def compiled(self) -> bool:
        return self.name == "compiled"

    def resize(self, image: np.ndarray, interpolation: str, new_w: int, new_h: int,
               window: Optional[Window] = None) -> np.ndarray:
        """``cv2.resize`` (INTER_LINEAR or INTER_NEAREST, x86-64 pixels) of a uint8 image, only ``window`` of it;
        the result is a new C-contiguous array with the input's number of dimensions."""
        if not self.compiled:
            return _NUMPY_RESIZE[interpolation](image, new_w, new_h, window)
        src, _, _, new_w, new_h, x0, y0, cw, ch = _prepare(image, new_w, new_h, window)  # resize.py's checks
        out = np.empty((ch, cw, src.shape[2]), np.uint8)
        _compiled.resize(src, _MODES[interpolation], new_w, new_h, x0, y0, cw, ch, out)
        return _finish(out, image)

    def lookup(self, staged: np.ndarray, lut: np.ndarray, out: np.ndarray) -> None:
        """``out[c] = lut[c][staged[:, :, c]]`` for the 3 channels (float32 CHW ``out``, e.g. a batch row)."""
        if self.compiled and out.flags.c_contiguous and out.dtype == np.float32:
            _compiled.lookup(staged, lut, out)
            return
        for c in range(3):
            np.take(lut[c], staged[:, :, c], out=out[c])

    def pixels(self, image) -> Optional[np.ndarray]:
        """A loaded RGB, RGBA or RGBX Pillow image's first three channels as a read-only ``(h, w, 3)`` view of
        Pillow's buffer (it keeps that buffer alive), or None: numpy kernel, another mode, a Pillow without Arrow
        export, or an image Pillow keeps in several memory blocks (large ones)."""
        if not self.compiled or image.mode not in ("RGB", "RGBA", "RGBX"):
            return None
        width, height = image.size
        export: Callable | None = getattr(image, "__arrow_c_array__", None)
        if export is None or width <= 0 or height <= 0:
            return None
        try:
            buffer = _compiled.arrow_pixels(export(), width * height * 4)
        except ValueError:  # several blocks (Pillow exports single-block images only), or an unexpected layout
            return None
        return np.frombuffer(buffer, np.uint8).reshape(height, width, 4)[:, :, :3]


COMPILED = Kernel("compiled")
NUMPY = Kernel("numpy")


@functools.lru_cache(maxsize=None)
def resolve(value: str | None) -> Kernel:
    """The kernel a setting value names (None or "" is ``auto``); raises KernelSettingError."""
    choice = (value or "auto").strip().lower()
    if choice not in CHOICES:
        raise KernelSettingError(f"${KERNEL_ENV}={value!r} is not a kernel; use one of {', '.join(CHOICES)}")
    if choice == "numpy":
        return NUMPY
    if choice == "compiled" and _compiled is None:
        raise KernelSettingError(
            f"${KERNEL_ENV}=compiled but this install has no compiled kernel (a wheel for this platform, or an sdist "
            "built with a C compiler, has it); unset it to use the numpy kernel"
        )
    return COMPILED if _compiled is not None else NUMPY


def from_env() -> Kernel:
    """The kernel ``$IMGCLS_ONNX_KERNEL`` asks for (read now; called when a model is built)."""
    return resolve(os.environ.get(KERNEL_ENV))
