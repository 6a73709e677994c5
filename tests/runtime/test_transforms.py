from __future__ import annotations

import numpy as np
import pytest

from conftest import structured_image
from imgcls_onnx.runtime.errors import ManifestError, PreprocessError
from imgcls_onnx.runtime.transforms import (
    CropImage, NormalizeImage, PreprocessSpec, ResizeImage, ToCHWImage, op_from_yml, parse_scale,
)


def test_resize_short_rounds_half_to_even():
    op = ResizeImage(resize_short=256)
    # 375x500 -> scale 256/375 -> w = 341.33 -> 341
    assert op.output_hw(375, 500) == (256, 341)
    # a side landing exactly on .5 goes to the even neighbour like Python's round(): 2.5 -> 2, 3.5 -> 4
    assert ResizeImage(resize_short=1).output_hw(2, 5) == (1, 2)
    assert ResizeImage(resize_short=1).output_hw(2, 7) == (1, 4)


def test_resize_same_size_is_identity():
    img = structured_image(256, 300)
    assert ResizeImage(resize_short=256)(img) is img


def test_center_crop_offsets_floor():
    img = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    out = CropImage((4, 2))(img)
    assert np.array_equal(out, img[1:3, 1:5])


def test_crop_larger_than_image_is_an_error():
    with pytest.raises(PreprocessError, match="smaller than the crop"):
        CropImage((10, 10))(np.zeros((5, 20, 3), np.uint8))


def test_normalize_is_paddlex_folded_form():
    img = structured_image(8, 8)
    op = NormalizeImage()
    got = op(img)
    alpha = np.array([op.scale / s for s in op.std], np.float32)
    beta = np.array([-m / s for m, s in zip(op.mean, op.std)], np.float32)
    expected = img.astype(np.float32) * alpha + beta
    assert np.array_equal(got, expected)
    # and it is not bit-identical to the textbook form in general
    textbook = ((img.astype(np.float32) * np.float32(op.scale)) - np.float32(op.mean)) / np.float32(op.std)
    assert np.abs(got - textbook).max() < 1e-5


def test_parse_scale_fraction_without_eval():
    assert parse_scale("1.0/255.0") == pytest.approx(1 / 255, rel=1e-15)
    assert parse_scale(0.5) == 0.5
    with pytest.raises(ManifestError):
        parse_scale("__import__('os')")


def test_unknown_op_names_the_op():
    with pytest.raises(ManifestError, match="unknown preprocessing op 'RandomFlip'"):
        op_from_yml({"RandomFlip": {}})


def test_yml_roundtrip():
    spec = PreprocessSpec.imagenet(232, 224, "bicubic", "pil")
    again = PreprocessSpec.from_yml_ops(spec.to_yml_ops())
    assert again == spec
    assert spec.output_hw == (224, 224)


def test_resize_by_size_and_chw_normalize_order():
    spec = PreprocessSpec.from_yml_ops([
        {"ResizeImage": {"size": [40, 30]}},
        {"ToCHWImage": None},
        {"NormalizeImage": {"order": "chw", "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "scale": "1/255"}},
    ])
    out = spec(structured_image(50, 60))
    assert out.shape == (3, 30, 40) and out.dtype == np.float32
    assert -1.0 <= out.min() and out.max() <= 1.0


def test_spec_requires_chw():
    with pytest.raises(ManifestError, match="ToCHWImage"):
        PreprocessSpec((ResizeImage(resize_short=10),))
    assert isinstance(PreprocessSpec.imagenet().ops[-1], ToCHWImage)
