from __future__ import annotations

import numpy as np
import pytest
from helpers import structured_image

from imgcls_onnx.runtime.errors import BundleError, PreprocessError
from imgcls_onnx.runtime.transforms import (
    CropImage,
    NormalizeImage,
    PreprocessSpec,
    ResizeImage,
    ToCHWImage,
    op_from_yml,
    parse_scale,
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
    with pytest.raises(BundleError):
        parse_scale("__import__('os')")


def test_unknown_op_names_the_op():
    with pytest.raises(BundleError, match="unknown preprocessing op 'RandomFlip'"):
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
    with pytest.raises(BundleError, match="ToCHWImage"):
        PreprocessSpec((ResizeImage(resize_short=10),))
    assert isinstance(PreprocessSpec.imagenet().ops[-1], ToCHWImage)


@pytest.mark.parametrize(
    "spec",
    [
        PreprocessSpec.imagenet(),
        PreprocessSpec.imagenet(232, 224, "bicubic", "pil"),
        PreprocessSpec.imagenet(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)),
        PreprocessSpec.imagenet(scale=1.0, mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375)),
    ],
    ids=["imagenet", "pil-bicubic", "half", "scale-1"],
)
def test_lookup_table_path_is_bit_identical_to_op_by_op(spec):
    """__call__/batch normalise through a 256-entry table per channel; it must equal PaddleX's op-by-op float32
    arithmetic exactly, for every one of the 256 values in every channel."""
    every_value = np.stack(np.meshgrid(np.arange(256), np.arange(256), indexing="ij"), -1)[..., :1].repeat(3, -1)
    every_value = every_value.astype(np.uint8)  # 256x256x3, every uint8 value in every channel
    images = [structured_image(300, 420, seed=s) for s in range(3)] + [every_value]
    for img in images:
        fast, slow = spec(img), spec.reference(img)
        assert fast.dtype == np.float32 and fast.flags["C_CONTIGUOUS"]
        assert np.array_equal(fast, slow)
    batch = spec.batch(images[:3])
    assert np.array_equal(batch, np.stack([spec.reference(i) for i in images[:3]]))


def test_unusual_op_order_falls_back_to_op_by_op():
    """No table when normalisation is not followed directly by ToCHW on a uint8 image: same result, slow path."""
    spec = PreprocessSpec((ResizeImage(resize_short=40), CropImage((32, 32)), ToCHWImage(),
                           NormalizeImage(order="chw")))
    img = structured_image(50, 70, seed=1)
    assert spec.stage(img).dtype == np.float32  # finished tensor, not a staged uint8 image
    assert np.array_equal(spec(img), spec.reference(img))
    assert spec(img).shape == (3, 32, 32)


def test_batch_of_different_shapes_is_refused():
    spec = PreprocessSpec((ResizeImage(resize_short=32), NormalizeImage(), ToCHWImage()))
    with pytest.raises(PreprocessError, match="different shapes"):
        spec.batch([structured_image(40, 40), structured_image(40, 60)])
