"""PaddleX's image-classification preprocessing as pure functions over RGB uint8 HWC images.

Exactness notes (pinned by tests against PaddleX 3.7.2's own tensors in ../shared/reference):

* ``ResizeImage(resize_short=S)``: ``scale = S / min(h, w)``; new sides are Python ``round()`` (half to even);
  no resize when the size is unchanged; cv2 by default, Pillow when ``backend: pil`` (its bicubic antialiases,
  unlike cv2's INTER_CUBIC).
* The cv2 backend's INTER_LINEAR and INTER_NEAREST never call OpenCV: the preprocessing kernel (:mod:`.kernel`:
  the compiled ``_kernel.c``, or the numpy code of :mod:`.resize` it equals bit for bit) gives x86-64 OpenCV's pixels
  on every machine, and computes a resize followed by a crop for the crop window only. The other cv2 interpolations
  (cubic, area, lanczos) have no port and need OpenCV installed.
* ``CropImage(size)``: centre crop with ``x0 = (w - cw) // 2``; an image smaller than the crop is an error.
* ``NormalizeImage``: folded as ``x * (scale / std) + (-mean / std)`` in float32, channel by channel.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Sequence, Union

import numpy as np
from PIL import Image

from . import kernel as kernels
from .errors import BundleError, PreprocessError

# OpenCV's interpolation flags by name (cv2 is imported only when it is used: the runtime can run without it)
_CV2_INTERPOLATION = {
    "nearest": "INTER_NEAREST",
    "linear": "INTER_LINEAR",
    "bilinear": "INTER_LINEAR",
    "cubic": "INTER_CUBIC",
    "bicubic": "INTER_CUBIC",
    "area": "INTER_AREA",
    "lanczos": "INTER_LANCZOS4",
    "lanczos4": "INTER_LANCZOS4",
}
# the cv2-backend interpolations the kernel computes (by canonical name): OpenCV is never called for them
_KERNEL_RESIZE = ("linear", "nearest")


@functools.lru_cache(maxsize=None)
def _cv2_module():
    """The cv2 module, or None when OpenCV is not installed (or does not import)."""
    try:
        import cv2  # noqa: PLC0415 - optional: OpenCV only for the interpolations not ported to the kernel
    except ImportError:
        return None
    return cv2


def _require_cv2(interpolation: str):
    cv2 = _cv2_module()
    if cv2 is None:
        raise PreprocessError(
            f"ResizeImage: interpolation {interpolation!r} with backend 'cv2' needs OpenCV, which is not installed "
            "(only linear and nearest have a port); install opencv-python-headless"
        )
    return cv2


_PIL_INTERPOLATION = {
    "nearest": Image.NEAREST,
    "linear": Image.BILINEAR,
    "bilinear": Image.BILINEAR,
    "cubic": Image.BICUBIC,
    "bicubic": Image.BICUBIC,
    "box": Image.BOX,
    "lanczos": Image.LANCZOS,
    "lanczos4": Image.LANCZOS,
}


def _canonical_interpolation(name: str, backend: str) -> str:
    key = str(name).strip().lower()
    table = _PIL_INTERPOLATION if backend == "pil" else _CV2_INTERPOLATION
    if key not in table:
        raise BundleError(
            f"ResizeImage: interpolation {name!r} is not supported with backend {backend!r}; "
            f"use one of {sorted(table)}"
        )
    return {"bilinear": "linear", "cubic": "bicubic", "lanczos4": "lanczos"}.get(key, key)


@dataclass(frozen=True)
class ResizeImage:
    """Resize by the short side (``resize_short``) or to a fixed ``size_wh``."""

    resize_short: int | None = None
    size_wh: tuple[int, int] | None = None
    interpolation: str = "linear"
    backend: str = "cv2"

    def __post_init__(self) -> None:
        if (self.resize_short is None) == (self.size_wh is None):
            raise BundleError("ResizeImage needs exactly one of resize_short or size")
        if self.resize_short is not None and int(self.resize_short) <= 0:
            raise BundleError(f"ResizeImage: resize_short must be positive, got {self.resize_short}")
        if self.size_wh is not None and (len(self.size_wh) != 2 or min(self.size_wh) <= 0):
            raise BundleError(f"ResizeImage: size must be [width, height] > 0, got {self.size_wh}")
        if self.backend not in ("cv2", "pil"):
            raise BundleError(f"ResizeImage: backend must be 'cv2' or 'pil', got {self.backend!r}")
        object.__setattr__(self, "interpolation", _canonical_interpolation(self.interpolation, self.backend))

    def output_hw(self, height: int, width: int) -> tuple[int, int]:
        if self.size_wh is not None:
            return int(self.size_wh[1]), int(self.size_wh[0])
        scale = self.resize_short / min(height, width)
        return round(height * scale), round(width * scale)

    def __call__(self, image_hwc: np.ndarray, kernel: kernels.Kernel | None = None) -> np.ndarray:
        h, w = image_hwc.shape[:2]
        new_h, new_w = self.output_hw(h, w)
        if (new_h, new_w) == (h, w):
            return image_hwc
        if self.backend == "pil":
            resized = Image.fromarray(image_hwc).resize((new_w, new_h), _PIL_INTERPOLATION[self.interpolation])
            return np.asarray(resized)
        if self.interpolation in _KERNEL_RESIZE:
            return (kernel or kernels.from_env()).resize(image_hwc, self.interpolation, new_w, new_h)
        cv2 = _require_cv2(self.interpolation)
        image = np.ascontiguousarray(image_hwc)
        return cv2.resize(image, (new_w, new_h), interpolation=getattr(cv2, _CV2_INTERPOLATION[self.interpolation]))

    def resize_and_crop(self, image_hwc: np.ndarray, crop: "CropImage",
                        kernel: kernels.Kernel | None = None) -> np.ndarray:
        """``crop(self(image_hwc))``, computed for the crop window only when the kernel resizes."""
        h, w = image_hwc.shape[:2]
        new_h, new_w = self.output_hw(h, w)
        if self.backend != "cv2" or self.interpolation not in _KERNEL_RESIZE or (new_h, new_w) == (h, w):
            return crop(self(image_hwc, kernel))
        window = crop.window(new_w, new_h)
        return (kernel or kernels.from_env()).resize(image_hwc, self.interpolation, new_w, new_h, window)

    def to_yml(self) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if self.resize_short is not None:
            args["resize_short"] = int(self.resize_short)
        else:
            args["size"] = [int(self.size_wh[0]), int(self.size_wh[1])]
        if self.interpolation != "linear" or self.backend != "cv2":
            args["interpolation"] = self.interpolation
            args["backend"] = self.backend
        return {"ResizeImage": args}


@dataclass(frozen=True)
class CropImage:
    """Centre crop to ``size_wh``."""

    size_wh: tuple[int, int]

    def __post_init__(self) -> None:
        if len(self.size_wh) != 2 or min(self.size_wh) <= 0:
            raise BundleError(f"CropImage: size must be positive, got {self.size_wh}")

    def window(self, width: int, height: int) -> tuple[int, int, int, int]:
        """``(x0, y0, cw, ch)`` of the crop in a ``width`` x ``height`` image."""
        cw, ch = self.size_wh
        if width < cw or height < ch:
            raise PreprocessError(f"image of {width}x{height} is smaller than the crop {cw}x{ch}")
        return (width - cw) // 2, (height - ch) // 2, cw, ch

    def __call__(self, image_hwc: np.ndarray) -> np.ndarray:
        h, w = image_hwc.shape[:2]
        x0, y0, cw, ch = self.window(w, h)
        return image_hwc[y0 : y0 + ch, x0 : x0 + cw]

    def to_yml(self) -> dict[str, Any]:
        cw, ch = self.size_wh
        return {"CropImage": {"size": int(cw) if cw == ch else [int(cw), int(ch)]}}


IMAGENET_MEAN = (0.485, 0.456, 0.406)  # PaddleX's NormalizeImage defaults: ImageNet's RGB statistics
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class NormalizeImage:
    """``x * (scale / std) + (-mean / std)`` in float32 (PaddleX's folded form)."""

    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    scale: float = 1.0 / 255.0
    order: str = "hwc"
    alpha: np.ndarray = field(init=False, repr=False, compare=False)
    beta: np.ndarray = field(init=False, repr=False, compare=False)
    lut: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.mean) != 3 or len(self.std) != 3:
            raise BundleError(f"NormalizeImage: mean and std need 3 values, got {self.mean} and {self.std}")
        if any(s == 0 for s in self.std):
            raise BundleError(f"NormalizeImage: std must not contain 0, got {self.std}")
        if self.order not in ("hwc", "chw"):
            raise BundleError(f"NormalizeImage: order must be '', 'hwc' or 'chw', got {self.order!r}")
        # Python floats (double) first, then float32, exactly like PaddleX's Normalize.
        alpha = np.array([self.scale / s for s in self.std], dtype=np.float32)
        beta = np.array([-m / s for m, s in zip(self.mean, self.std)], dtype=np.float32)
        object.__setattr__(self, "alpha", alpha)
        object.__setattr__(self, "beta", beta)
        # uint8 inputs have 256 values per channel: tabulate the same two float32 operations once, so normalising an
        # image is a table lookup (bit-identical to __call__, about 4x faster, and it writes CHW directly)
        values = np.arange(256, dtype=np.float32)
        lut = np.empty((3, 256), dtype=np.float32)
        for c in range(3):
            row = values * alpha[c]
            row += beta[c]
            lut[c] = row
        object.__setattr__(self, "lut", lut)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        x = image.astype(np.float32)
        if self.order == "chw":
            x *= self.alpha[:, None, None]
            x += self.beta[:, None, None]
        else:
            x *= self.alpha
            x += self.beta
        return x

    def to_yml(self) -> dict[str, Any]:
        return {
            "NormalizeImage": {
                "channel_num": 3,
                "mean": [float(m) for m in self.mean],
                "std": [float(s) for s in self.std],
                "scale": float(self.scale),
                "order": "" if self.order == "hwc" else "chw",
            }
        }


