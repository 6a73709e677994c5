"""export-web of the real PULC orientation model, run in headless Chromium (Debian's, driven by playwright-core): the
real document photos and their rotations as JPEG and PNG give the Python runtime's model inputs, bit for bit, and its
top-1 on every image; a dropped non-image file shows a clear error and the page keeps working; a screenshot of the
page is saved."""
from __future__ import annotations

import os
import shutil

import cv2
import numpy as np
import pytest
from helpers import ORIENTATION_LABELS, REALDATA, need
from helpers.webtools import NODE_MODULES, browser, need_chromium, need_npm_packages, run_node, serving

from imgcls_onnx.runtime.images import load_image
from imgcls_onnx.web_export import export_web

DOCS = REALDATA / "orientation_images"


@pytest.fixture(scope="module")
def site(orientation_bundle, tmp_path_factory):
    need_npm_packages("onnxruntime-web", "@cwasm/jpeg-turbo")
    out = tmp_path_factory.mktemp("web") / "site"
    export_web(orientation_bundle, out, ort=str(NODE_MODULES / "onnxruntime-web"),
               jpeg=str(NODE_MODULES / "@cwasm" / "jpeg-turbo"))
    return out


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """(path, true label): the two real photos as they are, their rotations as JPEG and as PNG, a CMYK JPEG (the
    browser's own decoder converts CMYK one level away from OpenCV), one JPEG whose pixels are mirrored across the
    anti-diagonal with EXIF orientation 7, and one whose pixels lie on their side with orientation 6 (both sides must
    apply the tag)."""
    from PIL import Image

    need(DOCS)
    folder = tmp_path_factory.mktemp("photos")
    rot0 = cv2.imread(str(DOCS / "img_rot0_demo.jpg"))
    rot180 = cv2.imread(str(DOCS / "img_rot180_demo.jpg"))
    cases = [(DOCS / "img_rot0_demo.jpg", "0"), (DOCS / "img_rot180_demo.jpg", "180")]
    turned = {"doc0_rot90": (cv2.rotate(rot0, cv2.ROTATE_90_CLOCKWISE), "90"),
              "doc0_rot270": (cv2.rotate(rot0, cv2.ROTATE_90_COUNTERCLOCKWISE), "270"),
              "doc0_rot180": (cv2.rotate(rot0, cv2.ROTATE_180), "180"),
              "doc1_rot0": (cv2.rotate(rot180, cv2.ROTATE_180), "0"),
              "doc1_rot270": (cv2.rotate(rot180, cv2.ROTATE_90_CLOCKWISE), "270"),
              "doc1_rot90": (cv2.rotate(rot180, cv2.ROTATE_90_COUNTERCLOCKWISE), "90")}
    for name, (img, label) in turned.items():
        for ext, params in ((".jpg", [cv2.IMWRITE_JPEG_QUALITY, 95]), (".png", [])):
            path = folder / f"{name}{ext}"
            assert cv2.imwrite(str(path), img, params)
            cases.append((path, label))
    Image.fromarray(rot180[:, :, ::-1]).convert("CMYK").save(folder / "doc1_cmyk.jpg", quality=95)
    cases.append((folder / "doc1_cmyk.jpg", "180"))
    transverse = Image.fromarray(np.ascontiguousarray(rot0[::-1, ::-1].transpose(1, 0, 2)[:, :, ::-1]))
    exif = Image.Exif()
    exif[0x0112] = 7
    transverse.save(folder / "doc0_exif7.jpg", quality=95, exif=exif)
    cases.append((folder / "doc0_exif7.jpg", "0"))
    # EXIF orientation 6: the stored pixels are turned 90 degrees counter-clockwise; viewers turn them back upright
    stored = Image.fromarray(cv2.rotate(rot0, cv2.ROTATE_90_COUNTERCLOCKWISE)[:, :, ::-1])
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(folder / "doc0_exif6.jpg", quality=95, exif=exif)
    cases.append((folder / "doc0_exif6.jpg", "0"))
    (folder / "notes.txt").write_text("these are not pixels\n")
    return cases, folder


