"""``imgcls-onnx export-web``: a bundle as a static web site that classifies images in the browser with onnxruntime-web.

The site holds the ONNX graph, ``model.json`` (PaddleX's preprocessing ops, labels, the graph's input and output), the
JavaScript module ``imgcls.js`` that runs them (OpenCV-exact resize; see docs/web.md), ``jpeg.js`` (JPEG decoding
with libjpeg-turbo compiled to WebAssembly, the runtime's pixels), and a page. onnxruntime-web's files and the JPEG
decoder's .wasm come from local copies of the pinned npm packages (offline site) or from pinned CDN URLs with
integrity hashes. Nothing here imports onnxruntime-web or needs Node: the wheel carries only the page files.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import os
import shutil
import sys
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import PIL

from .errors import WebExportError
from .runtime.bundle import load_bundle
from .runtime.images import DEFAULT_LIMITS
from .runtime.model import OnnxModel
from .runtime.transforms import CropImage, NormalizeImage, ResizeImage

ORT_WEB_VERSION = "1.30.0"
# the files ort.min.js loads for the wasm backend (the jsep pair is requested even when WebGPU is not used)
ORT_FILES = ("ort.min.js", "ort-wasm-simd-threaded.wasm", "ort-wasm-simd-threaded.mjs",
             "ort-wasm-simd-threaded.jsep.wasm", "ort-wasm-simd-threaded.jsep.mjs")
ORT_CDN = f"https://cdn.jsdelivr.net/npm/onnxruntime-web@{ORT_WEB_VERSION}/dist/"
# sha384 of dist/ort.min.js in the npm package onnxruntime-web@1.30.0 (jsDelivr serves the npm files unchanged);
# tests/web checks it against the installed package
ORT_MIN_JS_SRI = "sha384-N94xSNjPDbfBJj4+QINst0nbHpcCm8kc1qNlIP/wA0muqjR3aVyIuDkMeccPrLvQ"
# the JPEG decoder jpeg.js runs: libjpeg-turbo 2.0.4 (TurboJPEG API, ISLOW IDCT, fancy upsampling) built for
# WebAssembly by the npm package @cwasm/jpeg-turbo; its pixels equal cv2.imdecode's (tests/web/test_jpeg_decode.py)
JPEG_WASM_PACKAGE = "@cwasm/jpeg-turbo"
JPEG_WASM_VERSION = "0.1.3"
JPEG_WASM_FILE = "jpeg-turbo.wasm"
JPEG_WASM_CDN = f"https://cdn.jsdelivr.net/npm/{JPEG_WASM_PACKAGE}@{JPEG_WASM_VERSION}/{JPEG_WASM_FILE}"
# sha384 of jpeg-turbo.wasm in @cwasm/jpeg-turbo@0.1.3: the page checks it before compiling (local copy or CDN) and
# export-web refuses a local file that is not this one; tests/web checks it against the installed package
JPEG_WASM_SRI = "sha384-iXWmUaUtG97xgJ0AR1F+mORF3VKZYUU2m9pX1wuOnBCE5FdvKeBsjL/WPcfyUscQ"
JPEG_NOTICE = "LICENSE-libjpeg-turbo.txt"
# the resizes imgcls.js implements exactly (tests/web/test_preprocess_parity.py)
BROWSER_RESIZES = {"cv2": ("linear", "nearest"), "pil": ("linear", "bicubic", "lanczos", "box")}
PAGE_FILES = ("index.html", "app.js", "imgcls.js", "jpeg.js", "style.css")
ASSETS = Path(__file__).with_name("web")
# a checkout's own npm install (web/package.json pins the version)
_CHECKOUT_ORT = Path(__file__).resolve().parent.parent / "web" / "node_modules" / "onnxruntime-web"
_CHECKOUT_JPEG = Path(__file__).resolve().parent.parent / "web" / "node_modules" / "@cwasm" / "jpeg-turbo"


def _ort_dist(folder: Path) -> Path:
    """The dist folder of an onnxruntime-web package folder (or the dist folder itself), checked."""
    folder = Path(folder)
    dist = folder / "dist" if (folder / "dist").is_dir() else folder
    missing = [f for f in ORT_FILES if not (dist / f).is_file()]
    if missing:
        raise WebExportError(f"{folder}: not an onnxruntime-web package or dist folder (missing {', '.join(missing)}); "
                             f"get one with: npm pack onnxruntime-web@{ORT_WEB_VERSION} && tar xzf "
                             f"onnxruntime-web-{ORT_WEB_VERSION}.tgz (then pass package/)")
    package_json = dist.parent / "package.json"
    if package_json.is_file():
        version = json.loads(package_json.read_text(encoding="utf-8")).get("version")
        if version != ORT_WEB_VERSION:
            raise WebExportError(f"{folder}: onnxruntime-web {version}, but imgcls.js is tested with "
                                 f"{ORT_WEB_VERSION}; use that version")
    return dist


def _find_local(env_var: str, checkout: Path, check) -> Path | None:
    """A browser package from the folder $env_var names or this checkout's web/node_modules (checked), else None."""

    env = os.environ.get(env_var)
    if env:
        return check(Path(env))
    return check(checkout) if checkout.is_dir() else None


