"""Planning without a cluster: the actor pool's and the blocks' sizes (hand-written), and the job's options reaching
the actor pool whole (a stand-in for Ray Data records what the plan asks of it)."""
from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest
from helpers import tiny_bundle

from imgcls_onnx.ray import BundlePredictor, RayJob, actor_plan, block_plan, classify_dataset, compat
from imgcls_onnx.ray.gate import GATE_ENV, GatedPredictor, make_gate


def test_actor_plan():
    """Hand-written sizing: a 2-core machine gets one 2-thread actor, 16-core nodes 4-thread actors."""
    assert actor_plan(2, [2]) == (1, 2)
    assert actor_plan(2, [2], actors=2) == (2, 1)
    assert actor_plan(128, [16] * 8) == (32, 4)
    assert actor_plan(20, [16, 4]) == (5, 4)
    assert actor_plan(3, [1, 1, 1]) == (3, 1)
    assert actor_plan(8, [8], threads_per_actor=8) == (1, 8)


def test_block_plan():
    """Hand-written: a call is exactly one block, so 2000 files on one actor are 8 calls of 250 (not 7 of 256 and
    7 of 30), and each actor gets at least two blocks."""
    assert block_plan(2000, 1, 256) == (8, 250)
    assert block_plan(20, 1, 8) == (3, 7)
    assert block_plan(210, 1, 256) == (2, 105)
    assert block_plan(10, 4, 256) == (8, 2)
    assert block_plan(1, 1, 256) == (1, 1)  # never more blocks than files: Ray Data would split files
    assert block_plan(3, 2, 256) == (3, 1)


@pytest.fixture
def fake_ray(monkeypatch):
    """Ray Data as classify sees it: ``map_batches`` calls are recorded, not run."""
    calls = []

    class Dataset:
        def map_batches(self, fn, **kw):
            calls.append(dict(kw, fn=fn))
            return kw

    pool = SimpleNamespace(data=SimpleNamespace(
        ActorPoolStrategy=lambda size, max_concurrent_calls_per_actor=None: ("pool", size)))
    monkeypatch.setattr(compat, "ray_module", lambda: pool)
    return Dataset(), calls


def test_the_job_reaches_the_actors_whole(fake_ray, tmp_path, monkeypatch):
    """classify_dataset's keyword arguments become one frozen RayJob, which the actor gets as it is; the pool and
    the calls are sized from it."""
    monkeypatch.delenv(GATE_ENV, raising=False)
    dataset, calls = fake_ray
    bundle = str(tiny_bundle(tmp_path / "bundle"))
    classify_dataset(dataset, bundle, actors=3, threads_per_actor=2, topk=5, rows_per_call=7, path_prefix="s3://")
    classify_dataset(dataset, bundle, batch_size=300, whole_blocks=True)
    classify_dataset(dataset, bundle, batch_size=8)
    job = RayJob(bundle, actors=3, threads_per_actor=2, topk=5, rows_per_call=7, path_prefix="s3://")
    assert calls[0] == {"fn": BundlePredictor, "fn_constructor_kwargs": {"job": job}, "batch_size": 7,
                        "compute": ("pool", 3), "num_cpus": 2, "num_gpus": None}
    assert calls[1]["batch_size"] is None and calls[1]["fn_constructor_kwargs"]["job"].batch_size == 300
    assert calls[2]["batch_size"] == 256 and calls[2]["compute"] == ("pool", 1)  # ROWS_PER_CALL at least
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.topk = 1  # type: ignore[misc]


def test_a_test_gate_changes_the_actor_class_not_a_signature(fake_ray, tmp_path, monkeypatch):
    """The test hook reaches the actors through $IMGCLS_ONNX_RAY_TEST_GATE alone (read in the driver, handed to
    GatedPredictor); without it the pool is of plain BundlePredictors."""
    dataset, calls = fake_ray
    bundle = str(tiny_bundle(tmp_path / "bundle"))
    gate = make_gate(tmp_path / "gate", hold="x.jpg")
    monkeypatch.setenv(GATE_ENV, gate)
    classify_dataset(dataset, bundle)
    monkeypatch.delenv(GATE_ENV)
    classify_dataset(dataset, bundle)
    job = RayJob(bundle, actors=1, threads_per_actor=1)  # classify_dataset's defaults
    assert calls[0]["fn"] is GatedPredictor and calls[0]["fn_constructor_kwargs"] == {"job": job, "gate": gate}
    assert calls[1]["fn"] is BundlePredictor and calls[1]["fn_constructor_kwargs"] == {"job": job}
