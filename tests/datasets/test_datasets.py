"""check-dataset, split-dataset and evaluate on real, labelled-by-construction datasets and a broken one."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import REALDATA, convert_ok, need, structured_image, tiny_bundle, write_jpeg
from helpers.material import TEXTLINE_YML, orientation_dataset, textline_dataset, write_dataset

from imgcls_onnx.cli import cli


def broken_dataset(root: Path) -> Path:
    imgs = root / "imgs"
    imgs.mkdir(parents=True)
    a = write_jpeg(imgs / "a.jpg", structured_image(40, 40, seed=1))
    write_jpeg(imgs / "b.jpg", structured_image(40, 40, seed=2))
    (imgs / "copy_of_a.jpg").write_bytes(a.read_bytes())
    (imgs / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "label.txt").write_text("0 cat\n1 dog\n2 bird\n")
    (root / "train.txt").write_text(
        "imgs/a.jpg 0\n"           # 1 ok
        "imgs/b.jpg 1\n"           # 2 ok
        "imgs/missing.jpg 0\n"     # 3 missing_file
        "imgs/corrupt.jpg 1\n"     # 4 undecodable
        "imgs/a.jpg 0\n"           # 5 duplicate_entry
        "imgs/b.jpg 7\n"           # 6 label_out_of_range
        "imgs/b.jpg one\n"         # 7 label_not_integer
        "justonefield\n"           # 8 malformed_line
    )
    (root / "val.txt").write_text("imgs/copy_of_a.jpg 0\n")  # 1 train_val_overlap; class 2 'bird' is empty
    return root


EXPECTED_BROKEN = {
    ("missing_file", "train.txt", 3), ("undecodable", "train.txt", 4), ("duplicate_entry", "train.txt", 5),
    ("label_out_of_range", "train.txt", 6), ("label_not_integer", "train.txt", 7), ("malformed_line", "train.txt", 8),
    ("train_val_overlap", "val.txt", 1),
}


def test_broken_dataset_every_problem_reported(tmp_path):
    root = broken_dataset(tmp_path / "broken")
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["check-dataset", str(root), "--output", str(out)])
    assert r.exit_code == 1
    result = json.loads((out / "check_dataset_result.json").read_text())
    got = {(p["kind"], p["file"], p["line"]) for p in result["problems"]}
    assert got == EXPECTED_BROKEN
    assert result["check_pass"] is False and result["dataset_type"] == "ClsDataset"
    assert result["empty_classes"] == [2]  # 'bird' has no samples: a warning, not a problem
    assert "1 of 3 classes in label.txt have no samples: 2 ('bird')" in r.stderr
    for kind, file, line in EXPECTED_BROKEN:
        where = f"{file}:{line}" if line else file
        assert f"{where}: {kind}:" in r.stdout


def test_good_dataset_passes_with_paddlex_keys(tmp_path):
    root = tmp_path / "good"
    rows = [(f"i/{k}.jpg", k % 3) for k in range(12)]
    for k, (rel, lab) in enumerate(rows):
        write_jpeg(root / rel, structured_image(40, 50, seed=k))
    write_dataset(root, ["a", "b", "c"], rows[:9], rows[9:])
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["check-dataset", str(root), "-o", str(out)])
    assert r.exit_code == 0, r.output
    res = json.loads((out / "check_dataset_result.json").read_text())
    assert res["check_pass"] is True and res["problems"] == []
    attrs = res["attributes"]
    assert (attrs["num_classes"], attrs["train_samples"], attrs["val_samples"]) == (3, 9, 3)
    assert len(attrs["train_sample_paths"]) == 9 and all((out / p).is_file() for p in attrs["train_sample_paths"])
    assert {"analysis", "dataset_path", "show_type", "dataset_type"} <= set(res)


def test_histogram_png_or_a_notice(tmp_path, monkeypatch):
    root = tmp_path / "h"
    rows = [(f"i/{k}.jpg", k % 2) for k in range(6)]
    for k, (rel, _) in enumerate(rows):
        write_jpeg(root / rel, structured_image(30, 30, seed=k))
    write_dataset(root, ["a", "b"], rows[:4], rows[4:])
    import imgcls_onnx.datasets.report as report

    if report.matplotlib_available():
        r = CliRunner().invoke(cli, ["check-dataset", str(root), "-o", str(tmp_path / "with")])
        res = json.loads((tmp_path / "with" / "check_dataset_result.json").read_text())
        png = tmp_path / "with" / res["analysis"]["histogram"]
        assert png.read_bytes()[:4] == b"\x89PNG"
    monkeypatch.setattr(report, "matplotlib_available", lambda: False)
    r = CliRunner().invoke(cli, ["check-dataset", str(root), "-o", str(tmp_path / "without")])
    assert r.exit_code == 0 and "matplotlib is not installed" in r.stderr
    res = json.loads((tmp_path / "without" / "check_dataset_result.json").read_text())
    assert res["analysis"]["histogram"] is None


def test_split_dataset_is_stratified_and_deterministic(tmp_path):
    root = tmp_path / "s"
    rows = [(f"x/{c}_{k}.jpg", c) for c in range(3) for k in range(10 * (c + 1))]
    write_dataset(root, ["a", "b", "c"], rows, [])
    r = CliRunner().invoke(cli, ["split-dataset", str(root), "--val-percent", "20", "--seed", "3"])
    assert r.exit_code == 0, r.output
    first = ((root / "train.txt").read_text(), (root / "val.txt").read_text())
    val = [ln.split() for ln in first[1].splitlines()]
    per_class = {c: sum(1 for _, lab in val if int(lab) == c) for c in range(3)}
    assert per_class == {0: 2, 1: 4, 2: 6}  # 20 % of 10, 20, 30
    assert (root / "train.txt.bak").exists() and (root / "val.txt.bak").exists()
    assert len(first[0].splitlines()) + len(val) == len(rows)
    write_dataset(root, ["a", "b", "c"], rows, [])
    CliRunner().invoke(cli, ["split-dataset", str(root), "--val-percent", "20", "--seed", "3"])
    assert ((root / "train.txt").read_text(), (root / "val.txt").read_text()) == first
    assert (root / "train.txt.bak1").exists()
    write_dataset(root, ["a", "b", "c"], rows, [])
    CliRunner().invoke(cli, ["split-dataset", str(root), "--val-percent", "20", "--seed", "4"])
    assert (root / "val.txt").read_text() != first[1]


def test_evaluate_equals_hand_count(tmp_path):
    from imgcls_onnx import Classifier

    model = tiny_bundle(tmp_path / "m", num_classes=4, seed=7)
    root = tmp_path / "d"
    rows = []
    for k in range(16):
        rel = f"im/{k}.jpg"
        write_jpeg(root / rel, structured_image(40, 40, seed=k))
        rows.append((rel, k % 4))
    (root / "im" / "bad.jpg").write_bytes(b"broken")
    write_dataset(root, ["w", "x", "y", "z"], rows[:4], rows[4:] + [("im/bad.jpg", 0)])
    with Classifier.from_dir(model, device="cpu") as clf:
        preds = [clf.predict_one(str(root / rel)).class_ids for rel, _ in rows[4:]]
    hand_top1 = sum(p[0] == lab for p, (_, lab) in zip(preds, rows[4:])) / 12
    hand_top5 = sum(lab in p[:5] for p, (_, lab) in zip(preds, rows[4:])) / 12
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["evaluate", "-m", str(model), "-d", str(root), "--device", "cpu", "-o", str(out)])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["val.top1"] == pytest.approx(hand_top1) and summary["val.top5"] == pytest.approx(hand_top5)
    full = json.loads((out / "evaluate_result.json").read_text())
    assert set(full["metric"]) == {"val.top1", "val.top5"}
    assert full["num_unreadable"] == 1 and full["unreadable"][0]["image"] == "im/bad.jpg"
    assert sum(map(sum, full["confusion_matrix"])) == 12
    assert len(full["misclassified"]) == round(12 * (1 - hand_top1))
    assert "error:" in r.stderr and "bad.jpg" in r.stderr
    from imgcls_onnx import create_model

    api = create_model(str(model), device="cpu").evaluate(root)
    assert api.top1 == pytest.approx(hand_top1) and api.num_unreadable == 1


def check_and_evaluate(model, root, checked) -> dict:
    """check-dataset must pass, then evaluate; returns evaluate's summary."""
    assert CliRunner().invoke(cli, ["check-dataset", str(root), "-o", str(checked)]).exit_code == 0
    r = CliRunner().invoke(cli, ["evaluate", "-m", str(model), "-d", str(root), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


@pytest.mark.realdata
def test_real_orientation_model_on_rotated_documents(orientation_bundle, tmp_path):
    summary = check_and_evaluate(orientation_bundle, orientation_dataset(tmp_path / "orient"), tmp_path / "c")
    assert summary["num_images"] == 24
    assert summary["val.top1"] == 1.0, summary  # measured: 24/24


@pytest.mark.realdata
def test_real_textline_model_on_rendered_lines(tmp_path):
    onnx_file = need(REALDATA / "ppocr_cls_onnx" / "ch_ppocr_mobile_v2.0_cls_infer.onnx")
    bundle = tmp_path / "textline"
    bundle.mkdir()
    (bundle / "inference.onnx").write_bytes(onnx_file.read_bytes())
    (bundle / "inference.yml").write_text(TEXTLINE_YML)
    summary = check_and_evaluate(bundle, textline_dataset(tmp_path / "lines"), tmp_path / "c")
    assert summary["num_images"] == 24
    assert summary["val.top1"] == 1.0, summary  # measured: 24/24


@pytest.mark.convert
@pytest.mark.realdata
def test_compare_paddle_on_the_source_model(tmp_path):
    src = need(REALDATA / "ppocr_cls_paddle")
    yml = tmp_path / "inference.yml"
    yml.write_text(TEXTLINE_YML)
    bundle = tmp_path / "bundle"
    convert_ok(str(src), "--yml", str(yml), "--out", str(bundle))
    root = textline_dataset(tmp_path / "lines")
    from helpers import run_cli

    proc = run_cli("evaluate", "-m", str(bundle), "-d", str(root), "--device", "cpu", "--compare-paddle", str(src),
                   "-o", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["paddle_top1_agreement"] == 1.0 and summary["paddle_max_score_difference"] < 1e-4


def test_evaluate_returns_a_named_frozen_result(tmp_path):
    """evaluate's result names its parts: the scores, the dataset, one prediction per listed image in list order."""
    import dataclasses

    from imgcls_onnx import Classifier
    from imgcls_onnx.datasets import EvalResult, EvaluationResult, evaluate

    model = tiny_bundle(tmp_path / "m", num_classes=3, seed=5)
    root = tmp_path / "d"
    rows = [(f"im/{k}.jpg", k % 3) for k in range(7)]
    for k, (rel, _) in enumerate(rows):
        write_jpeg(root / rel, structured_image(32, 32, seed=k))
    write_dataset(root, ["a", "b", "c"], rows[:2], rows[2:])
    with Classifier.from_dir(model, device="cpu") as clf:
        got = evaluate(clf, root, "val", batch_size=2)
        alone = [clf.predict_one(str(root / rel)).class_ids for rel, _ in rows[2:]]
    assert isinstance(got, EvaluationResult) and isinstance(got.metrics, EvalResult)
    assert got.dataset.root == root and got.dataset.labels == {0: "a", 1: "b", 2: "c"}
    assert [p.input_path for p in got.predictions] == [str(root / rel) for rel, _ in rows[2:]]
    assert [p.class_ids for p in got.predictions] == alone
    assert got.metrics.num_images == 5
    assert got.metrics.top1 == pytest.approx(sum(a[0] == lab for a, (_, lab) in zip(alone, rows[2:])) / 5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.metrics = None
