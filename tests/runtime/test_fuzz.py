"""Short fuzz run (hypothesis): mutated image bytes may only raise our own errors. Long runs: scripts/fuzz."""
from __future__ import annotations

import struct
import traceback
import zlib
from pathlib import Path

import numpy as np
from helpers import AVAILABLE_DECODERS, use_decoder
from helpers.corpus import fuzz_seeds, mutate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imgcls_onnx.runtime.errors import ImgclsError
from imgcls_onnx.runtime.images import ImageLimits, load_image

SEEDS = fuzz_seeds()
LIMITS = ImageLimits(max_bytes=1 << 20, max_pixels=4_000_000)


PROGRAMMING_ERRORS = (NameError, TypeError, AttributeError, KeyError, IndexError, UnboundLocalError)


def check(data: bytes) -> None:
    """With each decoder in turn: OpenCV, and Pillow (an install without OpenCV)."""
    for decoder in AVAILABLE_DECODERS:
        with use_decoder(decoder):
            _check(data)


def _check(data: bytes) -> None:
    try:
        image = load_image(data, limits=LIMITS)
    except ImgclsError as e:
        # our error is the right answer to bad bytes, but not when it wraps a bug of ours
        cause = e.__cause__ or e.__context__
        while cause is not None:
            assert not (isinstance(cause, PROGRAMMING_ERRORS) and _went_through_our_code(cause)), (
                f"a programming error behind {e!r}: {cause!r}")
            cause = cause.__cause__ or cause.__context__
        return
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert image.shape[0] * image.shape[1] <= LIMITS.max_pixels


def _went_through_our_code(exc: BaseException) -> bool:
    """Raised in or passed through imgcls_onnx (or this file), not only a library's internals: Pillow's PNG reader
    looks up chunk handlers with getattr, catches the AttributeError of an unknown chunk and may then raise
    "Truncated File Read", which carries that AttributeError as its context."""
    frames = traceback.extract_tb(exc.__traceback__)
    return any("imgcls_onnx" in Path(f.filename).parts or f.filename == __file__ for f in frames)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed_index=st.integers(0, len(SEEDS) - 1), mutation_seed=st.integers(0, 2**32 - 1))
def test_mutated_images_raise_only_our_errors(seed_index, mutation_seed):
    check(mutate(SEEDS[seed_index], np.random.default_rng(mutation_seed)))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=512))
def test_arbitrary_bytes_raise_only_our_errors(data):
    check(data)


def test_check_catches_a_wrapped_programming_error(monkeypatch):
    """The fuzz check itself: a decoder bug turned into our error must fail it."""
    import pytest

    import imgcls_onnx.runtime.images as images

    def buggy(*args, **kwargs):
        try:
            {}["missing"]
        except KeyError as e:
            raise images.ImageDecodeError("x", "cannot decode") from e

    monkeypatch.setattr(images, "load_image", buggy)
    monkeypatch.setitem(globals(), "load_image", buggy)
    with pytest.raises(AssertionError, match="programming error"):
        check(b"anything")


def test_every_seed_decodes(decoder):
    for data in SEEDS:
        assert load_image(data, limits=LIMITS).shape[:2] in ((24, 32), (32, 24))


def test_check_ignores_what_a_library_handled_itself():
    """An unknown PNG chunk longer than the file: Pillow handles its own AttributeError, then refuses the header."""
    def chunk(kind, payload, length=None):
        n = len(payload) if length is None else length
        return struct.pack(">I", n) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 32, 24, 8, 2, 0, 0, 0))
            + chunk(b"IDAP", b"x" * 20, length=500))
    check(data)
