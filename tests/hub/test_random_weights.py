"""Random weights never pass as official: `--random-init` takes NAME_random, `models` says random, predict warns
once on stderr and leaves stdout's JSON alone."""
from __future__ import annotations

import json

import pytest
from helpers import convert_ok, run_cli, structured_image, write_jpeg

pytestmark = pytest.mark.convert


def test_random_init_is_named_listed_and_warned(tmp_path, monkeypatch):
    monkeypatch.setenv("IMGCLS_ONNX_HOME", str(tmp_path / "home"))
    report = convert_ok("PP-LCNet_x0_25", "--random-init", "--seed", "1")
    assert report["weights"] == "random"
    assert report["bundle"] == str(tmp_path / "home" / "models" / "PP-LCNet_x0_25_random")
    assert not (tmp_path / "home" / "models" / "PP-LCNet_x0_25").exists()

    listed = {r["name"]: r for r in json.loads(run_cli("models", "--json").stdout)}
    assert listed["PP-LCNet_x0_25"]["weights"] == "random"
    assert listed["PP-LCNet_x0_25"]["bundle"].endswith("PP-LCNet_x0_25_random")
    assert listed["PP-LCNet_x1_0"]["weights"] is None and listed["PP-LCNet_x1_0"]["converted"] is False
    table = run_cli("models", "--family", "PP-LCNet").stdout
    row = next(line for line in table.splitlines() if line.startswith("PP-LCNet_x0_25 "))
    assert "random weights (as PP-LCNet_x0_25_random)" in row

    images = [str(write_jpeg(tmp_path / f"{i}.jpg", structured_image(230, 260, seed=i))) for i in range(3)]
    proc = run_cli("predict", "--model", "PP-LCNet_x0_25_random", "--device", "cpu", *images)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("RANDOM weights") == 1 and "predictions mean nothing" in proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["input_path"] for r in rows] == images
    assert all(set(r) == {"input_path", "page_index", "class_ids", "scores", "label_names"} for r in rows)


def test_random_init_under_the_official_name_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("IMGCLS_ONNX_HOME", str(tmp_path / "home"))
    report = convert_ok("PP-LCNet_x0_25", "--random-init", "--name", "PP-LCNet_x0_25")
    assert report["bundle"].endswith("/PP-LCNet_x0_25") and report["weights"] == "random"
    listed = {r["name"]: r for r in json.loads(run_cli("models", "--json").stdout)}
    assert listed["PP-LCNet_x0_25"]["weights"] == "random"
