"""The preprocessing kernel, compiled (imgcls_onnx/runtime/_kernel.c) and numpy (runtime/resize.py, its fallback
and oracle), against this machine's OpenCV (x86-64, the reference platform): bit-exact on 520 random images of 1 to
4000 px a side, at the sizes the zoo's op lists produce, with crop windows and strided sources; the whole
preprocessing of every distinct zoo op list identical on both kernels and OpenCV op by op; the numpy fallback when
the compiled kernel is hidden; a kernel broken on purpose is caught; the one setting and its errors."""
from __future__ import annotations

import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import textwrap

import numpy as np
import pytest
from helpers import ROOT

from imgcls_onnx.runtime import kernel as kernels
from imgcls_onnx.runtime.errors import PreprocessError
from imgcls_onnx.runtime.resize import linear_table
from imgcls_onnx.runtime.transforms import CropImage, NormalizeImage, PreprocessSpec, ResizeImage, ToCHWImage

cv2 = pytest.importorskip("cv2")

if platform.machine().lower() not in ("x86_64", "amd64"):
    pytest.skip("not applicable: the reference is x86-64 OpenCV; on this machine cv2.resize is not the reference",
                allow_module_level=True)

if not kernels.compiled_available():
    if os.environ.get("IMGCLS_NO_SKIP"):
        pytest.fail("the compiled kernel is not built (./scripts/test builds it with pip install -e .)", pytrace=False)
    pytest.skip("the compiled kernel is not built", allow_module_level=True)

KERNELS = [kernels.NUMPY, kernels.COMPILED]
KERNEL_IDS = ["numpy", "compiled"]

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


def check_against_cv2(kernel: kernels.Kernel) -> dict:
    """Every case of the 520-image corpus through ``kernel``, against cv2.resize; fails naming the first difference."""
    rng = np.random.default_rng(7)
    cases = _cases()
    assert len(cases) >= 500
    checked = {"linear": 0, "window": 0, "nearest": 0, "halving": 0, "upscale": 0, "large": 0}
    for h, w, c in cases:
        img = _content(rng, h, w, c)
        for nh, nw in _targets(rng, h, w):
            ref = _cv2_resize(img, nw, nh, cv2.INTER_LINEAR)
            got = kernel.resize(img, "linear", nw, nh)
            assert got.shape == ref.shape and got.dtype == np.uint8
            if not np.array_equal(got, ref):
                bad = np.argwhere(got != ref)[0]
                pytest.fail(f"{kernel.name} INTER_LINEAR {w}x{h}x{c} -> {nw}x{nh}: {int((got != ref).sum())} values "
                            f"differ, first at {tuple(bad)}: ours {got[tuple(bad)]}, cv2 {ref[tuple(bad)]}")
            checked["linear"] += 1
            checked["halving"] += (nh * 2, nw * 2) == (h, w)
            checked["upscale"] += nh > h and nw > w
            checked["large"] += max(h, w) >= 2000
            # the window form (a following centre crop), as PreprocessSpec uses it
            cw, ch = min(nw, 224), min(nh, 224)
            x0, y0 = (nw - cw) // 2, (nh - ch) // 2
            win = kernel.resize(img, "linear", nw, nh, (x0, y0, cw, ch))
            assert np.array_equal(win, ref[y0 : y0 + ch, x0 : x0 + cw]), (kernel.name, w, h, c, nw, nh, "window")
            checked["window"] += 1
        nh, nw = _targets(rng, h, w)[0] if (h, w) != (1, 1) else (3, 2)
        assert np.array_equal(kernel.resize(img, "nearest", nw, nh), _cv2_resize(img, nw, nh, cv2.INTER_NEAREST)), (
            f"{kernel.name} INTER_NEAREST {w}x{h}x{c} -> {nw}x{nh}")
        checked["nearest"] += 1
    assert checked["halving"] >= 30 and checked["upscale"] >= 100 and checked["large"] >= 20, checked
    return checked


@pytest.mark.parametrize("kernel", KERNELS, ids=KERNEL_IDS)
def test_bit_exact_with_cv2_on_random_images(kernel):
    check_against_cv2(kernel)


def _cc() -> str | None:
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")


