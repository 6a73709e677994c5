"""runtime/decode.py: the runtime's decoder (simplejpeg and Pillow; what decodes where OpenCV is not installed) gives
OpenCV's pixels.

OpenCV is the independent reference: every image of the generated corpus (tests/decode_corpus.py: each format, mode,
bit depth, subsampling, progressive, restart interval, odd sizes) decoded by ``cv2.imdecode`` and by the runtime's
decoder (``decode._decode_single``), compared with np.array_equal; then end to end (``load_image`` under each
decoder), on the real photos, for the reduced (fast) decode, and in a process where ``import cv2`` fails.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2", reason="not applicable: these comparisons need OpenCV as the reference")

from helpers import (  # noqa: E402
    REALDATA,
    ROOT,
    decode_corpus,  # noqa: E402
    need,
    use_decoder,
)

from imgcls_onnx.runtime import decode  # noqa: E402
from imgcls_onnx.runtime.images import load_image  # noqa: E402

CORPUS = decode_corpus.build(max_side=48, seed=0)
KINDS = sorted({kind for _, kind, _ in CORPUS})
# Measured and written down in pillow_as_opencv.py's docstring: OpenCV reads 16-bit colour TIFF through libtiff's RGBA
# interface, which rounds v / 257; Pillow hands out only the high byte (v >> 8), so about half the pixels differ by 1.
WITHIN_ONE = {"tiff_16bit_colour"}
# OpenCV 5.1 ignores IMREAD_COLOR_RGB for AVIF with alpha (hands out BGR); compare with its BGR decode reversed.
# (The runtime decodes AVIF with Pillow on both paths.)
OPENCV_BGR_ONLY = {"avif"}


def _opencv(data: bytes, kind: str) -> np.ndarray:
    if kind in OPENCV_BGR_ONLY or not hasattr(cv2, "IMREAD_COLOR_RGB"):
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        return None if bgr is None else np.ascontiguousarray(bgr[..., ::-1])
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION)


def _describe(ref: np.ndarray, got: np.ndarray) -> str:
    if ref.shape != got.shape:
        return f"shape {got.shape} != OpenCV's {ref.shape}"
    d = np.abs(ref.astype(np.int16) - got.astype(np.int16)).max(-1)
    return f"max diff {d.max()}, {np.mean(d > 0):.1%} of pixels differ"


def test_corpus_covers_every_kind():
    assert len(CORPUS) >= 200
    for kind in ("jpeg_baseline", "jpeg_progressive", "jpeg_gray", "jpeg_cmyk", "jpeg_ycck", "jpeg_exif", "png",
                 "png_16bit", "png_palette", "png_interlaced", "png_gray_alpha", "bmp", "bmp_raw", "webp_lossy",
                 "webp_lossless", "tiff", "tiff_cmyk", "tiff_alpha", "pnm", "gif", "multiframe"):
        assert kind in KINDS, kind
    assert any(name.endswith("_1x1") for name, _, _ in CORPUS) and any(name.endswith("_17x33") for name, _, _ in CORPUS)


@pytest.mark.parametrize("kind", KINDS)
def test_pillow_decoder_gives_opencvs_pixels(kind):
    for name, k, data in CORPUS:
        if k != kind:
            continue
        ref = _opencv(data, kind)
        assert ref is not None, f"{name}: OpenCV cannot decode it"
        got = decode._decode_single(data, name)
        assert got.dtype == np.uint8 and got.flags.c_contiguous and got.flags.writeable, name
        if kind in WITHIN_ONE:
            assert got.shape == ref.shape and np.abs(ref.astype(int) - got).max() <= 1, f"{name}: {_describe(ref, got)}"
        else:
            assert got.shape == ref.shape and np.array_equal(got, ref), f"{name}: {_describe(ref, got)}"


def test_use_decoder_swaps_the_decode_hook(monkeypatch):
    """tests/conftest.py's use_decoder("opencv") (and scripts/bench_worker.py) put cv2.imdecode in decode's hook: it
    is what load_image then calls; outside the block the runtime's own decoder is back."""
    calls = []
    real = cv2.imdecode
    monkeypatch.setattr(cv2, "imdecode", lambda *a: calls.append(1) or real(*a))
    data = next(data for _, kind, data in CORPUS if kind == "png")
    with use_decoder("opencv"):
        load_image(data)
    assert calls == [1]
    load_image(data)
    assert calls == [1]