def test_page_classifies_real_photos_like_the_python_runtime(site, photos, orientation_classifier, tmp_path):
    need_chromium()
    cases, folder = photos
    shot = tmp_path / "page.png"
    tensors = tmp_path / "tensors"
    tensors.mkdir()
    with serving(site) as url:
        # ?threads=2 asks for two wasm threads whatever the core count (the default is min(4, cores), and the
        # suite also runs pinned to one core)
        out = browser({"url": url + "?threads=2", "screenshot": str(shot), "steps": [
            {"upload": [str(p) for p, _ in cases[:-1]]},
            # a drop, like a user's: a text file among images, then one more image
            {"drop": [str(folder / "notes.txt"), str(cases[-1][0])]}],
            "tensors": [{"files": [str(p) for p, _ in cases], "out": str(tensors)}]})
    assert out["ready"] == "true" and out["backend"].startswith("wasm"), out
    assert out["jpeg"] == "wasm" and "JPEG decoder: libjpeg-turbo (WebAssembly)" in out["status"], out["status"]
    assert out["crossOriginIsolated"] is True and "2 threads" in out["backend"], out["backend"]
    rows = out["results"]
    assert [r["name"] for r in rows] == [p.name for p, _ in cases[:-1]] + ["notes.txt", cases[-1][0].name]
    bad = rows[-2]
    assert bad["result"] is None and "notes.txt: not an image this browser can decode" in bad["error"]
    assert "not an image" in bad["text"]  # shown on the page, not only in an attribute
    pages = [r for r in rows if r["error"] is None]
    assert len(pages) == len(cases)

    # the model inputs the page computes (decode, EXIF orientation, resize, crop, normalise) equal the runtime's bit
    # for bit: JPEGs decoded by libjpeg-turbo (WebAssembly), PNGs by the browser
    differ = []
    for i, ((path, _), row) in enumerate(zip(cases, out["tensors"][0])):
        expected = orientation_classifier.model.model_input(load_image(str(path)))
        assert row.get("dims") == [1, *expected.shape] and row["type"] == "float32", (path.name, row)
        got = np.fromfile(tensors / f"{i}.f32", "<f4").reshape(expected.shape)
        if not np.array_equal(got, expected):
            differ.append(f"{path.name} ({row['decoder']}): {int((got != expected).sum())} values, "
                          f"max {float(np.abs(got - expected).max()):.3g}")
    assert not differ, "the page's model inputs differ from the runtime's: " + "; ".join(differ)
    decoders = [row["decoder"] for row in out["tensors"][0]]
    assert decoders == ["browser" if p.suffix == ".png" else "libjpeg-turbo" for p, _ in cases], decoders

    python = list(orientation_classifier.predict([str(p) for p, _ in cases], batch_size=4))
    deltas = {"jpg": 0.0, "png": 0.0}
    for (path, truth), page, py in zip(cases, pages, python):
        res = page["result"]
        assert res["decoder"] == ("browser" if path.suffix == ".png" else "libjpeg-turbo"), (path.name, res)
        assert res["label_names"][0] == truth, (path.name, res)
        assert res["label_names"][0] == py.label_names[0], (path.name, res, py)
        assert res["class_ids"] == [int(i) for i in py.class_ids], (path.name, res, py)
        mine = dict(zip(res["class_ids"], res["scores"]))
        kind = "png" if path.suffix == ".png" else "jpg"
        deltas[kind] = max(deltas[kind], max(abs(mine[int(i)] - float(s)) for i, s in zip(py.class_ids, py.scores)))
    assert {truth for _, truth in cases} == set(ORIENTATION_LABELS)
    print(f"max |delta score| vs the Python runtime: PNG {deltas['png']:.2e}, JPEG {deltas['jpg']:.2e}")
    # the inputs are equal (above), so only onnxruntime-web vs onnxruntime differ, for JPEG and PNG alike
    assert deltas["png"] <= 1e-4 and deltas["jpg"] <= 1e-4, deltas

    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[0] > 400 and image.std() > 10  # a page with content, not a blank
    if os.environ.get("IMGCLS_WEB_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["IMGCLS_WEB_SCREENSHOT"])


def test_node_runs_the_module_with_onnxruntime_node_and_web(site, photos, orientation_classifier, tmp_path):
    """imgcls.js without the page: raw RGB pixels decoded by Python, classified under Node by both runtimes."""
    import json

    need_npm_packages("onnxruntime-web", "onnxruntime-node")
    cases, _ = photos
    items = []
    for i, (path, _) in enumerate(cases):
        from imgcls_onnx.runtime.images import load_image

        rgb = load_image(str(path))
        raw = tmp_path / f"{i}.rgb"
        raw.write_bytes(np.ascontiguousarray(rgb).tobytes())
        items.append({"path": str(raw), "width": rgb.shape[1], "height": rgb.shape[0]})
    python = list(orientation_classifier.predict([str(p) for p, _ in cases], batch_size=4))
    for runtime in ("node", "web"):
        got = json.loads(run_node("node_classify.mjs", str(site / "model"), runtime, json.dumps(items)).stdout)
        assert len(got) == len(cases)
        for (path, truth), res, py in zip(cases, got, python):
            assert res["class_ids"] == [int(i) for i in py.class_ids], (runtime, path.name)
            assert res["label_names"][0] == truth
            assert np.allclose(res["scores"], [float(s) for s in py.scores], atol=2e-5), (runtime, res, py.scores)


def test_js_unit_tests():
    need_npm_packages("onnxruntime-web")
    import subprocess

    from helpers.webtools import WEB

    proc = subprocess.run(["node", "--test", "test/imgcls.test.mjs"], cwd=WEB, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "# pass 5" in proc.stdout and "# fail 0" in proc.stdout


def test_page_limits_and_broken_images(site, photos, tmp_path):
    """The decode limits in model.json are enforced by the page (here lowered; for a JPEG from its header, before
    decoding), a truncated JPEG and an empty file each get an error card, and the page keeps classifying."""
    import json

    need_chromium()
    cases, folder = photos
    small = tmp_path / "site"
    shutil.copytree(site, small)
    config = json.loads((small / "model" / "model.json").read_text())
    config["limits"] = {"max_bytes": 100_000, "max_pixels": 200_000}
    (small / "model" / "model.json").write_text(json.dumps(config))
    jpeg = cases[0][0].read_bytes()
    (tmp_path / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (tmp_path / "empty.png").write_bytes(b"")
    big = tmp_path / "big.png"  # 600x400 = 240,000 pixels, a small file (the photos are under 200,000)
    cv2.imwrite(str(big), np.full((400, 600, 3), 127, np.uint8))
    big_jpeg = tmp_path / "big.jpg"
    cv2.imwrite(str(big_jpeg), np.full((400, 600, 3), 127, np.uint8))
    heavy = tmp_path / "heavy.png"  # about 120 kB: noise does not compress
    cv2.imwrite(str(heavy), np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8))
    with serving(small) as url:
        out = browser({"url": url, "steps": [{"upload": [str(big), str(big_jpeg), str(heavy),
                                                         str(tmp_path / "empty.png"), str(tmp_path / "cut.jpg"),
                                                         str(cases[2][0])]}]})
    rows = {r["name"]: r for r in out["results"]}
    assert "600x400 pixels is over the limit of 200000" in rows["big.png"]["error"]
    assert rows["big.jpg"]["error"] == "big.jpg: 600x400 pixels is over the limit of 200000"
    assert "over the 97.7 kB limit" in rows["heavy.png"]["error"]
    assert "empty.png: not an image this browser can decode" in rows["empty.png"]["error"]
    # refused as the Python runtime refuses it, whatever the decoder (PaddleX decodes it partly)
    assert "cut.jpg: truncated JPEG, no end-of-image marker (image/jpeg" in rows["cut.jpg"]["error"]
    last = rows[cases[2][0].name]
    assert last["error"] is None and last["result"]["label_names"][0] == cases[2][1]


def test_node_on_a_thousand_class_logits_model_and_a_large_image(tmp_path):
    """A 1000-class graph that outputs logits (imgcls.js applies the softmax and a linear top-k) on a 3000x2000
    photo-sized input: the Python runtime's ids and scores, and Node's peak memory stays near the image's own size."""
    import json

    from helpers import tiny_bundle

    from imgcls_onnx import Classifier

    need_npm_packages("onnxruntime-node")
    bundle = tiny_bundle(tmp_path / "b1000", num_classes=1000, softmax=False)
    export_web(bundle, tmp_path / "site", ort="cdn")
    rgb = np.random.default_rng(1).integers(0, 256, (2000, 3000, 3), dtype=np.uint8)
    (tmp_path / "big.rgb").write_bytes(rgb.tobytes())
    out = run_node("node_classify.mjs", str(tmp_path / "site" / "model"), "node",
                   json.dumps([{"path": str(tmp_path / "big.rgb"), "width": 3000, "height": 2000}]))
    peak_mb = json.loads(out.stderr)["max_rss_kb"] / 1024
    got = json.loads(out.stdout)[0]
    with Classifier.from_dir(bundle, device="cpu") as clf:
        assert clf.applies_softmax
        py = clf.predict_one(np.ascontiguousarray(rgb[:, :, ::-1]))  # arrays are BGR
    assert got["class_ids"] == [int(i) for i in py.class_ids]
    assert np.allclose(got["scores"], [float(s) for s in py.scores], atol=2e-5)
    assert got["label_names"][0] == f"class_{py.class_ids[0]}"
    print(f"node peak RSS {peak_mb:.0f} MB")
    assert peak_mb < 400, f"node peaked at {peak_mb:.0f} MB for an 18 MB image"


def test_a_model_that_cannot_load_says_so(site, tmp_path):
    """A damaged model.onnx: the status line says the model could not be loaded (no silent blank page)."""
    need_chromium()
    broken = tmp_path / "site"
    shutil.copytree(site, broken)
    (broken / "model" / "model.onnx").write_bytes(b"this is not an ONNX graph")
    with serving(broken) as url:
        out = browser({"url": url, "expect_load_error": True})
    assert out["ready"] == "error"
    assert out["status"].startswith("Could not load the model:"), out["status"]
