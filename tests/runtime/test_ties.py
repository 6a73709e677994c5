"""One order for exact ties, everywhere (#30): among equal scores the higher class id comes first, in ``top_k`` (both
of its ways: a stable full sort, and a partition for small k), in the Classifier's Predictions, the server's
categories, Ray's rows and the Triton client. Expected orders are written out by hand (tests/tie_cases.py); the same
cases run on aarch64 in tests/arm64/test_arm64_ties.py and under Node in tests/web/test_js_ties.py."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from helpers.tie_cases import CASES, MODEL_EXPECTED, tie_bundle, tie_images

from imgcls_onnx.runtime.postprocess import _top_k_partitioned, _top_k_sorted, top_k

IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("name, scores, k, expected", CASES, ids=IDS)
def test_top_k_puts_the_higher_class_id_first_among_equal_scores(name, scores, k, expected):
    ids, rounded = top_k(scores[None, :], k)
    assert ids.dtype == np.int32 and ids.shape == (1, len(expected))
    assert ids[0].tolist() == expected
    assert rounded[0].tolist() == [float(np.around(scores[i], 5)) for i in expected]


WAYS = [pytest.param(way, name, scores, min(k, scores.size), expected, id=f"{way.__name__[7:]}-{name}")
        for way in (_top_k_sorted, _top_k_partitioned) for name, scores, k, expected in CASES
        if way is _top_k_sorted or k < scores.size]  # the partition is for k < classes


@pytest.mark.parametrize("way, name, scores, k, expected", WAYS)
def test_both_ways_give_the_written_order(way, name, scores, k, expected):
    """top_k picks the partition for k < classes / 4 and the stable sort otherwise: each must give every order."""
    assert way(scores[None, :], k)[0].tolist() == expected


def test_a_batch_orders_each_row_on_its_own():
    """Rows of one batch with different ties (the partition gathers candidates of every row at once)."""
    rows = [c for c in CASES if c[1].size == 1000 and c[2] == 5]
    assert len(rows) >= 3
    batch = np.stack([scores for _, scores, _, _ in rows] * 2)
    ids, _ = top_k(batch, 5)
    assert ids.tolist() == [expected for _, _, _, expected in rows] * 2


def test_paddlex_expression_with_a_stable_sort_is_the_same_order():
    """The rule is PaddleX's own ``argsort(axis=1)[:, -k:][:, ::-1]``, with kind="stable"."""
    for _, scores, k, expected in CASES:
        k = min(k, scores.size)
        assert np.argsort(scores[None, :], axis=1, kind="stable")[:, -k:][:, ::-1][0].tolist() == expected


@pytest.fixture(scope="module")
def tie_model(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ties")
    return tie_bundle(tmp / "bundle"), tie_images(tmp / "images")


def test_predictions_categories_rows_and_serving_give_the_written_order(tie_model):
    """The tie model (integer logits, exact ties after the softmax) through the Classifier; its Predictions as the
    server (categories, and the handler's own function) and Ray (rows, and the actor) give them."""
    from imgcls_onnx.ray import BundlePredictor, RayJob
    from imgcls_onnx.runtime.classifier import Classifier
    from imgcls_onnx.runtime.images import load_image
    from imgcls_onnx.serving.handlers import _categories

    bundle, images = tie_model
    names = list(images)
    paths = [str(images[n]) for n in names]
    expected = [MODEL_EXPECTED[n] for n in names]
    with Classifier.from_dir(bundle, device="cpu", threads=1) as clf:
        preds = list(clf.predict(paths, batch_size=4, topk=5))
        assert [p.class_ids for p in preds] == expected
        assert [[c["id"] for c in p.categories()] for p in preds] == expected
        assert [p.to_row()["class_ids"] for p in preds] == expected
        probs = clf.model.run(clf.preprocess.batch([load_image(p) for p in paths]))
        state = SimpleNamespace(model=clf.model, classifier=clf)
        assert [[c["id"] for c in _categories(state, row, 5)] for row in probs] == expected
    rows = BundlePredictor(RayJob(str(bundle), topk=5))({"path": paths, "bytes": [images[n].read_bytes() for n in names]})
    assert rows["class_ids"] == expected