def find_local_ort() -> Path | None:
    """onnxruntime-web from $IMGCLS_ONNX_ORT_WEB or this checkout's web/node_modules, else None."""
    return _find_local("IMGCLS_ONNX_ORT_WEB", _CHECKOUT_ORT, _ort_dist)


def sri_sha384(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def _jpeg_wasm(folder: Path) -> Path:
    """jpeg-turbo.wasm in an @cwasm/jpeg-turbo package folder (or that file itself), checked against the pinned hash."""
    folder = Path(folder)
    wasm = folder if folder.is_file() else folder / JPEG_WASM_FILE
    get = (f"get it with: npm pack {JPEG_WASM_PACKAGE}@{JPEG_WASM_VERSION} && tar xzf "
           f"cwasm-jpeg-turbo-{JPEG_WASM_VERSION}.tgz (then pass package/)")
    if not wasm.is_file():
        raise WebExportError(f"{folder}: not a {JPEG_WASM_PACKAGE} package folder (no {JPEG_WASM_FILE}); {get}")
    if sri_sha384(wasm.read_bytes()) != JPEG_WASM_SRI:
        raise WebExportError(f"{wasm}: not the {JPEG_WASM_PACKAGE} {JPEG_WASM_VERSION} build the page is tested with "
                             f"(its sha384 differs); {get}")
    return wasm


def find_local_jpeg_wasm() -> Path | None:
    """The JPEG decoder's .wasm from $IMGCLS_ONNX_JPEG_WASM or this checkout's web/node_modules, else None."""
    return _find_local("IMGCLS_ONNX_JPEG_WASM", _CHECKOUT_JPEG, _jpeg_wasm)


def check_browser_ops(spec) -> None:
    """Refuse, with the reason, a PreprocessSpec that imgcls.js cannot run exactly (names are already canonical)."""

    seen_normalize = False
    for op in spec.ops:
        if isinstance(op, ResizeImage) and op.interpolation not in BROWSER_RESIZES.get(op.backend, ()):
            raise WebExportError(
                f"ResizeImage with interpolation {op.interpolation!r} and backend {op.backend!r} has no JavaScript "
                "version here (the browser page supports cv2 linear and nearest, pil linear, bicubic, lanczos and "
                "box); the model can still be served with `imgcls-onnx serve`")
        if isinstance(op, (ResizeImage, CropImage)) and seen_normalize:
            raise WebExportError(f"{type(op).__name__} after NormalizeImage is not supported in the browser page")
        seen_normalize = seen_normalize or isinstance(op, NormalizeImage)


def pillow_vertical_first() -> bool:
    return int(PIL.__version__.split(".")[0]) >= 13


def model_config(bundle, io, topk: int = 5) -> dict:
    """model.json: everything imgcls.js needs besides the graph."""

    check_browser_ops(bundle.config.preprocess)
    return {
        "format": 1,
        "name": bundle.name,
        "model_file": "model.onnx",
        "transform_ops": bundle.config.preprocess.to_yml_ops(),
        **io.to_dict(),
        "labels": list(bundle.config.label_list or []),
        "topk": int(topk),
        "limits": {"max_bytes": DEFAULT_LIMITS.max_bytes, "max_pixels": DEFAULT_LIMITS.max_pixels},
        "weights": bundle.weights,
        # Pillow 13 does the vertical pass first when the height shrinks much more than the width (12 and older
        # never do); `backend: pil` resizes follow the Pillow of the machine that exported, as the runtime there does
        "pillow_vertical_first": pillow_vertical_first(),
    }


def _place_ort(out: Path, dist: Path | None) -> tuple[str, str]:
    """onnxruntime-web's files copied into OUT/ort (or the CDN named): (the page's script tag, its wasm path)."""
    if dist is None:
        shutil.rmtree(out / "ort", ignore_errors=True)
        return (f'<script src="{ORT_CDN}ort.min.js" integrity="{ORT_MIN_JS_SRI}" crossorigin="anonymous"></script>',
                ORT_CDN)
    (out / "ort").mkdir(exist_ok=True)
    for name in ORT_FILES:
        shutil.copyfile(dist / name, out / "ort" / name)
    return '<script src="ort/ort.min.js"></script>', "ort/"


def _place_jpeg(out: Path, jpeg_wasm: Path | None, jpeg: str) -> tuple[str, str]:
    """The JPEG decoder copied into OUT/jpeg (or the CDN, or none): (the page's wasm source, where it comes from)."""
    if jpeg_wasm is None:
        shutil.rmtree(out / "jpeg", ignore_errors=True)
        return ("", "the browser's decoder") if jpeg == "none" else (JPEG_WASM_CDN, JPEG_WASM_CDN)
    (out / "jpeg").mkdir(exist_ok=True)
    shutil.copyfile(jpeg_wasm, out / "jpeg" / JPEG_WASM_FILE)
    shutil.copyfile(ASSETS / JPEG_NOTICE, out / "jpeg" / JPEG_NOTICE)
    return f"jpeg/{JPEG_WASM_FILE}", "local copy"


def export_web(bundle_dir, out, ort: str = "auto", topk: int = 5, jpeg: str = "auto") -> dict:
    """Write the site into ``out`` (created; an existing non-empty folder that is not a previous export is refused).
    ``bundle_dir``: a bundle folder (loaded on the CPU) or an OnnxModel.

    ``ort``: ``"auto"`` (a local onnxruntime-web copy when one is found, else the CDN), ``"cdn"``, or a folder
    holding the onnxruntime-web package. ``jpeg``, the JPEG decoder (libjpeg-turbo WebAssembly): ``"auto"`` (a local
    copy when one is found, else the CDN), ``"cdn"``, ``"none"`` (the browser's decoder), or the @cwasm/jpeg-turbo
    package folder. Returns a summary (where each comes from, sizes)."""

    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / "model" / "model.json").is_file():
        raise WebExportError(f"{out}: exists and is not an export-web site; choose an empty or new folder")
    model = bundle_dir if isinstance(bundle_dir, OnnxModel) else OnnxModel(load_bundle(bundle_dir), "cpu")
    bundle, io = model.bundle, model.io
    config = model_config(bundle, io, topk)
    if ort == "cdn":
        dist = None
    elif ort == "auto":
        dist = find_local_ort()
    else:
        dist = _ort_dist(Path(ort))
    if jpeg in ("cdn", "none"):
        jpeg_wasm = None
    elif jpeg == "auto":
        jpeg_wasm = find_local_jpeg_wasm()
    else:
        jpeg_wasm = _jpeg_wasm(Path(jpeg))

    out.mkdir(parents=True, exist_ok=True)
    (out / "model").mkdir(exist_ok=True)
    shutil.copyfile(bundle.onnx_path, out / "model" / "model.onnx")
    (out / "model" / "model.json").write_text(json.dumps(config, ensure_ascii=False, indent=1), encoding="utf-8")
    for name in PAGE_FILES[1:]:
        shutil.copyfile(ASSETS / name, out / name)
    script, wasm_paths = _place_ort(out, dist)
    jpeg_src, jpeg_from = _place_jpeg(out, jpeg_wasm, jpeg)
    page = (ASSETS / "index.html").read_text(encoding="utf-8")
    page = page.replace("<!--ORT_SCRIPT-->", script).replace("__ORT_WASM_PATHS__", wasm_paths)
    page = page.replace("__JPEG_WASM__", jpeg_src).replace("__JPEG_WASM_SRI__", JPEG_WASM_SRI if jpeg_src else "")
    page = page.replace("__MODEL_NAME__", html.escape(bundle.name, quote=True))
    (out / "index.html").write_text(page, encoding="utf-8")
    return {"site": str(out), "model": bundle.name, "onnxruntime_web": ORT_WEB_VERSION,
            "ort_files": "local copy" if dist is not None else ORT_CDN, "jpeg_decoder": jpeg_from,
            "bytes": sum(p.stat().st_size for p in out.rglob("*") if p.is_file())}


class _SiteHandler(SimpleHTTPRequestHandler):
    """Static files with the headers a browser needs for threaded WebAssembly (cross-origin isolation)."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript", ".js": "text/javascript",
                      ".wasm": "application/wasm", ".onnx": "application/octet-stream", ".json": "application/json"}

    def end_headers(self):
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format, *args):  # quiet: the page reports its own errors
        pass


class _SiteServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return  # the browser went away mid-file (a reload, a closed tab): nothing to report
        super().handle_error(request, client_address)


def site_server(site, host: str = "127.0.0.1", port: int = 8000) -> ThreadingHTTPServer:
    """An HTTP server for an exported site, cross-origin isolated (so onnxruntime-web may use several threads).
    Call ``serve_forever()``; ``server_address`` holds the bound port (pass 0 for any free one)."""
    site = Path(site)
    if not (site / "model" / "model.json").is_file():
        raise WebExportError(f"{site}: not an export-web site (no model/model.json)")
    handler = functools.partial(_SiteHandler, directory=str(site))
    return _SiteServer((host, port), handler)
