"""JPEG decoding in the page against the Python runtime's (cv2.imdecode, libjpeg-turbo 3.x, IMREAD_COLOR, then our
EXIF orientation). The page's decoder, libjpeg-turbo 2.0.4 compiled to WebAssembly (jpeg.js + the pinned npm package
@cwasm/jpeg-turbo), must give the runtime's pixels exactly, under Node and in Chromium, on a corpus of the real photos
and generated JPEGs: every chroma subsampling OpenCV writes (4:4:4, 4:2:2, 4:2:0, 4:4:0, 4:1:1), progressive,
grayscale, CMYK, restart markers, odd and 1-pixel sizes, all eight EXIF orientations, a non-sRGB ICC profile (colour
management stays off) and corrupt entropy data. Chromium's own decoder is measured on the same corpus and printed
(docs/web.md quotes the figures): it is the page's fallback, not what it relies on."""
from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import REALDATA, tiny_bundle
from helpers.webtools import NODE_MODULES, browser, need_chromium, need_npm_packages, run_node, serving

from imgcls_onnx.runtime.errors import ImgclsError
from imgcls_onnx.runtime.images import load_image
from imgcls_onnx.web_export import JPEG_WASM_FILE, JPEG_WASM_SRI, export_web, sri_sha384


def _swapped_primaries_profile() -> bytes:
    """An sRGB ICC profile with its red and blue primaries swapped: a colour-managed decoder would move every pixel."""
    from PIL import ImageCms

    prof = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    tags = {bytes(prof[132 + 12 * i:136 + 12 * i]): 132 + 12 * i
            for i in range(struct.unpack(">I", prof[128:132])[0])}
    r, b = tags[b"rXYZ"], tags[b"bXYZ"]
    prof[r + 4:r + 12], prof[b + 4:b + 12] = prof[b + 4:b + 12], prof[r + 4:r + 12]
    prof[84:100] = bytes(16)  # no profile ID
    return bytes(prof)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[Path]:
    from PIL import Image

    folder = tmp_path_factory.mktemp("jpegs")
    files = sorted(p for p in REALDATA.glob("*/*") if p.suffix.lower() in (".jpg", ".jpeg"))
    if not files:
        pytest.skip(f"no JPEGs under {REALDATA}")
    photo = cv2.imread(str(REALDATA / "misc_images" / "tabby_cat.jpg"))
    doc = cv2.imread(str(REALDATA / "orientation_images" / "img_rot0_demo.jpg"))
    sources = {"cat": cv2.resize(photo, (251, 237), interpolation=cv2.INTER_AREA),  # odd sizes: the chroma edges
               "doc": doc[:160, :210]}
    sampling = {"444": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444, "422": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422,
                "420": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420, "440": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_440,
                "411": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_411}
    written = []

    def cv_write(name, image, *params):
        assert cv2.imwrite(str(folder / name), image, list(params))
        written.append(folder / name)

    for key, image in sources.items():
        for sub, flag in sampling.items():
            cv_write(f"{key}_{sub}.jpg", image, cv2.IMWRITE_JPEG_QUALITY, 90, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, flag)
        cv_write(f"{key}_progressive_q50.jpg", image, cv2.IMWRITE_JPEG_QUALITY, 50, cv2.IMWRITE_JPEG_PROGRESSIVE, 1)
        cv_write(f"{key}_optimized_q75.jpg", image, cv2.IMWRITE_JPEG_QUALITY, 75, cv2.IMWRITE_JPEG_OPTIMIZE, 1)
        cv_write(f"{key}_restarts_q100.jpg", image, cv2.IMWRITE_JPEG_QUALITY, 100, cv2.IMWRITE_JPEG_RST_INTERVAL, 3)
        cv_write(f"{key}_gray.jpg", cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.IMWRITE_JPEG_QUALITY, 85)
        rgb = Image.fromarray(image[:, :, ::-1])
        for name, kw in {"pil_420_q30": {"quality": 30, "subsampling": 2},
                         "pil_progressive_444": {"quality": 88, "subsampling": 0, "progressive": True},
                         "cmyk": {"quality": 90}, "icc_swapped_primaries": {"quality": 90,
                                                                           "icc_profile": _swapped_primaries_profile()},
                         "gray_progressive": {"quality": 70, "progressive": True}}.items():
            im = rgb.convert("CMYK") if name == "cmyk" else rgb.convert("L") if name.startswith("gray") else rgb
            im.save(folder / f"{key}_{name}.jpg", **kw)
            written.append(folder / f"{key}_{name}.jpg")
    # all eight EXIF orientations on a non-square image (each transform gives another picture)
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        Image.fromarray(sources["doc"][:, :, ::-1]).save(folder / f"exif{orientation}.jpg", quality=92, exif=exif)
        written.append(folder / f"exif{orientation}.jpg")
    rng = np.random.default_rng(0)
    for h, w in ((1, 1), (1, 17), (9, 1), (15, 23)):
        cv_write(f"noise_{w}x{h}.jpg", rng.integers(0, 256, (h, w, 3), dtype=np.uint8), cv2.IMWRITE_JPEG_QUALITY, 80)
    # corrupt entropy-coded data (the end-of-image marker is there): libjpeg decodes through it with warnings
    data = bytearray((REALDATA / "misc_images" / "tabby_cat.jpg").read_bytes())
    for k in range(len(data) // 2, len(data) // 2 + 40):
        data[k] ^= 0x5A
    (folder / "corrupt_entropy.jpg").write_bytes(bytes(data))
    written.append(folder / "corrupt_entropy.jpg")
    return files + written


def _runtime(path: Path) -> np.ndarray:
    return load_image(str(path))


def _read(folder: Path, i: int, row: dict) -> np.ndarray:
    return np.fromfile(folder / f"{i}.rgb", np.uint8).reshape(row["height"], row["width"], 3)


def _compare(expected: np.ndarray, got: np.ndarray) -> tuple[float, int]:
    """(fraction of pixels that differ, max |difference|)"""
    if got.shape != expected.shape:
        return 1.0, 255
    d = np.abs(got.astype(np.int16) - expected.astype(np.int16))
    return float((d.max(axis=2) > 0).mean()), int(d.max())


def test_node_decodes_the_corpus_like_the_runtime(corpus, tmp_path):
    need_npm_packages("@cwasm/jpeg-turbo")
    out = json.loads(run_node("jpeg_decode.mjs", str(tmp_path), json.dumps({"files": [str(p) for p in corpus]})).stdout)
    assert len(out) == len(corpus) >= 50
    for i, (path, row) in enumerate(zip(corpus, out)):
        assert "width" in row, (path.name, row)
        expected = _runtime(path)
        assert _compare(expected, _read(tmp_path, i, row)) == (0.0, 0), path.name


def test_node_refuses_what_the_runtime_refuses(tmp_path):
    """A truncated JPEG is refused (the runtime: no end-of-image marker) before decoding, and so is one over the pixel
    limit (from the header); a file that is a JPEG only in its first bytes fails to decode, as in the runtime."""
    need_npm_packages("@cwasm/jpeg-turbo")
    photo = (REALDATA / "misc_images" / "tabby_cat.jpg").read_bytes()
    cases = {"truncated.jpg": photo[: len(photo) // 2], "header_only.jpg": photo[:600] + b"\xff\xd9",
             "garbage.jpg": b"\xff\xd8\xff" + bytes(range(256)) * 4 + b"\xff\xd9", "big.jpg": photo}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    out = json.loads(run_node("jpeg_decode.mjs", str(tmp_path), json.dumps(
        {"files": [str(tmp_path / n) for n in cases], "max_pixels": 500 * 471 - 1})).stdout)
    got = dict(zip(cases, out))
    assert got["truncated.jpg"] == {"refused": "truncated JPEG (no end-of-image marker)"}
    assert got["big.jpg"] == {"refused": f"500x471 pixels is over the limit of {500 * 471 - 1}"}
    assert "error" in got["header_only.jpg"] and "error" in got["garbage.jpg"], got
    for name in ("truncated.jpg", "header_only.jpg", "garbage.jpg"):
        with pytest.raises(ImgclsError):
            _runtime(tmp_path / name)


@pytest.fixture(scope="module")
def tiny_site(tmp_path_factory):
    """A site for a tiny model with local onnxruntime-web and JPEG decoder copies (the pixels do not need the model)."""
    need_npm_packages("onnxruntime-web", "@cwasm/jpeg-turbo")
    root = tmp_path_factory.mktemp("jpegsite")
    bundle = tiny_bundle(root / "tiny", num_classes=3)
    export_web(bundle, root / "site", ort=str(NODE_MODULES / "onnxruntime-web"),
               jpeg=str(NODE_MODULES / "@cwasm" / "jpeg-turbo"))
    return root / "site"


def test_chromium_page_decodes_the_corpus_like_the_runtime(tiny_site, corpus, tmp_path):
    need_chromium()
    wasm_out, browser_out = tmp_path / "wasm", tmp_path / "browser"
    wasm_out.mkdir()
    browser_out.mkdir()
    files = [str(p) for p in corpus]
    with serving(tiny_site) as url:
        out = browser({"url": url, "pixels": [{"files": files, "wasm": True, "out": str(wasm_out)},
                                              {"files": files, "wasm": False, "out": str(browser_out)}]})
    assert out["jpeg"] == "wasm" and "JPEG decoder: libjpeg-turbo (WebAssembly)" in out["status"], out
    wasm_rows, browser_rows = out["pixels"]
    lines, browser_differs = [], 0
    for i, path in enumerate(corpus):
        expected = _runtime(path)
        assert wasm_rows[i].get("decoder") == "libjpeg-turbo", (path.name, wasm_rows[i])
        assert _compare(expected, _read(wasm_out, i, wasm_rows[i])) == (0.0, 0), path.name
        row = browser_rows[i]
        if "error" in row:
            lines.append(f"{path.name:40s} browser decoder: {row['error']}")
            browser_differs += 1
            continue
        assert row["decoder"] == "browser"
        frac, worst = _compare(expected, _read(browser_out, i, row))
        browser_differs += frac > 0
        lines.append(f"{path.name:40s} {expected.shape[1]:>4d}x{expected.shape[0]:<4d} browser decoder: "
                     f"{100 * frac:6.2f} % of pixels differ, max {worst}")
    print(f"\n{len(corpus)} JPEGs: the page's libjpeg-turbo WebAssembly equals the runtime on all; Chromium's own "
          f"decoder differs on {browser_differs}:\n" + "\n".join(lines))


def test_the_browser_decoder_is_the_fallback(tiny_site, corpus, tmp_path):
    """A site exported with --jpeg-wasm none, and one whose .wasm is damaged (the page checks its hash), both load,
    say that JPEGs go to the browser's decoder, and classify a JPEG with it."""
    need_chromium()
    none = tmp_path / "none"
    export_web(tiny_bundle(tmp_path / "b", num_classes=3), none, ort=str(NODE_MODULES / "onnxruntime-web"), jpeg="none")
    assert not (none / "jpeg").exists() and 'name="imgcls-jpeg-wasm" content=""' in (none / "index.html").read_text()
    damaged = tmp_path / "damaged"
    shutil.copytree(tiny_site, damaged)
    wasm = damaged / "jpeg" / JPEG_WASM_FILE
    assert sri_sha384(wasm.read_bytes()) == JPEG_WASM_SRI
    wasm.write_bytes(wasm.read_bytes()[:-1] + b"\x00")
    photo = corpus[0]
    for site in (none, damaged):
        with serving(site) as url:
            out = browser({"url": url, "steps": [{"upload": [str(photo)]}]})
        assert out["ready"] == "true" and out["jpeg"] == "browser", out
        assert "JPEG decoder: the browser" in out["status"]
        row = out["results"][0]
        assert row["error"] is None and row["result"]["decoder"] == "browser", row
        if site is damaged:
            assert any("is not the pinned sha384-" in line for line in out["console"]), out["console"]
