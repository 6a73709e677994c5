"""Our preprocessing against PaddleX 3.7.2's own tensors (../shared/reference/paddlex_tensors)."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from helpers import REALDATA, REFERENCE

from imgcls_onnx.runtime.images import load_image
from imgcls_onnx.runtime.transforms import PreprocessSpec


def _cases():
    index = REFERENCE / "paddlex_tensors" / "index.json"
    if not index.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{index} absent (../shared not available)"))]
    cases = json.loads(index.read_text())["cases"]
    return [pytest.param(c, id=c["file"]) for c in cases]


def _find(name: str):
    for root, _, files in os.walk(REALDATA):
        if name in files:
            return os.path.join(root, name)
    pytest.skip(f"{name} not in {REALDATA}")


@pytest.mark.realdata
@pytest.mark.parametrize("case", _cases())
def test_matches_paddlex_tensor(case):
    spec = PreprocessSpec.imagenet(case["resize_short"], case["crop"], interpolation=case["interp"].lower(),
                                   backend=case["backend"])
    image = load_image(_find(case["image"]))
    assert list(image.shape[:2]) == case["decoded_hw"]
    ours = spec.batch([image])
    ref = np.load(REFERENCE / "paddlex_tensors" / case["file"])
    assert ours.shape == ref.shape and ours.dtype == np.float32
    assert np.array_equal(ours, ref), f"max abs diff {float(np.abs(ours - ref).max())}"  # bit for bit


@pytest.mark.realdata
def test_reference_covers_both_backends():
    index = REFERENCE / "paddlex_tensors" / "index.json"
    if not index.exists():
        pytest.skip("../shared absent")
    backends = {c["backend"] for c in json.loads(index.read_text())["cases"]}
    assert backends == {"cv2", "pil"}


def test_pil_bicubic_differs_from_cv2_cubic():
    """The trap docs/preprocessing.md warns about: the two bicubics are not interchangeable."""
    from helpers import structured_image

    img = structured_image(300, 400, seed=3)
    pil = PreprocessSpec.imagenet(232, 224, "bicubic", "pil")(img)
    cv = PreprocessSpec.imagenet(232, 224, "bicubic", "cv2")(img)
    assert float(np.abs(pil - cv).max()) > 1e-2