def test_a_kernel_broken_on_purpose_is_caught(tmp_path, monkeypatch):
    """The check above is not blind: the kernel built with its final rounding off by one (``+ 2) >> 2`` ->
    ``+ 1) >> 2`` in the vertical pass) fails it."""
    cc = _cc()
    if cc is None:
        pytest.fail("no C compiler (cc) to build the broken kernel", pytrace=False)
    source = (ROOT / "imgcls_onnx" / "runtime" / "_kernel.c").read_text(encoding="utf-8")
    right = "((c1 * t1[i]) >> 16) + 2) >> 2);"
    assert source.count(right) == 1
    (tmp_path / "_kernel.c").write_text(source.replace(right, "((c1 * t1[i]) >> 16) + 1) >> 2);"), encoding="utf-8")
    built = tmp_path / ("_kernel" + sysconfig.get_config_var("EXT_SUFFIX"))
    subprocess.run([cc, "-O1", "-ffp-contract=off", "-std=c99", "-fPIC", "-shared",
                    "-I" + sysconfig.get_paths()["include"], str(tmp_path / "_kernel.c"), "-o", str(built), "-lm"],
                   check=True, capture_output=True, timeout=300)
    spec = importlib.util.spec_from_file_location("_kernel", built)
    broken = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(broken)
    monkeypatch.setattr(kernels, "_compiled", broken)
    with pytest.raises(pytest.fail.Exception, match="compiled INTER_LINEAR"):
        check_against_cv2(kernels.COMPILED)


def test_coefficient_pairs_sum_to_2048_within_one():
    """What lets the vertical pass skip saturation (see resize.py): every pair of 11-bit weights sums to 2047..2049."""
    rng = np.random.default_rng(1)
    for src, dst in rng.integers(1, 5000, (300, 2)):
        for clamp in (True, False):
            _, a0, a1 = linear_table(int(src), int(dst), 0, int(dst), clamp)
            total = a0 + a1
            assert total.min() >= 2047 and total.max() <= 2049 and a0.min() >= 0 and a1.min() >= 0


@pytest.mark.parametrize("kernel", KERNELS, ids=KERNEL_IDS)
def test_two_dimensional_and_strided_inputs(kernel):
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (301, 402, 3), dtype=np.uint8)
    gray = img[:, :, 1]  # (h, w) and not contiguous
    assert np.array_equal(kernel.resize(gray, "linear", 120, 77), cv2.resize(np.ascontiguousarray(gray), (120, 77)))
    view = img[3:290, 5:399, ::-1]  # a crop and a channel flip: a strided view
    ref = cv2.resize(np.ascontiguousarray(view), (256, 187))
    assert np.array_equal(kernel.resize(view, "linear", 256, 187), ref)
    assert np.array_equal(kernel.resize(view, "linear", 256, 187, (16, 10, 224, 150)), ref[10:160, 16:240])
    ref = cv2.resize(np.ascontiguousarray(view), (97, 211), interpolation=cv2.INTER_NEAREST)
    assert np.array_equal(kernel.resize(view, "nearest", 97, 211, (1, 2, 90, 200)), ref[2:202, 1:91])
    # what the decoder hands on: Pillow's RGBX buffer read as RGB (4-byte pixels), turned by EXIF (negative strides,
    # a transpose)
    rgbx = rng.integers(0, 256, (333, 517, 4), dtype=np.uint8)
    for src in (rgbx[:, :, :3], rgbx[::-1, ::-1, :3], rgbx[:, :, :3].transpose(1, 0, 2), np.rot90(rgbx[:, :, :3])):
        ref = cv2.resize(np.ascontiguousarray(src), (300, 251))
        assert np.array_equal(kernel.resize(src, "linear", 300, 251, (38, 13, 224, 224)), ref[13:237, 38:262])
        half = src.shape[1] // 2, src.shape[0] // 2
        ref = cv2.resize(np.ascontiguousarray(src[: 2 * half[1], : 2 * half[0]]), half)
        assert np.array_equal(kernel.resize(src[: 2 * half[1], : 2 * half[0]], "linear", *half), ref)


@pytest.mark.parametrize("kernel", KERNELS, ids=KERNEL_IDS)
def test_bad_arguments_are_errors(kernel):
    img = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="uint8"):
        kernel.resize(img.astype(np.float32), "linear", 2, 2)
    with pytest.raises(ValueError, match="cannot resize"):
        kernel.resize(img, "linear", 0, 2)
    with pytest.raises(ValueError, match="window"):
        kernel.resize(img, "linear", 8, 8, (4, 0, 5, 8))


def test_the_lookup_writes_what_the_normalisation_computes():
    """lookup (PreprocessSpec.fill) against NormalizeImage + ToCHWImage op by op, on a strided staged image."""
    rng = np.random.default_rng(4)
    norm = NormalizeImage()
    staged = rng.integers(0, 256, (230, 240, 3), dtype=np.uint8)[3:227, 8:232, ::-1]
    want = ToCHWImage()(norm(staged))
    for kernel in KERNELS:
        out = np.full((3, 224, 224), np.nan, np.float32)
        kernel.lookup(staged, norm.lut, out)
        assert np.array_equal(out, want), kernel.name


def _zoo_op_lists():
    models = json.loads((ROOT / "imgcls_onnx" / "zoo_manifest.json").read_text())["models"]
    lists = {json.dumps(m["transform_ops"], sort_keys=True): m["transform_ops"] for m in models}
    return list(lists.values())