def test_load_image_is_the_same_with_either_decoder():
    """End to end: EXIF orientation, multi-frame files and Pillow fallbacks included."""
    for name, kind, data in CORPUS:
        if kind in WITHIN_ONE:
            continue
        with use_decoder("opencv"):
            ref = load_image(data)
        with use_decoder("pillow"):
            got = load_image(data)
        assert got.shape == ref.shape and np.array_equal(got, ref), f"{name}: {_describe(ref, got)}"


def test_real_photos_are_identical(tmp_path):
    paths = sorted(p for p in need(REALDATA).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    assert len(paths) >= 10, paths
    for p in paths:
        for min_side in (None, 64):
            with use_decoder("opencv"):
                ref = load_image(p, min_side=min_side)
            with use_decoder("pillow"):
                got = load_image(p, min_side=min_side)
            assert got.shape == ref.shape and np.array_equal(got, ref), f"{p.name} min_side={min_side}"


def _reduced_cases() -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(7)
    cases = []
    for i, (h, w) in enumerate(((72, 96), (130, 67), (97, 101), (64, 64))):
        rgb = decode_corpus.content(rng, h, w)
        cases.append((f"pil_sub{i % 3}_{w}x{h}", decode_corpus._pil(
            decode_corpus.Image.fromarray(rgb), "JPEG", quality=85, subsampling=i % 3, progressive=bool(i % 2))))
        cases.append((f"cv2_411_{w}x{h}", cv2.imencode(".jpg", rgb[..., ::-1], [
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_411, cv2.IMWRITE_JPEG_RST_INTERVAL, 2])[1]
            .tobytes()))
        cases.append((f"gray_{w}x{h}", cv2.imencode(".jpg", rgb[..., 0])[1].tobytes()))
        cmyk = decode_corpus._pil(decode_corpus._cmyk(np.dstack([rgb, rgb[..., 1:2]])), "JPEG", quality=90)
        cases.append((f"cmyk_{w}x{h}", cmyk))
        cases.append((f"ycck_{w}x{h}", decode_corpus._adobe_transform(cmyk, 2)))
    return cases


@pytest.mark.parametrize("min_side", [8, 16, 30])
def test_reduced_decode_is_the_same_with_either_decoder(min_side):
    """--fast-decode: Pillow's draft() sets the same libjpeg scale_denom as OpenCV's IMREAD_REDUCED_*."""
    for name, data in _reduced_cases():
        with use_decoder("opencv"):
            ref = load_image(data, min_side=min_side)
        with use_decoder("pillow"):
            got = load_image(data, min_side=min_side)
        assert got.shape == ref.shape and np.array_equal(got, ref), f"{name}: {_describe(ref, got)}"
        assert min(ref.shape[:2]) >= min_side


def test_damaged_jpegs_that_libjpeg_only_warns_about_decode_the_same():
    """Junk before the end marker, entropy data cut short (end marker kept), a flipped byte mid-scan: libjpeg warns
    ("Corrupt JPEG data: ...") and goes on, in both decoders, to the same pixels."""
    rgb = decode_corpus.content(np.random.default_rng(11), 150, 200)
    good = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    mid = len(good) // 2
    damaged = {"junk before EOI": good[:-2] + b"\x00" * 7 + good[-2:],
               "cut, EOI kept": good[: len(good) * 2 // 3] + b"\xff\xd9",
               "flipped byte": good[:mid] + bytes([good[mid] ^ 0x55]) + good[mid + 1:]}
    intact = load_image(good)
    for name, data in damaged.items():
        with use_decoder("opencv"):
            ref = load_image(data)
        with use_decoder("pillow"):
            got = load_image(data)
        assert np.array_equal(got, ref), name
        assert np.array_equal(ref, intact) == (name == "junk before EOI"), name  # the damage shows (or not)


def test_the_model_path_reads_pillows_buffer_without_a_copy():
    """contiguous=False (the classifier's and the server's decode): with the compiled kernel an RGB/RGBA image comes
    back as a read-only view of Pillow's own 4-byte pixels (its base is the kernel's Arrow buffer, nothing copied),
    EXIF orientation included; the pixels equal the contiguous result; the numpy kernel and images Pillow keeps in
    several blocks get a copy, with the same pixels."""
    from imgcls_onnx.runtime import kernel as kernels

    if not kernels.compiled_available():
        pytest.fail("the compiled kernel is not built", pytrace=False)
    rng = np.random.default_rng(3)
    rgb = decode_corpus.content(rng, 300, 400)
    exif = decode_corpus.Image.Exif()
    exif[0x0112] = 6
    # PNG: JPEGs take simplejpeg's path (decoded straight into a new array, no copy either: the test below)
    cases = {"png": decode_corpus._pil(decode_corpus.Image.fromarray(rgb), "PNG"),
             "png_exif6": decode_corpus._pil(decode_corpus.Image.fromarray(rgb), "PNG", exif=exif),
             "png_rgba": decode_corpus._pil(decode_corpus.Image.fromarray(np.dstack([rgb, rgb[..., :1]])), "PNG")}
    for name, data in cases.items():
        want = load_image(data)
        got = load_image(data, contiguous=False, kernel=kernels.COMPILED)
        assert np.array_equal(got, want), name
        assert not got.flags.writeable and min(abs(s) for s in got.strides[:2]) == 4, name  # 4-byte pixels
        base = got
        while isinstance(base, np.ndarray) and base.base is not None:
            base = base.base
        assert type(base).__name__ == "Pixels", (name, type(base))
        copied = load_image(data, contiguous=False, kernel=kernels.NUMPY)
        assert np.array_equal(copied, want) and copied.flags.writeable, name
    # 2100 x 2100 RGB is 17.6 MB, over Pillow's 16 MB block: several blocks, no Arrow export -> a copy, same pixels
    big = decode_corpus._pil(decode_corpus.Image.fromarray(np.tile(rgb, (7, 6, 1))[:2100, :2100]), "PNG")
    got = load_image(big, contiguous=False, kernel=kernels.COMPILED)
    assert got.flags.writeable and np.array_equal(got, load_image(big))


def test_jpegs_take_simplejpegs_path_and_cmyk_takes_pillows(monkeypatch):
    """YCbCr, RGB and gray JPEGs are decoded by simplejpeg (a dependency: its absence is a failure here), CMYK ones by
    Pillow with OpenCV's conversion; both give OpenCV's pixels (the corpus tests above), and without simplejpeg the
    same pixels come from Pillow."""
    if decode._simplejpeg is None:
        pytest.fail("simplejpeg is not installed (a runtime dependency)", pytrace=False)
    calls = []
    real = decode._simplejpeg.decode_jpeg
    monkeypatch.setattr(decode._simplejpeg, "decode_jpeg", lambda *a, **k: calls.append(1) or real(*a, **k))
    for name, kind, data in CORPUS:
        if not data.startswith(b"\xff\xd8\xff") or kind in WITHIN_ONE:
            continue
        calls.clear()
        got = load_image(data)
        cmyk = decode._simplejpeg.decode_jpeg_header(data)[2] in ("CMYK", "YCCK")
        assert calls == ([] if cmyk else [1]), name
        monkeypatch.setattr(decode, "_simplejpeg", None)
        assert np.array_equal(load_image(data), got), name  # Pillow's path: the same pixels
        monkeypatch.undo()
        monkeypatch.setattr(decode._simplejpeg, "decode_jpeg", lambda *a, **k: calls.append(1) or real(*a, **k))


BLOCK_CV2 = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name == "cv2" or name.startswith("cv2."):
            raise ImportError("no OpenCV in this process (the small install)")
sys.meta_path.insert(0, _Block())
"""


def test_decoding_without_opencv(tmp_path):
    """A process that cannot import cv2 decodes to the pixels OpenCV gives here (and never tries to import it)."""
    picked: dict[str, bytes] = {}
    for name, kind, data in CORPUS:
        if kind not in WITHIN_ONE:
            picked.setdefault(kind, data)
    expected = {}
    for kind, data in picked.items():
        (tmp_path / kind).write_bytes(data)
        with use_decoder("opencv"):
            expected[kind] = load_image(data)
    np.savez(tmp_path / "expected.npz", **expected)
    code = BLOCK_CV2 + textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        import numpy as np
        from imgcls_onnx.runtime import images
        root = Path({str(tmp_path)!r})
        expected = np.load(root / "expected.npz")
        for kind in expected.files:
            got = images.load_image(root / kind)
            assert np.array_equal(got, expected[kind]), kind
        assert "cv2" not in sys.modules
        print("ok", len(expected.files))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["ok", str(len(picked))]
