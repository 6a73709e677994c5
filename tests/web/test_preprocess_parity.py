"""imgcls.js's preprocessing (run by Node) against the Python runtime's on the same pixels: random uint8 images of
random sizes (1..2000 px a side, up and down scaling, edge cases), nine op lists: OpenCV linear and nearest, Pillow
bicubic, linear, lanczos and box (PaddleX's `backend: pil`, used by 22 zoo models). The bar is max |diff| <= 1 uint8
step before normalisation; what the JavaScript reaches, and what this test holds it to, is bit-exact: equal uint8
images and equal float32 model inputs."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from helpers.webtools import WEB, need_node

from imgcls_onnx.runtime.errors import ImgclsError
from imgcls_onnx.runtime.transforms import CropImage, PreprocessSpec, ResizeImage

NORM = {"NormalizeImage": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "scale": 1 / 255,
                           "order": ""}}
OP_LISTS = {
    "resize_short 256, crop 224": [{"ResizeImage": {"resize_short": 256}}, {"CropImage": {"size": 224}}, NORM,
                                   {"ToCHWImage": None}],
    "size 224x224": [{"ResizeImage": {"size": [224, 224]}}, NORM, {"ToCHWImage": None}],
    "size 192x48, mean 0.5": [{"ResizeImage": {"size": [192, 48]}},
                              {"NormalizeImage": {"mean": [0.5] * 3, "std": [0.5] * 3, "scale": "1.0/255.0",
                                                  "order": ""}}, {"ToCHWImage": None}],
    "nearest, resize_short 232, crop 224": [{"ResizeImage": {"resize_short": 232, "interpolation": "nearest"}},
                                            {"CropImage": {"size": 224}}, NORM, {"ToCHWImage": None}],
    "pil bicubic, resize_short 256, crop 224": [
        {"ResizeImage": {"resize_short": 256, "interpolation": "bicubic", "backend": "pil"}},
        {"CropImage": {"size": 224}}, NORM, {"ToCHWImage": None}],
    "pil linear, size 224x224": [{"ResizeImage": {"size": [224, 224], "interpolation": "bilinear", "backend": "pil"}},
                                 NORM, {"ToCHWImage": None}],
    "pil lanczos, resize_short 240, crop 224": [
        {"ResizeImage": {"resize_short": 240, "interpolation": "lanczos", "backend": "pil"}},
        {"CropImage": {"size": 224}}, NORM, {"ToCHWImage": None}],
    "pil box, size 160x96": [{"ResizeImage": {"size": [160, 96], "interpolation": "box", "backend": "pil"}}, NORM,
                             {"ToCHWImage": None}],
    "crop 320x200 after size, chw normalize": [{"ResizeImage": {"size": [400, 300]}}, {"CropImage": {"size": [320, 200]}},
                                               {"ToCHWImage": None}, {**NORM, "NormalizeImage": {**NORM["NormalizeImage"], "order": "chw"}}],
}
EDGE_SIZES = [(1, 1), (1, 2000), (2000, 1), (448, 448), (112, 112), (224, 224), (256, 300), (300, 256), (512, 384),
              (2000, 2000), (3, 1999), (1999, 3)]


class Worker:
    def __init__(self):
        self.proc = subprocess.Popen([need_node(), str(WEB / "test" / "preprocess_worker.mjs")], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, cwd=WEB)

    def run(self, image: np.ndarray, ops: list, options: dict | None = None):
        h, w = image.shape[:2]
        request = {"width": w, "height": h, "transform_ops": ops, "options": options or {}}
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.proc.stdin.write(np.ascontiguousarray(image).tobytes())
        self.proc.stdin.flush()
        header = json.loads(self.proc.stdout.readline())
        if "error" in header:
            return header["error"], None
        ow, oh = header["width"], header["height"]
        staged = np.frombuffer(self.proc.stdout.read(ow * oh * 3), np.uint8).reshape(oh, ow, 3)
        x = np.frombuffer(self.proc.stdout.read(ow * oh * 3 * 4), "<f4").reshape(3, oh, ow)
        return staged, x

    def close(self):
        self.proc.stdin.close()
        rc = self.proc.wait(timeout=30)
        self.proc.stdout.close()
        assert rc == 0


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.close()


def sizes(rng, n):
    out = list(EDGE_SIZES)
    while len(out) < n:
        h, w = (int(v) for v in rng.integers(1, 2001, 2))
        if max(h, w) / min(h, w) <= 40:  # keeps the Python side's full resize (it has no crop window) small
            out.append((h, w))
    return out


def test_random_images_are_bit_exact(worker):
    rng = np.random.default_rng(20261129)
    names = list(OP_LISTS)
    worst, diffs, cases, compared = 0, [], 0, 0
    for i, (h, w) in enumerate(sizes(rng, 270)):
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        name = names[i % len(names)]
        ops = OP_LISTS[name]
        spec = PreprocessSpec.from_yml_ops(ops)
        staged, x = worker.run(image, ops)
        cases += 1
        try:
            expected_staged = image
            for op in spec.ops:
                if isinstance(op, (ResizeImage, CropImage)):
                    expected_staged = op(expected_staged)
            expected_x = spec.reference(image)
        except ImgclsError as e:
            assert isinstance(staged, str), f"{name} {w}x{h}: Python refused ({e}), JavaScript did not"
            continue
        assert not isinstance(staged, str), f"{name} {w}x{h}: JavaScript refused: {staged}"
        assert staged.shape == expected_staged.shape, (name, w, h)
        d = np.abs(staged.astype(np.int16) - expected_staged.astype(np.int16))
        worst = max(worst, int(d.max()))
        diffs.append(float(d.mean()))
        compared += 1
        assert d.max() <= 1, f"{name} {w}x{h}: max |diff| {d.max()} uint8 steps"
        assert np.array_equal(staged, expected_staged), f"{name} {w}x{h}: {int((d > 0).sum())} values differ by 1"
        assert np.array_equal(x, expected_x), f"{name} {w}x{h}: float32 inputs differ, max {np.abs(x - expected_x).max()}"
    print(f"{compared} images compared of {cases}: max |diff| {worst}, mean |diff| {np.mean(diffs):.6f} (uint8 steps)")
    assert compared >= 260


def test_both_refuse_an_image_smaller_than_the_crop(worker):
    ops = [{"ResizeImage": {"size": [100, 80]}}, {"CropImage": {"size": 224}}, NORM, {"ToCHWImage": None}]
    staged, _ = worker.run(np.zeros((50, 60, 3), np.uint8), ops)
    assert isinstance(staged, str) and "smaller than the crop 224x224" in staged
    with pytest.raises(ImgclsError, match="smaller than the crop"):
        PreprocessSpec.from_yml_ops(ops).apply_image_ops(np.zeros((50, 60, 3), np.uint8))


def test_pillow_12_pass_order(worker):
    """Pillow <= 12 always resized horizontally first; exports made there say so (pillow_vertical_first: false). The
    expected image is Pillow itself run one axis at a time, width first, which is what Pillow 12 did in one call."""
    import PIL
    from PIL import Image

    from imgcls_onnx.web_export import pillow_vertical_first

    assert pillow_vertical_first() == (int(PIL.__version__.split(".")[0]) >= 13)
    rng = np.random.default_rng(7)
    for (h, w, dw, dh) in [(300, 256, 160, 96), (120, 120, 60, 2), (500, 90, 80, 60)]:
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        ops = [{"ResizeImage": {"size": [dw, dh], "interpolation": "bicubic", "backend": "pil"}}, NORM,
               {"ToCHWImage": None}]
        staged, _ = worker.run(image, ops, {"pillow_vertical_first": False})
        pil = Image.fromarray(image)
        width_first = np.asarray(pil.resize((dw, h), Image.BICUBIC).resize((dw, dh), Image.BICUBIC))
        assert np.array_equal(staged, width_first), (h, w, dw, dh)


def test_a_very_tall_pillow_resize(worker):
    """A 200,000-row Pillow resize (no crop): the window bounds are found without spreading a 200k-element list into
    Math.min (which overflowed V8's call stack), and the pixels equal Pillow's."""
    ops = [{"ResizeImage": {"size": [1, 200_000], "interpolation": "bicubic", "backend": "pil"}}, NORM,
           {"ToCHWImage": None}]
    image = np.random.default_rng(3).integers(0, 256, (10, 2, 3), dtype=np.uint8)
    staged, _ = worker.run(image, ops)
    assert not isinstance(staged, str), staged
    expected = PreprocessSpec.from_yml_ops(ops).ops[0](image)
    assert staged.shape == (200_000, 1, 3) and np.array_equal(staged, expected)
