"""export-web's own checks: what it writes, where onnxruntime-web comes from, and what it refuses (with nothing
written)."""
from __future__ import annotations

import base64
import hashlib
import json
import urllib.request

import pytest
from helpers import run_cli, tiny_bundle, tiny_onnx_model
from helpers.webtools import NODE_MODULES, need_npm_packages, serving

from imgcls_onnx.web_export import (
    JPEG_WASM_CDN,
    JPEG_WASM_FILE,
    JPEG_WASM_SRI,
    JPEG_WASM_VERSION,
    ORT_CDN,
    ORT_FILES,
    ORT_WEB_VERSION,
    WebExportError,
    export_web,
)

JPEG_PACKAGE = NODE_MODULES / "@cwasm" / "jpeg-turbo"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return tiny_bundle(tmp_path_factory.mktemp("b") / "tiny", num_classes=7, softmax=False)


def test_local_site_layout_and_model_json(bundle, tmp_path):
    need_npm_packages("onnxruntime-web", "@cwasm/jpeg-turbo")
    out = tmp_path / "site"
    proc = run_cli("export-web", "--model", str(bundle), "--out", str(out),
                   "--ort-web", str(NODE_MODULES / "onnxruntime-web"), "--jpeg-wasm", str(JPEG_PACKAGE))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["ort_files"] == "local copy" and summary["onnxruntime_web"] == ORT_WEB_VERSION
    assert summary["jpeg_decoder"] == "local copy"
    assert sorted(p.name for p in (out / "ort").iterdir()) == sorted(ORT_FILES)
    assert sorted(p.name for p in (out / "jpeg").iterdir()) == sorted([JPEG_WASM_FILE, "LICENSE-libjpeg-turbo.txt"])
    assert (out / "jpeg" / JPEG_WASM_FILE).read_bytes() == (JPEG_PACKAGE / JPEG_WASM_FILE).read_bytes()
    assert "Independent JPEG Group" in (out / "jpeg" / "LICENSE-libjpeg-turbo.txt").read_text()
    page = (out / "index.html").read_text()
    assert '<script src="ort/ort.min.js"></script>' in page and "cdn" not in page.lower()
    assert f'<meta name="imgcls-jpeg-wasm" content="jpeg/{JPEG_WASM_FILE}" data-integrity="{JPEG_WASM_SRI}">' in page
    config = json.loads((out / "model" / "model.json").read_text())
    # the values the tiny bundle was written with (tests/conftest.py), not read back from our own export code
    assert config["transform_ops"][:2] == [{"ResizeImage": {"resize_short": 36}}, {"CropImage": {"size": 32}}]
    assert config["labels"] == [f"class_{i}" for i in range(7)]
    assert config["output"]["probabilities"] is False and config["output"]["classes"] == 7
    assert config["input"]["layout"] == "NCHW" and config["input"]["height"] == 32
    assert (out / "model" / "model.onnx").read_bytes() == (bundle / "inference.onnx").read_bytes()


def test_cdn_site_pins_the_version_and_integrity_of_the_tested_package(bundle, tmp_path):
    need_npm_packages("onnxruntime-web")
    export_web(bundle, tmp_path / "site", ort="cdn")
    page = (tmp_path / "site" / "index.html").read_text()
    tested = (NODE_MODULES / "onnxruntime-web" / "dist" / "ort.min.js").read_bytes()
    sri = "sha384-" + base64.b64encode(hashlib.sha384(tested).digest()).decode()
    assert f'src="{ORT_CDN}ort.min.js" integrity="{sri}" crossorigin="anonymous"' in page
    assert f"onnxruntime-web@{ORT_WEB_VERSION}/dist/" in ORT_CDN
    assert json.loads((NODE_MODULES / "onnxruntime-web" / "package.json").read_text())["version"] == ORT_WEB_VERSION
    assert f'content="{ORT_CDN}"' in page and not (tmp_path / "site" / "ort").exists()


def test_the_jpeg_decoder_from_the_cdn_or_none_pins_the_tested_build(bundle, tmp_path):
    """--jpeg-wasm cdn: jsDelivr's URL of the pinned version, with the sha384 of the installed package's .wasm (the
    page checks it before compiling); none: no decoder (the browser's); a .wasm that is not the pinned build is
    refused with nothing written."""
    need_npm_packages("@cwasm/jpeg-turbo")
    tested = (JPEG_PACKAGE / JPEG_WASM_FILE).read_bytes()
    sri = "sha384-" + base64.b64encode(hashlib.sha384(tested).digest()).decode()
    assert sri == JPEG_WASM_SRI
    assert json.loads((JPEG_PACKAGE / "package.json").read_text())["version"] == JPEG_WASM_VERSION
    assert JPEG_WASM_CDN == f"https://cdn.jsdelivr.net/npm/@cwasm/jpeg-turbo@{JPEG_WASM_VERSION}/{JPEG_WASM_FILE}"
    summary = export_web(bundle, tmp_path / "cdn", ort="cdn", jpeg="cdn")
    page = (tmp_path / "cdn" / "index.html").read_text()
    assert f'<meta name="imgcls-jpeg-wasm" content="{JPEG_WASM_CDN}" data-integrity="{sri}">' in page
    assert summary["jpeg_decoder"] == JPEG_WASM_CDN and not (tmp_path / "cdn" / "jpeg").exists()
    # a re-export without the decoder removes the local copy a previous export wrote
    export_web(bundle, tmp_path / "none", ort="cdn", jpeg=str(JPEG_PACKAGE))
    assert (tmp_path / "none" / "jpeg" / JPEG_WASM_FILE).is_file()
    summary = export_web(bundle, tmp_path / "none", ort="cdn", jpeg="none")
    page = (tmp_path / "none" / "index.html").read_text()
    assert '<meta name="imgcls-jpeg-wasm" content="" data-integrity="">' in page
    assert summary["jpeg_decoder"] == "the browser's decoder" and not (tmp_path / "none" / "jpeg").exists()
    other = tmp_path / "other"
    other.mkdir()
    (other / JPEG_WASM_FILE).write_bytes(tested[:-1] + b"\x00")
    proc = run_cli("export-web", "--model", str(bundle), "--out", str(tmp_path / "x"), "--ort-web", "cdn",
                   "--jpeg-wasm", str(other))
    assert proc.returncode != 0 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "not the @cwasm/jpeg-turbo 0.1.3 build" in proc.stderr and "npm pack @cwasm/jpeg-turbo@0.1.3" in proc.stderr
    assert not (tmp_path / "x").exists()


