"""The numpy resize (imgcls_onnx/runtime/resize.py) against this machine's OpenCV (x86-64, the reference platform):
bit-exact on random images of 1 to 4000 px a side, at the sizes the zoo's op lists produce, and the whole
preprocessing of every distinct zoo op list identical on the portable and the OpenCV path."""
from __future__ import annotations

import json
import platform
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import ROOT

from imgcls_onnx.runtime import transforms
from imgcls_onnx.runtime.errors import PreprocessError
from imgcls_onnx.runtime.resize import linear_table, resize_linear, resize_nearest
from imgcls_onnx.runtime.transforms import PreprocessSpec, ResizeImage, portable_resize_default

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


def _zoo_op_lists():
    models = json.loads((ROOT / "imgcls_onnx" / "zoo_manifest.json").read_text())["models"]
    lists = {json.dumps(m["transform_ops"], sort_keys=True): m["transform_ops"] for m in models}
    return list(lists.values())


def test_every_zoo_op_list_is_identical_on_the_portable_and_the_opencv_path(monkeypatch):
    op_lists = _zoo_op_lists()
    assert len(op_lists) >= 5
    interpolations = {(op["ResizeImage"].get("backend", "cv2"), op["ResizeImage"].get("interpolation", "linear"))
                      for ops in op_lists for op in ops if "ResizeImage" in op}
    assert ("cv2", "linear") in interpolations
    rng = np.random.default_rng(11)
    sizes = [(224, 224), (256, 341), (480, 640), (3000, 4000), (1000, 449), (512, 512), (448, 900), (97, 301),
             (2048, 1536), (231, 300), (333, 333), (800, 601)]
    images = [_content(rng, h, w, 3) for h, w in sizes]
    for ops in op_lists:
        spec = PreprocessSpec.from_yml_ops(ops)
        fixed = spec.output_hw is None  # a fixed-size resize with no crop: one batch for every size
        batches = {}
        for mode in ("cv2", "portable"):
            monkeypatch.setenv(transforms.RESIZE_ENV, mode)
            assert portable_resize_default() is (mode == "portable")
            # Pillow's path is the same code either way: its lists run on the smaller images only
            pil = any(op.get("ResizeImage", {}).get("backend") == "pil" for op in ops)
            usable = [im for im in images if (fixed or min(im.shape[:2]) >= 16) and not (pil and im.size > 1e6)]
            # batch: the fused resize + crop window (portable) or op by op (cv2); reference: op by op
            batches[mode] = (spec.batch(usable), [spec.reference(im) for im in usable])
        cv2_batch, cv2_ref = batches["cv2"]
        np_batch, np_ref = batches["portable"]
        assert cv2_batch.dtype == np.float32 and np.array_equal(cv2_batch, np_batch), json.dumps(ops)
        assert all(np.array_equal(a, b) for a, b in zip(cv2_ref, np_ref)), json.dumps(ops)
        assert all(np.array_equal(a, b) for a, b in zip(np_batch, np_ref))


def test_the_choice_of_path(monkeypatch):
    monkeypatch.delenv(transforms.RESIZE_ENV, raising=False)
    assert portable_resize_default() is False  # x86-64 with OpenCV: cv2 stays the default for now
    monkeypatch.setattr(transforms.platform, "machine", lambda: "aarch64")
    assert portable_resize_default() is True  # OpenCV's aarch64 INTER_LINEAR is not the reference
    monkeypatch.setenv(transforms.RESIZE_ENV, "cv2")
    assert portable_resize_default() is False  # asked for explicitly
    monkeypatch.setattr(transforms.platform, "machine", lambda: "AMD64")
    monkeypatch.setenv(transforms.RESIZE_ENV, "auto")
    assert portable_resize_default() is False
    monkeypatch.setenv(transforms.RESIZE_ENV, "portable")
    assert portable_resize_default() is True
    monkeypatch.setenv(transforms.RESIZE_ENV, "fast")
    with pytest.raises(PreprocessError, match="IMGCLS_ONNX_RESIZE"):
        portable_resize_default()
    monkeypatch.delenv(transforms.RESIZE_ENV)
    monkeypatch.setattr(transforms, "_cv2_module", lambda: None)  # OpenCV not installed
    assert portable_resize_default() is True
    img = np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    out = ResizeImage(resize_short=24)(img)
    assert np.array_equal(out, cv2.resize(img, (34, 24)))
    with pytest.raises(PreprocessError, match="no numpy port"):
        ResizeImage(resize_short=24, interpolation="bicubic")(img)
    monkeypatch.setenv(transforms.RESIZE_ENV, "cv2")
    with pytest.raises(PreprocessError, match="not installed"):
        ResizeImage(resize_short=24)(img)
    # Pillow's path is Pillow's whatever the choice
    pil = ResizeImage(resize_short=24, interpolation="bicubic", backend="pil")
    monkeypatch.setenv(transforms.RESIZE_ENV, "portable")
    assert pil(img).shape == (24, 34, 3)


def test_preprocessing_runs_without_opencv(monkeypatch):
    """cv2 made unimportable: the default path is the numpy one, with OpenCV's x86-64 pixels."""
    code = textwrap.dedent(
        """
        import sys
        sys.modules["cv2"] = None  # import cv2 -> ImportError
        import numpy as np
        from imgcls_onnx.runtime.transforms import PreprocessSpec, portable_resize_default
        assert portable_resize_default()
        img = np.random.default_rng(5).integers(0, 256, (300, 451, 3), dtype=np.uint8)
        sys.stdout.buffer.write(PreprocessSpec.imagenet().batch([img]).tobytes())
        """
    )
    monkeypatch.delenv(transforms.RESIZE_ENV, raising=False)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr.decode()
    img = np.random.default_rng(5).integers(0, 256, (300, 451, 3), dtype=np.uint8)
    monkeypatch.setenv(transforms.RESIZE_ENV, "cv2")
    expected = PreprocessSpec.imagenet().batch([img])  # this process: the OpenCV path
    assert np.array_equal(np.frombuffer(proc.stdout, np.float32).reshape(expected.shape), expected)