def opencv_preprocess(spec: PreprocessSpec, image: np.ndarray) -> np.ndarray:
    """PaddleX's op list run op by op with OpenCV's own resize (what PaddleX runs on x86-64): the reference."""
    x = image
    for op in spec.ops:
        if isinstance(op, ResizeImage) and op.backend == "cv2":
            h, w = x.shape[:2]
            nh, nw = op.output_hw(h, w)
            flag = {"linear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST}[op.interpolation]
            x = x if (nh, nw) == (h, w) else cv2.resize(x, (nw, nh), interpolation=flag)
        elif isinstance(op, (ResizeImage, CropImage, NormalizeImage, ToCHWImage)):
            x = op(x)
    return x.astype(np.float32, copy=False)


def test_every_zoo_op_list_is_identical_on_both_kernels_and_opencv():
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
        base = PreprocessSpec.from_yml_ops(ops)
        fixed = base.output_hw is None  # a fixed-size resize with no crop: one batch for every size
        # Pillow's path is the same code either way: its lists run on the smaller images only
        pil = any(op.get("ResizeImage", {}).get("backend") == "pil" for op in ops)
        usable = [im for im in images if (fixed or min(im.shape[:2]) >= 16) and not (pil and im.size > 1e6)]
        want = [opencv_preprocess(base, im) for im in usable]
        for kernel in KERNELS:
            spec = base.with_kernel(kernel)
            batch = spec.batch(usable)  # the fused resize + crop window and the table lookup
            assert batch.dtype == np.float32 and all(np.array_equal(a, b) for a, b in zip(batch, want)), \
                (kernel.name, json.dumps(ops))
            assert all(np.array_equal(spec.reference(im), b) for im, b in zip(usable, want)), \
                (kernel.name, json.dumps(ops))


def test_the_one_setting(monkeypatch):
    monkeypatch.delenv(kernels.KERNEL_ENV, raising=False)
    assert kernels.from_env() is kernels.COMPILED  # built: the default
    for value, want in (("auto", kernels.COMPILED), ("numpy", kernels.NUMPY), (" Compiled ", kernels.COMPILED)):
        monkeypatch.setenv(kernels.KERNEL_ENV, value)
        assert kernels.from_env() is want
        assert PreprocessSpec.imagenet().kernel is want  # read when the op list (the model) is built
    monkeypatch.setenv(kernels.KERNEL_ENV, "fast")
    with pytest.raises(kernels.KernelSettingError, match="IMGCLS_ONNX_KERNEL='fast' is not a kernel"):
        PreprocessSpec.imagenet()
    monkeypatch.setattr(kernels, "_compiled", None)  # an install without the compiled kernel
    kernels.resolve.cache_clear()
    try:
        monkeypatch.setenv(kernels.KERNEL_ENV, "compiled")
        with pytest.raises(kernels.KernelSettingError, match="no compiled kernel"):
            kernels.from_env()
        monkeypatch.setenv(kernels.KERNEL_ENV, "auto")
        assert kernels.from_env() is kernels.NUMPY
    finally:
        kernels.resolve.cache_clear()


def test_unported_interpolations_need_opencv(monkeypatch):
    from imgcls_onnx.runtime import transforms

    img = np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    cubic = ResizeImage(resize_short=24, interpolation="bicubic")
    assert np.array_equal(cubic(img), cv2.resize(img, (34, 24), interpolation=cv2.INTER_CUBIC))
    monkeypatch.setattr(transforms, "_cv2_module", lambda: None)  # OpenCV not installed
    with pytest.raises(PreprocessError, match="needs OpenCV, which is not installed"):
        cubic(img)
    assert np.array_equal(ResizeImage(resize_short=24)(img), cv2.resize(img, (34, 24)))  # linear: the kernel
    assert ResizeImage(resize_short=24, interpolation="bicubic", backend="pil")(img).shape == (24, 34, 3)


def test_the_numpy_fallback_gives_the_same_tensors_when_the_compiled_kernel_is_hidden(monkeypatch):
    """The compiled kernel made unimportable (and OpenCV too), in a fresh process: the numpy kernel is in force and
    its tensors equal this process's compiled ones."""
    code = textwrap.dedent(
        """
        import sys
        sys.modules["imgcls_onnx.runtime._kernel"] = None  # import -> ImportError
        sys.modules["cv2"] = None
        import numpy as np
        from imgcls_onnx.runtime.transforms import PreprocessSpec
        spec = PreprocessSpec.imagenet()
        assert spec.kernel.name == "numpy", spec.kernel
        rng = np.random.default_rng(5)
        images = [rng.integers(0, 256, (300, 451, 3), dtype=np.uint8), rng.integers(0, 256, (512, 448, 3), np.uint8)]
        sys.stdout.buffer.write(spec.batch(images).tobytes())
        """
    )
    monkeypatch.delenv(kernels.KERNEL_ENV, raising=False)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr.decode()
    rng = np.random.default_rng(5)
    images = [rng.integers(0, 256, (300, 451, 3), dtype=np.uint8), rng.integers(0, 256, (512, 448, 3), np.uint8)]
    spec = PreprocessSpec.imagenet()
    assert spec.kernel is kernels.COMPILED
    expected = spec.batch(images)
    assert np.array_equal(np.frombuffer(proc.stdout, np.float32).reshape(expected.shape), expected)
    assert np.array_equal(expected, np.stack([opencv_preprocess(spec, im) for im in images]))


def test_a_bad_setting_is_one_error_line_and_exit_2_and_serve_does_not_start(tmp_path):
    """Checked once, before any command runs: predict and serve (which would otherwise load a model and listen) both
    stop with one error line; --version names the kernel in force."""
    env = dict(os.environ, IMGCLS_ONNX_KERNEL="fast")
    for args in (["predict", "-m", str(tmp_path), "x.jpg"], ["serve", "-m", str(tmp_path), "--port", "0"]):
        proc = subprocess.run([sys.executable, "-m", "imgcls_onnx.cli", *args], capture_output=True, text=True,
                              env=env, timeout=120, cwd=ROOT)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.splitlines() == [
            "error: $IMGCLS_ONNX_KERNEL='fast' is not a kernel; use one of auto, compiled, numpy"], proc.stderr
    for value, name in (("", "compiled"), ("numpy", "numpy")):
        proc = subprocess.run([sys.executable, "-m", "imgcls_onnx.cli", "--version"], capture_output=True, text=True,
                              env=dict(os.environ, IMGCLS_ONNX_KERNEL=value), timeout=120, cwd=ROOT)
        assert proc.returncode == 0 and proc.stdout.rstrip().endswith(f"({name} preprocessing kernel)"), proc


QEMU_X86 = "qemu-x86_64-static"
NO_AVX2_CPU = "Nehalem"  # SSE4.2, no AVX: the kernel's integer loops take their "default" clone, not the AVX2 one

KERNEL_CASES = """
import sys
import numpy as np
from numpy._core._multiarray_umath import __cpu_features__ as cpu
from imgcls_onnx.runtime import kernel as kernels
kernel = kernels.NUMPY if sys.argv[2] == "numpy" else kernels.COMPILED
rng = np.random.default_rng(21)
out = []
for i in range(40):
    h, w = (int(v) for v in rng.integers(2, 700, 2))
    img = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)[:, :, :3]  # 4-byte pixels, as Pillow keeps RGB
    nw, nh = (w // 2, h // 2) if i % 5 == 0 else (int(rng.integers(1, 500)), int(rng.integers(1, 500)))
    cw, ch = min(nw, 224), min(nh, 224)
    window = ((nw - cw) // 2, (nh - ch) // 2, cw, ch)
    out.append(kernel.resize(img, "linear", nw, nh, window))
    out.append(kernel.resize(img, "nearest", nw, nh, window))
np.savez(sys.argv[1], *out)
print("AVX2", bool(cpu.get("AVX2")), kernels.from_env().name)
"""


def test_the_compiled_kernel_without_avx2_gives_the_numpy_kernels_bytes(tmp_path):
    """On x86-64 Linux the integer loops are built twice (AVX2 and baseline) and picked at load time: on this
    machine the AVX2 clone runs, so the baseline one is run under qemu-x86_64 as a CPU without AVX2 (numpy, which
    reads the same CPUID, confirms it), against the numpy kernel run here."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("not applicable: emulates an x86-64 CPU beside this x86-64 one")
    if shutil.which(QEMU_X86) is None:
        pytest.fail(f"{QEMU_X86} is missing: apt-get install -y qemu-user-static (./scripts/test does)", pytrace=False)
    script = tmp_path / "cases.py"
    script.write_text(KERNEL_CASES, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    emulated = subprocess.run([QEMU_X86, "-cpu", NO_AVX2_CPU, sys.executable, str(script), str(tmp_path / "e.npz"),
                               "compiled"], capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert emulated.returncode == 0, emulated.stderr[-2000:]
    assert emulated.stdout.split() == ["AVX2", "False", "compiled"], emulated.stdout
    native = subprocess.run([sys.executable, str(script), str(tmp_path / "n.npz"), "numpy"], capture_output=True,
                            text=True, env=env, timeout=600, cwd=tmp_path)
    assert native.returncode == 0, native.stderr[-2000:]
    got, want = np.load(tmp_path / "e.npz"), np.load(tmp_path / "n.npz")
    assert len(got.files) == len(want.files) == 80
    assert all(np.array_equal(got[f], want[f]) for f in want.files)
