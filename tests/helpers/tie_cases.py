"""Exact ties and the one order for them, written out by hand: among equal scores the higher class id comes first
(PaddleX's ``argsort(axis=1)[:, -k:][:, ::-1]`` with a stable sort; docs/usage.md). Shared by the x86-64 tests
(tests/runtime/test_ties.py), the Node ones (tests/web/test_js_ties.py) and the aarch64 ones
(tests/arm64/test_arm64_ties.py).

- ``CASES``: score vectors with ties of 2 to 5 at the top, ties at the k-th place, all-equal vectors, 1000 classes and
  k larger than the class count, with the class ids ``top_k`` must give;
- ``tie_model`` / ``tie_images`` / ``MODEL_EXPECTED``: a float ONNX model whose logits are small integers chosen by
  the colour of the image, so its probabilities tie exactly, and the ``predict --topk 5`` class ids for each image.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _vector(n: int, values: dict, base: float = 0.0) -> np.ndarray:
    """``n`` scores equal to ``base`` except ``values`` ({ids: score})."""
    p = np.full(n, base, np.float32)
    for ids, v in values.items():
        p[list(ids)] = v
    return p


# (name, scores (float32), k, the class ids top_k gives), expectations by hand
CASES = [
    ("2 tie at the top", np.array([0.1, 0.3, 0.3, 0.05, 0.25], np.float32), 3, [2, 1, 4]),
    ("3 tie at the top", np.array([0.25, 0.05, 0.25, 0.2, 0.25], np.float32), 4, [4, 2, 0, 3]),
    ("4 tie at the top", np.array([0.2, 0.1, 0.2, 0.2, 0.05, 0.2, 0.05], np.float32), 5, [5, 3, 2, 0, 1]),
    ("5 tie at the top", np.array([0.15, 0.15, 0.05, 0.15, 0.15, 0.02, 0.15, 0.08, 0.1, 0.0], np.float32), 6,
     [6, 4, 3, 1, 0, 8]),
    ("5 tie at the top, k=2", np.array([0.15, 0.15, 0.05, 0.15, 0.15, 0.02, 0.15, 0.08, 0.1, 0.0], np.float32), 2,
     [6, 4]),
    ("4 tie at the k-th place", np.array([0.4, 0.1, 0.2, 0.1, 0.1, 0.1], np.float32), 3, [0, 2, 5]),
    ("all equal, k=all", np.full(4, 0.25, np.float32), 4, [3, 2, 1, 0]),
    ("all equal, k=2", np.full(4, 0.25, np.float32), 2, [3, 2]),
    ("k > classes", np.array([0.5, 0.25, 0.25], np.float32), 5, [0, 2, 1]),
    ("1000 classes, 3 tie at the top, 995 at the k-th place",
     _vector(1000, {(17, 500, 999): 0.2, (3,): 0.1}, base=1e-4), 5, [999, 500, 17, 3, 998]),
    ("1000 classes, 5 tie at the top, 3 at the k-th place",
     _vector(1000, {(10, 250, 251, 700, 998): 0.05, (1, 2, 999): 0.01}), 7, [998, 700, 251, 250, 10, 999, 2]),
    ("1000 classes, 2 tie at the top among distinct scores",
     _vector(1000, {(400, 401): 0.5, (0,): 0.25, (999,): 0.125, (123,): 0.0625}), 5, [401, 400, 0, 999, 123]),
    ("1000 classes, all equal", np.full(1000, 0.001, np.float32), 5, [999, 998, 997, 996, 995]),
    ("1000 classes, all equal, k > classes", np.full(1000, 0.001, np.float32), 1001, list(range(999, -1, -1))),
    ("20 classes, 2 ties of 3", _vector(20, {(2, 9, 15): 0.3, (0, 4, 19): 0.02}, base=0.001), 5,
     [15, 9, 2, 19, 4]),
]


# --- a float model whose logits tie -------------------------------------------------------------------------------

# The model: x (N, 3, 32, 32) float -> GlobalAveragePool -> (N, 3) > 0 -> float -> MatMul W (3, 40) + bias (40):
# integer logits picked by which channels of the normalised image are above the mean, i.e. by the colour of a plain
# image. The logits of classes 0-9 (by hand; channel order r, g, b as the runtime and the page feed the model);
# classes 10-39 are -9 for every colour (40 classes: numpy's introsort on aarch64 sorts 16 values or fewer by
# insertion, which happens to be stable, so a 10-class model would hide an unstable sort there).
TIE_LOGITS = {
    "black": [3, 1, 3, 0, 3, 2, 3, 2, 0, 1],  # bias
    "red": [2, 5, 1, 5, 0, 4, 4, 4, 3, 1],
    "green": [6, 6, 6, 6, 6, 6, 2, 1, 0, 5],
    "blue": [2, -5, 3, -7, 4, -2, 4, 3, 1, 0],
    "white": [4, 4, 4, 4, 4, 4, 4, 4, 4, 4],  # red + green + blue - 2 * black: all ten equal
    "yellow": [5, 10, 4, 11, 3, 8, 3, 3, 3, 5],  # red + green - black
}
COLOURS = {"black": (0, 0, 0), "red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255),
           "white": (255, 255, 255), "yellow": (255, 255, 0)}
# predict --topk 5 on the plain image of each colour (exact ties of the softmax of the logits above)
MODEL_EXPECTED = {
    "black": [6, 4, 2, 0, 7],  # 4 tie at the top (3), then 2 of 2 at the k-th place
    "red": [3, 1, 7, 6, 5],  # 2 tie at the top (5), then 3 tie (4) filling the rest
    "green": [5, 4, 3, 2, 1],  # 6 tie at the top (6): the 5 highest ids
    "blue": [6, 4, 7, 2, 0],  # 2 tie (4), 2 tie (3), then 2
    "white": [9, 8, 7, 6, 5],  # 10 tie at the top
    "yellow": [3, 1, 5, 9, 0],  # distinct, then 2 tie (5) at the k-th place
}
TIE_CLASSES = 40
FILLER_LOGIT = -9


def tie_model(path: Path) -> Path:
    from onnx import TensorProto, helper, numpy_helper

    filler = np.full(TIE_CLASSES - len(TIE_LOGITS["black"]), FILLER_LOGIT, np.float32)
    black = np.concatenate([np.array(TIE_LOGITS["black"], np.float32), filler])
    weights = np.stack([np.concatenate([TIE_LOGITS[c], filler]).astype(np.float32) - black
                        for c in ("red", "green", "blue")])
    nodes = [
        helper.make_node("GlobalAveragePool", ["x"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["means"]),
        helper.make_node("Greater", ["means", "zero"], ["above"]),
        helper.make_node("Cast", ["above"], ["bits"], to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["bits", "w"], ["mm"]),
        helper.make_node("Add", ["mm", "bias"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes, "ties",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", TIE_CLASSES])],
        [numpy_helper.from_array(np.zeros((1, 3), np.float32), "zero"),
         numpy_helper.from_array(weights, "w"), numpy_helper.from_array(black, "bias")],
    )
    from helpers import save_test_model

    return save_test_model(graph, path)


def tie_bundle(directory: Path) -> Path:
    """The tie model as a bundle: logits out (the runtime applies the softmax), 40 labels, top-k 5."""
    from imgcls_onnx.runtime.bundle import BundleConfig, write_bundle
    from imgcls_onnx.runtime.transforms import PreprocessSpec

    onnx_path = tie_model(directory.parent / f"{directory.name}.src.onnx")
    config = BundleConfig("ties", PreprocessSpec.imagenet(resize_short=36, crop=32), 5,
                          tuple(f"class_{i}" for i in range(TIE_CLASSES)))
    return write_bundle(directory, onnx_path, config, {"output": "logits"}, overwrite=True)


def tie_images(folder: Path) -> dict[str, Path]:
    """A plain 48x40 PNG of each colour (lossless: every decoder gives the same pixels)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, rgb in COLOURS.items():
        paths[name] = folder / f"{name}.png"
        Image.new("RGB", (48, 40), rgb).save(paths[name])
    return paths
