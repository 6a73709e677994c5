"""Every case of the bad-input corpus gets its written-down outcome, through the library and the CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import tiny_bundle
from helpers.corpus import build_corpus

from imgcls_onnx.runtime import errors
from imgcls_onnx.runtime.images import load_image

# every test here runs twice: with OpenCV decoding, and with Pillow (the decoder of an install without OpenCV)
pytestmark = pytest.mark.usefixtures("decoder")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build_corpus(tmp_path_factory.mktemp("corpus") / "inputs")


def test_library_outcomes(corpus):
    for case in corpus:
        if case.name == "folder_named.jpg":
            continue  # a folder is an input to predict(), not to load_image()
        if case.expected == "ok":
            image = load_image(case.path)
            assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3, case.name
            assert image.shape[:2] == case.hw, case.name
        else:
            with pytest.raises(getattr(errors, case.expected)) as info:
                load_image(case.path)
            assert case.path.name in str(info.value), f"{case.name}: message must name the input: {info.value}"


def test_exif_orientation_turns_the_pixels(corpus):
    """Orientation 6 (rotate 90 cw to view) must equal the stored pixels rotated, not just have swapped sides."""
    stored = load_image(next(c for c in corpus if c.name == "exif_orientation_1.jpg").path)
    turned = load_image(next(c for c in corpus if c.name == "exif_orientation_6.jpg").path)
    assert np.abs(turned.astype(int) - np.rot90(stored, k=-1).astype(int)).mean() < 2


def test_mixed_batch_each_input_its_outcome_and_good_ones_unchanged(corpus, clf):
    inputs = [str(c.path) for c in corpus]
    results = list(clf.predict(inputs, batch_size=4))
    assert len(results) == len(corpus)
    for case, res in zip(corpus, results):
        if case.expected == "ok":
            assert res.ok, f"{case.name}: {res.error}"
            alone = clf.predict_one(str(case.path))
            assert res.class_ids == alone.class_ids and res.scores == alone.scores, case.name
        else:
            assert type(res.error).__name__ == case.expected, f"{case.name}: {res.error!r}"


def test_cli_names_every_failure(corpus, tmp_path):
    from imgcls_onnx.cli import cli

    model = tiny_bundle(tmp_path / "m")
    inputs = [str(c.path) for c in corpus]
    r = CliRunner().invoke(cli, ["predict", "-m", str(model), "--device", "cpu", "-b", "3", *inputs])
    assert r.exit_code == 1
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(lines) == len(corpus)
    errors_out = [x for x in r.stderr.splitlines() if x.startswith("error:")]
    bad = [c for c in corpus if c.expected != "ok"]
    assert len(errors_out) == len(bad)
    for case, line in zip(bad, errors_out):
        assert case.path.name in line
    assert f"{len(bad)} of {len(corpus)} inputs failed" in r.stderr
