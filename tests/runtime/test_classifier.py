"""Streaming, order, batching equivalence, failure isolation, inputs of every kind, providers."""
from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import run_cli, structured_image, tiny_bundle, write_jpeg

from imgcls_onnx import Classifier
from imgcls_onnx.runtime.errors import ImgclsWarning, ProviderError
from imgcls_onnx.runtime.providers import Device, parse_device


def test_batched_equals_single_and_order_kept(clf, tmp_path):
    paths = [write_jpeg(tmp_path / f"{i:02d}.jpg", structured_image(40 + 3 * i, 60 - i, seed=i)) for i in range(11)]
    singles = [clf.predict_one(str(p)) for p in paths]
    for bs in (1, 4, 8):
        batched = list(clf.predict([str(p) for p in paths], batch_size=bs))
        assert [r.input_path for r in batched] == [str(p) for p in paths]
        for a, b in zip(batched, singles):
            assert a.class_ids == b.class_ids
            assert a.scores == pytest.approx(b.scores, abs=1e-5)


def test_bad_inputs_do_not_take_others_down(clf, tmp_path):
    good = [write_jpeg(tmp_path / f"g{i}.jpg", structured_image(50, 50, seed=i)) for i in range(5)]
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    inputs = [str(good[0]), str(bad), str(good[1]), str(tmp_path / "missing.png"), str(good[2]), b"", str(good[3]),
              np.zeros((3, 3), np.float64), str(good[4])]
    results = list(clf.predict(inputs, batch_size=4))
    assert len(results) == len(inputs)
    assert [r.ok for r in results] == [True, False, True, False, True, False, True, False, True]
    assert "bad.jpg" in str(results[1].error) and "missing.png" in str(results[3].error)
    for r, g in zip([results[i] for i in (0, 2, 4, 6, 8)], good):
        assert r.class_ids == clf.predict_one(str(g)).class_ids


def test_directory_and_glob_inputs(clf, tmp_path):
    for rel in ("b/2.jpg", "a/1.png", "a/0.jpg", "c.txt", "z.JPG"):
        p = tmp_path / "tree" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".txt"):
            p.write_text("not an image")
        else:
            write_jpeg(p, structured_image(30, 30))
    got = [r.input_path for r in clf.predict(str(tmp_path / "tree"))]
    root = str(tmp_path / "tree")
    assert got == [f"{root}/a/0.jpg", f"{root}/a/1.png", f"{root}/b/2.jpg", f"{root}/z.JPG"]
    globbed = [r.input_path for r in clf.predict(str(tmp_path / "tree" / "**" / "*.jpg"))]
    assert globbed == [f"{root}/a/0.jpg", f"{root}/b/2.jpg"]
    (none,) = list(clf.predict(str(tmp_path / "nothing*.jpg")))
    assert not none.ok and "matched no image" in str(none.error)


def test_streaming_is_lazy(clf):
    consumed = []

    def gen():
        for i in range(1000):
            consumed.append(i)
            yield structured_image(32, 32, seed=i)[:, :, ::-1].copy()

    it = clf.predict(gen(), batch_size=4, prefetch_batches=1)
    first = next(it)
    assert first.ok
    assert len(consumed) <= 4 * 3, f"read {len(consumed)} inputs to produce the first result"
    it.close()


def test_topk_larger_than_classes_is_clamped(clf):
    r = clf.predict_one(structured_image(32, 32), topk=50)
    assert len(r.class_ids) == 6 and sorted(r.class_ids) == list(range(6))


def test_device_parsing():
    assert parse_device("gpu:1").device_id == 1 and parse_device("gpu:1").kind is Device.CUDA
    assert parse_device("cpu").kind is Device.CPU and parse_device(None).kind is Device.AUTO
    with pytest.raises(ProviderError, match="unknown device"):
        parse_device("tpu")


def test_explicit_gpu_without_cuda_raises_with_fix(tmp_path):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("not applicable: this onnxruntime has CUDA; the no-CUDA error path cannot be shown here")
    d = tiny_bundle(tmp_path / "m")
    with pytest.raises(ProviderError, match="imgcls-onnx\\[gpu\\]"):
        Classifier.from_dir(d, device="gpu:0")
    assert Classifier.from_dir(d, device="auto").device == "cpu"


def _mixed_inputs(tmp_path, n=13):
    paths = [str(write_jpeg(tmp_path / f"p{i:02d}.jpg", structured_image(40 + 5 * i, 90 - 3 * i, seed=i)))
             for i in range(n)]
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff not a jpeg")
    return paths[:4] + [str(bad)] + paths[4:9] + [str(tmp_path / "gone.png")] + paths[9:]


@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_parallel_batches_give_the_same_results_in_order(tmp_path, batch_size):
    """Two batches at once (one core each) and one batch at a time (decode pool) must agree, input for input."""
    d = tiny_bundle(tmp_path / "m", num_classes=6, seed=7)
    inputs = _mixed_inputs(tmp_path)
    with Classifier.from_dir(d, device="cpu", threads=2, parallel_batches=2) as par, \
            Classifier.from_dir(d, device="cpu", threads=2, parallel_batches=1) as seq:
        assert (par.parallel_batches, seq.parallel_batches) == (2, 1)
        a = list(par.predict(inputs, batch_size=batch_size))
        b = list(seq.predict(inputs, batch_size=batch_size))
    assert [r.input_path for r in a] == [r.input_path for r in b] == inputs
    assert [r.ok for r in a] == [r.ok for r in b] == [not (p.endswith("broken.jpg") or p.endswith("gone.png"))
                                                     for p in inputs]
    for x, y in zip(a, b):
        assert x.class_ids == y.class_ids
        assert x.scores == pytest.approx(y.scores, abs=1e-5)
        assert str(x.error) == str(y.error)