@dataclass(frozen=True)
class ToCHWImage:
    """HWC -> CHW."""

    def __call__(self, image_hwc: np.ndarray) -> np.ndarray:
        return image_hwc.transpose(2, 0, 1)

    def to_yml(self) -> dict[str, Any]:
        return {"ToCHWImage": None}


Op = Union[ResizeImage, CropImage, NormalizeImage, ToCHWImage]


def parse_scale(value: Any) -> float:
    """Accept 0.0039..., "1.0/255.0" or "1/255" without eval."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            if "/" in text:
                num, den = text.split("/", 1)
                return float(Fraction(num.strip()) / Fraction(den.strip()))
            return float(text)
        except (ValueError, ZeroDivisionError) as e:
            raise BundleError(f"NormalizeImage: cannot read scale {value!r} as a number or a fraction") from e
    raise BundleError(f"NormalizeImage: scale must be a number or a fraction string, got {value!r}")


def _size_pair(value: Any, op: str) -> tuple[int, int]:
    if isinstance(value, bool):
        raise BundleError(f"{op}: size must be an integer or [width, height], got {value!r}")
    if isinstance(value, int):
        return (value, value)
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return (int(value[0]), int(value[1]))
    raise BundleError(f"{op}: size must be an integer or [width, height], got {value!r}")


_KNOWN_OPS = ("ResizeImage", "CropImage", "NormalizeImage", "ToCHWImage")


def op_from_yml(entry: Any) -> Op:
    """Build one op from an ``inference.yml`` ``transform_ops`` entry like ``{"CropImage": {"size": 224}}``."""
    if not isinstance(entry, dict) or len(entry) != 1:
        raise BundleError(f"each transform_ops entry must be a mapping with one op name, got {entry!r}")
    (name, args), = entry.items()
    args = dict(args or {})
    try:
        if name == "ResizeImage":
            backend = str(args.pop("backend", "cv2") or "cv2").lower()
            interpolation = str(args.pop("interpolation", None) or "linear")
            resize_short = args.pop("resize_short", None)
            size = args.pop("size", None)
            _no_extra(name, args)
            return ResizeImage(
                resize_short=int(resize_short) if resize_short else None,
                size_wh=_size_pair(size, name) if size is not None and not resize_short else None,
                interpolation=interpolation,
                backend=backend,
            )
        if name == "CropImage":
            size = args.pop("size", 224)
            _no_extra(name, args)
            return CropImage(size_wh=_size_pair(size, name))
        if name == "NormalizeImage":
            channel_num = int(args.pop("channel_num", 3))
            if channel_num != 3:
                raise BundleError(f"NormalizeImage: only channel_num 3 is supported, got {channel_num}")
            order = str(args.pop("order", "") or "hwc").lower()
            op = NormalizeImage(
                mean=tuple(float(v) for v in args.pop("mean", IMAGENET_MEAN)),
                std=tuple(float(v) for v in args.pop("std", IMAGENET_STD)),
                scale=parse_scale(args.pop("scale", 1.0 / 255.0)),
                order=order,
            )
            _no_extra(name, args)
            return op
        if name == "ToCHWImage":
            _no_extra(name, args)
            return ToCHWImage()
    except (TypeError, ValueError) as e:
        raise BundleError(f"{name}: invalid arguments {entry[name]!r} ({e})") from e
    raise BundleError(
        f"unknown preprocessing op {name!r} in inference.yml; supported ops: {', '.join(_KNOWN_OPS)}"
    )


def _no_extra(name: str, args: dict[str, Any]) -> None:
    if args:
        raise BundleError(f"{name}: unsupported argument(s) {sorted(args)}")


@dataclass(frozen=True)
class PreprocessSpec:
    """An ordered op list that turns an RGB uint8 HWC image into a float32 CHW model input."""

    ops: tuple[Op, ...]
    #: the preprocessing kernel (compiled or numpy, the same bytes); default: ``$IMGCLS_ONNX_KERNEL``, read once here
    kernel: kernels.Kernel | None = field(default=None, compare=False)
    image_ops: tuple[Op, ...] = field(init=False, repr=False, compare=False)
    normalize_tail: NormalizeImage | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.ops:
            raise BundleError("the preprocessing op list is empty")
        if self.kernel is None:
            object.__setattr__(self, "kernel", kernels.from_env())
        if not any(isinstance(op, ToCHWImage) for op in self.ops):
            raise BundleError("the preprocessing op list must contain ToCHWImage (models take NCHW input)")
        cut = next((i for i, op in enumerate(self.ops) if isinstance(op, NormalizeImage)), len(self.ops))
        # the ops that keep a uint8 HWC image (resize, crop); a fused-preprocessing model takes their output
        object.__setattr__(self, "image_ops", tuple(self.ops[:cut]))
        # the usual list ends in NormalizeImage (hwc), ToCHWImage: that tail is one table lookup per channel (fill),
        # and what a fused-preprocessing graph takes over; None for any other tail
        tail = self.ops[cut:]
        usual = len(tail) == 2 and isinstance(tail[0], NormalizeImage) and tail[0].order == "hwc"
        usual = usual and isinstance(tail[1], ToCHWImage)
        object.__setattr__(self, "normalize_tail", tail[0] if usual else None)

    def apply_image_ops(self, image_hwc: np.ndarray) -> np.ndarray:
        """Resize/crop: the uint8 HWC image before normalisation (what a fused-preprocessing model takes)."""
        x = image_hwc
        ops = self.image_ops
        i = 0
        while i < len(ops):
            op = ops[i]
            if isinstance(op, ResizeImage) and i + 1 < len(ops) and isinstance(ops[i + 1], CropImage):
                x = op.resize_and_crop(x, ops[i + 1], self.kernel)  # the same pixels; the kernel computes the window
                i += 2
            else:
                x = op(x, self.kernel) if isinstance(op, ResizeImage) else op(x)
                i += 1
        return x

    def stage(self, image_hwc: np.ndarray) -> np.ndarray:
        """The per-image part that :meth:`fill` completes: the resized, cropped uint8 HWC image when the op list ends
        in ``NormalizeImage, ToCHWImage`` (the usual case), else the finished float32 CHW tensor."""
        x = self.apply_image_ops(image_hwc)
        if self.normalize_tail is not None and x.dtype == np.uint8 and x.ndim == 3 and x.shape[2] == 3:
            return x
        for op in self.ops[len(self.image_ops):]:
            x = op(x)
        return x.astype(np.float32, copy=False)

    def staged_shape(self, staged: np.ndarray) -> tuple[int, ...]:
        """The CHW shape that :meth:`fill` writes for ``staged``."""
        if staged.dtype == np.uint8:
            return (3, staged.shape[0], staged.shape[1])
        return tuple(staged.shape)

    def fill(self, staged: np.ndarray, out_chw: np.ndarray) -> None:
        """Write the model input for a :meth:`stage` result into ``out_chw`` (float32 CHW, e.g. a batch row)."""
        if staged.dtype == np.uint8:
            self.kernel.lookup(staged, self.normalize_tail.lut, out_chw)
        else:
            out_chw[...] = staged

    @classmethod
    def from_yml_ops(cls, entries: Sequence[Any]) -> "PreprocessSpec":
        if not isinstance(entries, (list, tuple)):
            raise BundleError(f"PreProcess.transform_ops must be a list, got {type(entries).__name__}")
        return cls(tuple(op_from_yml(e) for e in entries))

    @classmethod
    def imagenet(
        cls,
        resize_short: int = 256,
        crop: int = 224,
        interpolation: str = "linear",
        backend: str = "cv2",
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        scale: float = 1.0 / 255.0,
    ) -> "PreprocessSpec":
        return cls(
            (
                ResizeImage(resize_short=resize_short, interpolation=interpolation, backend=backend),
                CropImage(size_wh=(crop, crop)),
                NormalizeImage(mean=tuple(mean), std=tuple(std), scale=scale),
                ToCHWImage(),
            )
        )

    def with_kernel(self, kernel: kernels.Kernel) -> "PreprocessSpec":
        """The same op list run by ``kernel``."""
        return PreprocessSpec(self.ops, kernel)

    def to_yml_ops(self) -> list[dict[str, Any]]:
        return [op.to_yml() for op in self.ops]

    @property
    def decode_min_side(self) -> int | None:
        """The smallest short side the first op can start from without upscaling (``resize_short``), else None:
        how far an opt-in reduced JPEG decode may go."""
        first = self.ops[0]
        if isinstance(first, ResizeImage) and first.resize_short is not None:
            return int(first.resize_short)
        return None

    @property
    def output_hw(self) -> tuple[int, int] | None:
        """The (height, width) of every output when a crop or fixed resize fixes it, else None."""
        hw = None
        for op in self.ops:
            if isinstance(op, CropImage):
                hw = (op.size_wh[1], op.size_wh[0])
            elif isinstance(op, ResizeImage):
                hw = (op.size_wh[1], op.size_wh[0]) if op.size_wh is not None else None
        return hw

    def __call__(self, image_hwc: np.ndarray) -> np.ndarray:
        staged = self.stage(image_hwc)
        if staged.dtype != np.uint8:
            return staged
        out = np.empty(self.staged_shape(staged), dtype=np.float32)
        self.fill(staged, out)
        return out

    def reference(self, image_hwc: np.ndarray) -> np.ndarray:
        """Op by op, as PaddleX runs them (no lookup table): what the exactness tests hold :meth:`__call__` to."""
        x = image_hwc
        for op in self.ops:
            x = op(x, self.kernel) if isinstance(op, ResizeImage) else op(x)
        return x.astype(np.float32, copy=False)

    def batch(self, images_hwc: Sequence[np.ndarray]) -> np.ndarray:
        """Preprocess and stack into one float32 NCHW batch (PaddleX's ToBatch)."""
        staged = [self.stage(im) for im in images_hwc]
        shapes = {self.staged_shape(s) for s in staged}
        if len(shapes) != 1:
            raise PreprocessError(f"images preprocess to different shapes {sorted(shapes)}; they cannot share a batch")
        out = np.empty((len(staged), *shapes.pop()), dtype=np.float32)
        for row, s in zip(out, staged):
            self.fill(s, row)
        return out