def test_refusals_name_the_cause_and_write_nothing(bundle, tmp_path):
    # an onnxruntime-web folder of another version, and a folder that is not one
    other = tmp_path / "ort-other" / "dist"
    other.mkdir(parents=True)
    for name in ORT_FILES:
        (other / name).write_bytes(b"x")
    (other.parent / "package.json").write_text(json.dumps({"name": "onnxruntime-web", "version": "1.29.0"}))
    proc = run_cli("export-web", "--model", str(bundle), "--out", str(tmp_path / "a"), "--ort-web", str(other.parent))
    assert proc.returncode != 0 and "onnxruntime-web 1.29.0" in proc.stderr and ORT_WEB_VERSION in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "a").exists()
    proc = run_cli("export-web", "--model", str(bundle), "--out", str(tmp_path / "b"), "--ort-web", str(tmp_path))
    assert proc.returncode != 0 and "npm pack onnxruntime-web@1.30.0" in proc.stderr and not (tmp_path / "b").exists()
    # a folder with someone else's files
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("keep me")
    with pytest.raises(WebExportError, match="not an export-web site"):
        export_web(bundle, tmp_path / "mine", ort="cdn")
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["thesis.tex"]


def test_a_resize_without_a_javascript_version_is_refused(tmp_path):
    from imgcls_onnx.runtime.bundle import BundleConfig, write_bundle
    from imgcls_onnx.runtime.transforms import PreprocessSpec

    onnx = tiny_onnx_model(tmp_path / "m.onnx", 3)
    config = BundleConfig("cubic", PreprocessSpec.imagenet(36, 32, interpolation="bicubic"), 3, ("a", "b", "c"))
    b = write_bundle(tmp_path / "cubic", onnx, config)
    proc = run_cli("export-web", "--model", str(b), "--out", str(tmp_path / "site"), "--ort-web", "cdn")
    assert proc.returncode != 0 and "interpolation 'bicubic'" in proc.stderr and "imgcls-onnx serve" in proc.stderr
    assert not (tmp_path / "site").exists()


def test_served_site_is_cross_origin_isolated_with_module_and_wasm_types(bundle, tmp_path):
    need_npm_packages("onnxruntime-web")
    export_web(bundle, tmp_path / "site", ort=str(NODE_MODULES / "onnxruntime-web"))
    with serving(tmp_path / "site") as url:
        with urllib.request.urlopen(url) as r:
            assert r.headers["Cross-Origin-Opener-Policy"] == "same-origin"
            assert r.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        for name, mime in (("ort/ort-wasm-simd-threaded.mjs", "text/javascript"),
                           ("ort/ort-wasm-simd-threaded.wasm", "application/wasm"), ("jpeg.js", "text/javascript")):
            with urllib.request.urlopen(url + name) as r:
                assert r.headers["Content-Type"] == mime
    with pytest.raises(WebExportError, match="not an export-web site"):
        from imgcls_onnx.web_export import site_server

        site_server(tmp_path, "127.0.0.1", 0)


def test_every_zoo_model_has_a_javascript_preprocessing():
    """All 84 zoo op lists (cv2 linear and Pillow bicubic, after the runtime's own parsing) pass export-web's check."""
    from imgcls_onnx.store.catalogue import load_zoo
    from imgcls_onnx.web_export import check_browser_ops

    zoo = load_zoo()
    names = zoo.names()
    assert len(names) == 84
    backends = set()
    for name in names:
        spec = zoo.get(name).preprocess
        check_browser_ops(spec)
        backends.add(spec.ops[0].backend)
    assert backends == {"cv2", "pil"}


def test_serve_web_on_a_busy_port_is_one_clear_error(bundle, tmp_path):
    import socket

    export_web(bundle, tmp_path / "site", ort="cdn")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = run_cli("serve-web", str(tmp_path / "site"), "--port", str(port), timeout=60)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines() == [f"error: cannot listen on 127.0.0.1:{port}: Address already in use"]