def test_parallel_batches_defaults_and_validation(tmp_path):
    from imgcls_onnx.runtime.session import SessionOptions

    d = tiny_bundle(tmp_path / "m", num_classes=3)
    with Classifier.from_dir(d, device="cpu", threads=3) as c:
        assert c.parallel_batches == 3
    with Classifier.from_dir(d, device="cpu", threads=1) as c:
        assert c.parallel_batches == 1
    with Classifier.from_dir(d, device="cpu", threads=2, parallel_batches=5) as c:
        assert c.parallel_batches == 2  # never more batches than threads
    with Classifier.from_dir(d, device="cpu", threads=8) as c:
        assert c.parallel_batches == 4  # each batch in flight holds its activations: at most 4 by default
        assert c.model.session.get_session_options().intra_op_num_threads == 2
    with Classifier.from_dir(d, device="cpu", session_options=SessionOptions(intra_op_num_threads=2)) as c:
        assert c.parallel_batches == 1  # explicit session settings are kept as given
    with pytest.raises(ValueError, match="parallel_batches"):
        Classifier.from_dir(d, device="cpu", parallel_batches=0)
    with pytest.raises(ValueError, match="threads"):
        Classifier.from_dir(d, device="cpu", threads=0)


def test_models_without_crop_batch_by_shape_in_both_schedules(tmp_path):
    """No crop: every aspect ratio gives another input size; batches are split by shape, results match singles."""
    onnx = pytest.importorskip("onnx", reason="building test models needs the onnx package (convert extra)")
    from helpers import tiny_onnx_model

    from imgcls_onnx.runtime.bundle import BundleConfig, write_bundle
    from imgcls_onnx.runtime.transforms import NormalizeImage, PreprocessSpec, ResizeImage, ToCHWImage

    src = tiny_onnx_model(tmp_path / "src.onnx", num_classes=4, seed=2)
    model = onnx.load(str(src))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "H", "W"
    onnx.save(model, str(src))
    spec = PreprocessSpec((ResizeImage(resize_short=32), NormalizeImage(), ToCHWImage()))
    d = write_bundle(tmp_path / "m", src, BundleConfig("nocrop", spec, 3, None), overwrite=True)
    inputs = _mixed_inputs(tmp_path, n=9)
    for parallel in (1, 2):
        with Classifier.from_dir(d, device="cpu", threads=2, parallel_batches=parallel) as c:
            results = list(c.predict(inputs, batch_size=4))
            singles = [c.predict_one(p) for p in inputs]
        assert [r.ok for r in results] == [s.ok for s in singles]
        assert sum(r.ok for r in results) == 9
        for r, s in zip(results, singles):
            assert r.class_ids == s.class_ids
            assert r.scores == pytest.approx(s.scores, abs=1e-5)


def test_fast_decode_is_exact_when_there_is_nothing_to_skip(tmp_path):
    """fast_decode only touches JPEGs at least twice the first resize's short side; smaller inputs are bit-exact."""
    d = tiny_bundle(tmp_path / "m", num_classes=5, seed=3)  # resize_short 36
    small = [str(write_jpeg(tmp_path / f"s{i}.jpg", structured_image(50 + i, 71, seed=i))) for i in range(5)]
    large = [str(write_jpeg(tmp_path / f"l{i}.jpg", structured_image(400, 300 + 9 * i, seed=i))) for i in range(5)]
    with Classifier.from_dir(d, device="cpu", threads=1) as exact, \
            Classifier.from_dir(d, device="cpu", threads=1, fast_decode=True) as fast:
        assert fast.fast_decode and not exact.fast_decode
        for a, b in zip(exact.predict(small), fast.predict(small)):
            assert (a.class_ids, a.scores) == (b.class_ids, b.scores)
        differs = [a.scores != b.scores for a, b in zip(exact.predict(large), fast.predict(large))]
        assert any(differs)  # 300+ px short side vs 36: decoded at 1/8 scale


def _random_weights_bundle(directory):
    bundle = tiny_bundle(directory, num_classes=3, seed=1)
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    (bundle / "manifest.json").write_text(json.dumps({**manifest, "weights": "random"}), encoding="utf-8")
    return bundle


def test_random_weights_are_warned_once_in_python_and_in_the_cli(tmp_path):
    """In Python an ImgclsWarning, once per bundle and process; the CLI prints it as one `warning:` line on stderr
    (even under run_cli's PYTHONWARNINGS=ignore) and keeps stdout to JSON lines."""
    bundle = _random_weights_bundle(tmp_path / "rnd")
    with pytest.warns(ImgclsWarning, match="RANDOM weights") as said:
        for _ in range(2):
            with Classifier.from_dir(bundle, device="cpu", threads=1):
                pass
    assert len(said) == 1 and str(bundle) in str(said[0].message)
    assert said[0].filename == __file__  # reported at the caller's line, not inside the package
    images = [str(write_jpeg(tmp_path / f"{i}.jpg", structured_image(50, 60, seed=i))) for i in range(2)]
    proc = run_cli("predict", "--model", str(bundle), "--device", "cpu", *images)
    assert proc.returncode == 0, proc.stderr
    warned = [ln for ln in proc.stderr.splitlines() if "RANDOM weights" in ln]
    assert len(warned) == 1 and warned[0].startswith("warning: model ") and "ImgclsWarning" not in proc.stderr
    assert [json.loads(ln)["input_path"] for ln in proc.stdout.splitlines()] == images
