"""The numpy resize (imgcls_onnx/runtime/resize.py) against this machine's OpenCV (x86-64, the reference platform):
bit-exact on random images of 1 to 4000 px a side, at the sizes the zoo's op lists produce."""
from __future__ import annotations

import platform

import numpy as np
import pytest

from imgcls_onnx.runtime.resize import linear_table, resize_linear, resize_nearest
from imgcls_onnx.runtime.transforms import ResizeImage

cv2 = pytest.importorskip("cv2")

if platform.machine().lower() not in ("x86_64", "amd64"):
    pytest.skip("not applicable: the reference is x86-64 OpenCV; on this machine cv2.resize is not the reference",
                allow_module_level=True)

RESIZE_SHORT = (224, 232, 236, 256, 438, 448)  # the zoo's (cv2: 224, 256, 448; pil: 232, 236, 256, 384, 438)
FIXED_WH = ((192, 48), (224, 224), (160, 80))
MAX_OUT_PIXELS = 1_500_000  # a resize_short of a 1x3000 strip would be 256x768000: such targets become fixed sizes


def _short_side(h: int, w: int, short: int) -> tuple[int, int]:
    return ResizeImage(resize_short=short).output_hw(h, w)  # Python round(), as PaddleX


def _content(rng: np.random.Generator, h: int, w: int, c: int) -> np.ndarray:
    kind = rng.integers(4)
    if kind == 0 or h * w > 400_000:  # noise: every rounding decision is exercised
        return rng.integers(0, 256, (h, w, c), dtype=np.uint8)
    if kind == 1:  # saturated: 0 and 255 only (the extremes of the fixed-point range)
        return (rng.integers(0, 2, (h, w, c), dtype=np.uint8) * 255).astype(np.uint8)
    if kind == 2:  # smooth gradients
        yy, xx = np.mgrid[0:h, 0:w]
        base = (xx * rng.uniform(0.1, 3) + yy * rng.uniform(0.1, 3))[:, :, None] + rng.uniform(0, 255, c)
        return (base % 256).astype(np.uint8)
    return np.clip(rng.normal(128, 60, (h, w, c)), 0, 255).astype(np.uint8)


def _cases():
    """(height, width, channels) of the images: edge cases first, then log-uniform random sides in [1, 4000]."""
    edges = [(1, 1, 3), (1, 2, 3), (2, 1, 1), (2, 2, 3), (1, 4000, 3), (4000, 1, 3), (1, 37, 1), (53, 1, 3),
             (3000, 4000, 3), (4000, 3000, 1), (480, 640, 3), (375, 500, 3), (512, 512, 3), (448, 448, 3),
             (256, 341, 3), (224, 224, 1), (7, 5, 3), (3, 9, 1), (999, 1333, 3), (2048, 1536, 3), (33, 4000, 3),
             (4000, 4000, 1), (255, 255, 3), (257, 257, 3), (96, 96, 4), (601, 803, 4)]
    rng = np.random.default_rng(20250125)
    out = list(edges)
    while len(out) < 520:
        h, w = (int(np.exp(rng.uniform(0, np.log(4000.5)))) for _ in range(2))
        if rng.random() < 0.15:  # even sides: the exact 2x downscale (OpenCV's INTER_AREA shortcut) is a case
            h, w = max(2, h + h % 2), max(2, w + w % 2)
        out.append((h, w, int(rng.choice([1, 3, 3, 4], p=[0.3, 0.4, 0.2, 0.1]))))
    return out


