"""runtime/pillow_as_opencv.py on its own (no OpenCV needed): its hand-off of Pillow's pixels, the fast one through
Pillow's private raw encoder and the public fallback, give np.asarray's values. That its conversions give OpenCV's
pixels is tested against cv2.imdecode in tests/runtime/test_decode.py."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import decode_corpus
from PIL import Image

from imgcls_onnx.runtime import pillow_as_opencv

MODES = ["L", "LA", "RGB", "RGBA", "RGBX", "CMYK", "1", "I;16", "P"]


def _image(mode: str) -> Image.Image:
    rgb = decode_corpus.content(np.random.default_rng(3), 37, 1000)  # rows wider than one 64 KiB piece / 4
    if mode == "I;16":
        return Image.fromarray(rgb[..., 0].astype(np.uint16) * 99)
    return Image.fromarray(rgb).convert(mode)


@pytest.mark.parametrize("mode", MODES)
def test_pil_array_matches_numpys_view(mode, monkeypatch):
    """pil_array encodes Pillow's pixels straight into a writable array (faster than np.asarray); the same values
    as np.asarray, and the public np.asarray fallback (a mode it does not encode itself) too."""
    im = _image(mode)
    expected = np.asarray(im)
    got = pillow_as_opencv.pil_array(im)
    assert got.flags.writeable and got.flags.c_contiguous and got.dtype == expected.dtype
    assert np.array_equal(got, expected)
    monkeypatch.setattr(pillow_as_opencv, "_BYTES_PER_PIXEL", {})
    fallback = pillow_as_opencv.pil_array(im)
    assert fallback.flags.writeable and np.array_equal(fallback, expected)


class _Pillow:
    """PIL.Image as pillow_as_opencv sees it, with ``_getencoder`` replaced or (None) missing; Pillow's own code
    (tobytes, hence np.asarray) keeps the real one."""

    def __init__(self, getencoder):
        self._getencoder_or_none = getencoder

    def __getattr__(self, name):
        if name == "_getencoder":
            if self._getencoder_or_none is None:
                raise AttributeError("module 'PIL.Image' has no attribute '_getencoder'")
            return self._getencoder_or_none
        return getattr(Image, name)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "CMYK"])
def test_without_pillows_private_encoder_the_public_path_gives_the_same_pixels(mode, monkeypatch):
    """A Pillow without ``Image._getencoder`` (it is private) or whose encoder differs: pil_array falls back to
    np.asarray with the same pixels."""
    im = _image(mode)
    calls: list = []
    monkeypatch.setattr(pillow_as_opencv, "Image", _Pillow(lambda *a: calls.append(a) or Image._getencoder(*a)))
    fast = pillow_as_opencv.pil_array(im)
    assert calls, "the fast path is not taken: this test would not see its fallback"
    assert np.array_equal(fast, np.asarray(im))
    monkeypatch.setattr(pillow_as_opencv, "Image", _Pillow(None))
    hidden = pillow_as_opencv.pil_array(im)
    assert hidden.flags.writeable and np.array_equal(hidden, fast)

    class ChangedEncoder:  # an encoder with other methods: what a future Pillow could hand out
        def setimage(self, *args):
            raise TypeError("setimage() takes other arguments now")

        def cleanup(self):
            pass

    monkeypatch.setattr(pillow_as_opencv, "Image", _Pillow(lambda *a: ChangedEncoder()))
    changed = pillow_as_opencv.pil_array(im)
    assert changed.flags.writeable and np.array_equal(changed, fast)


def test_an_unexpected_error_of_the_fast_path_is_not_hidden(monkeypatch):
    """The fallback is for a Pillow whose internals differ, not for any error: a MemoryError goes through."""

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(pillow_as_opencv, "Image", _Pillow(out_of_memory))
    with pytest.raises(MemoryError):
        pillow_as_opencv.pil_array(_image("RGB"))