def _targets(rng: np.random.Generator, h: int, w: int) -> list[tuple[int, int]]:
    """(new_h, new_w) as the zoo's op lists produce them, plus exact halving, an upscale and a random size."""
    targets = []
    for short in rng.choice(RESIZE_SHORT, 2, replace=False):
        nh, nw = _short_side(h, w, int(short))
        if nh * nw <= MAX_OUT_PIXELS and min(nh, nw) > 0:
            targets.append((nh, nw))
    fw, fh = FIXED_WH[rng.integers(len(FIXED_WH))]
    targets.append((fh, fw))
    if h % 2 == 0 and w % 2 == 0:
        targets.append((h // 2, w // 2))
    if h * w <= 40_000:
        targets.append((h * 2 + 1, w * 3))  # an upscale, uneven
    targets.append((int(rng.integers(1, 300)), int(rng.integers(1, 300))))
    return [t for t in targets if t != (h, w)]


def _cv2_resize(img: np.ndarray, nw: int, nh: int, interpolation: int) -> np.ndarray:
    return cv2.resize(img, (nw, nh), interpolation=interpolation).reshape(nh, nw, img.shape[2])


def test_bit_exact_with_cv2_on_random_images():
    rng = np.random.default_rng(7)
    cases = _cases()
    assert len(cases) >= 500
    checked = {"linear": 0, "window": 0, "nearest": 0, "halving": 0, "upscale": 0, "large": 0}
    for h, w, c in cases:
        img = _content(rng, h, w, c)
        for nh, nw in _targets(rng, h, w):
            ref = _cv2_resize(img, nw, nh, cv2.INTER_LINEAR)
            got = resize_linear(img, nw, nh)
            assert got.shape == ref.shape and got.dtype == np.uint8
            if not np.array_equal(got, ref):
                bad = np.argwhere(got != ref)[0]
                pytest.fail(f"INTER_LINEAR {w}x{h}x{c} -> {nw}x{nh}: {int((got != ref).sum())} values differ, first "
                            f"at {tuple(bad)}: ours {got[tuple(bad)]}, cv2 {ref[tuple(bad)]}")
            checked["linear"] += 1
            checked["halving"] += (nh * 2, nw * 2) == (h, w)
            checked["upscale"] += nh > h and nw > w
            checked["large"] += max(h, w) >= 2000
            # the window form (a following centre crop), as PreprocessSpec uses it
            cw, ch = min(nw, 224), min(nh, 224)
            x0, y0 = (nw - cw) // 2, (nh - ch) // 2
            assert np.array_equal(resize_linear(img, nw, nh, (x0, y0, cw, ch)), ref[y0 : y0 + ch, x0 : x0 + cw])
            checked["window"] += 1
        nh, nw = _targets(rng, h, w)[0] if (h, w) != (1, 1) else (3, 2)
        assert np.array_equal(resize_nearest(img, nw, nh), _cv2_resize(img, nw, nh, cv2.INTER_NEAREST)), (
            f"INTER_NEAREST {w}x{h}x{c} -> {nw}x{nh}")
        checked["nearest"] += 1
    assert checked["halving"] >= 30 and checked["upscale"] >= 100 and checked["large"] >= 20, checked


def test_coefficient_pairs_sum_to_2048_within_one():
    """What lets the vertical pass skip saturation (see resize.py): every pair of 11-bit weights sums to 2047..2049."""
    rng = np.random.default_rng(1)
    for src, dst in rng.integers(1, 5000, (300, 2)):
        for clamp in (True, False):
            _, a0, a1 = linear_table(int(src), int(dst), 0, int(dst), clamp)
            total = a0 + a1
            assert total.min() >= 2047 and total.max() <= 2049 and a0.min() >= 0 and a1.min() >= 0


def test_two_dimensional_and_strided_inputs():
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (301, 402, 3), dtype=np.uint8)
    gray = img[:, :, 1]  # (h, w) and not contiguous
    assert np.array_equal(resize_linear(gray, 120, 77), cv2.resize(np.ascontiguousarray(gray), (120, 77)))
    view = img[3:290, 5:399, ::-1]  # a crop and a channel flip: a strided view
    ref = cv2.resize(np.ascontiguousarray(view), (256, 187))
    assert np.array_equal(resize_linear(view, 256, 187), ref)
    assert np.array_equal(resize_linear(view, 256, 187, (16, 10, 224, 150)), ref[10:160, 16:240])
    ref = cv2.resize(np.ascontiguousarray(view), (97, 211), interpolation=cv2.INTER_NEAREST)
    assert np.array_equal(resize_nearest(view, 97, 211, (1, 2, 90, 200)), ref[2:202, 1:91])


def test_bad_arguments_are_errors():
    img = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="uint8"):
        resize_linear(img.astype(np.float32), 2, 2)
    with pytest.raises(ValueError, match="cannot resize"):
        resize_linear(img, 0, 2)
    with pytest.raises(ValueError, match="window"):
        resize_linear(img, 8, 8, (4, 0, 5, 8))
