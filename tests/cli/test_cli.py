"""CLI behaviour: JSONL output, exit codes (0 / 1 with a failure line / 2 usage), models, a hand-written bundle."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import ROOT, structured_image, tiny_bundle, write_jpeg

from imgcls_onnx.cli import cli


@pytest.fixture()
def images(tmp_path):
    good = [write_jpeg(tmp_path / "imgs" / f"g{i}.jpg", structured_image(50 + i, 70, seed=i)) for i in range(3)]
    bad = tmp_path / "imgs" / "broken.jpg"
    bad.write_bytes(b"this is not a jpeg at all")
    return good, bad


def test_predict_one_bad_among_good(tmp_path, images):
    good, bad = images
    model = tiny_bundle(tmp_path / "m")
    result = CliRunner().invoke(cli, ["predict", "--model", str(model), "--device", "cpu", "-b", "2",
                                      str(good[0]), str(bad), str(good[1]), str(good[2])])
    assert result.exit_code == 1, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert [x["input_path"] for x in lines] == [str(good[0]), str(bad), str(good[1]), str(good[2])]
    assert "error" in lines[1] and all("class_ids" in lines[i] for i in (0, 2, 3))
    err = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert len(err) == 1 and "broken.jpg" in err[0] and "not an image" in err[0]
    # good inputs get the same answer as when run alone
    alone = CliRunner().invoke(cli, ["predict", "--model", str(model), "--device", "cpu", str(good[1])])
    assert alone.exit_code == 0
    assert json.loads(alone.stdout) == lines[2]


def test_predict_all_good_exit_0_and_save_path(tmp_path, images):
    good, _ = images
    model = tiny_bundle(tmp_path / "m")
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["predict", "-m", str(model), "--device", "cpu", "--save-path", str(out),
                                 "--topk", "2", str(good[0].parent / "g*.jpg")])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == ["g0_res.json", "g1_res.json", "g2_res.json"]
    assert all(len(json.loads(line)["class_ids"]) == 2 for line in r.stdout.splitlines())


def test_predict_fast_decode_flag(tmp_path):
    model = tiny_bundle(tmp_path / "m")
    big = write_jpeg(tmp_path / "big.jpg", structured_image(420, 560, seed=9))
    runs = {}
    for flag in ([], ["--fast-decode"]):
        r = CliRunner().invoke(cli, ["predict", "-m", str(model), "--device", "cpu", *flag, str(big)])
        assert r.exit_code == 0, r.output
        runs[bool(flag)] = json.loads(r.stdout)
    assert runs[True]["input_path"] == runs[False]["input_path"] == str(big)
    assert runs[True]["scores"] != runs[False]["scores"]  # decoded at 1/8 scale (short side 420 vs resize 36)


def test_usage_errors_exit_2(tmp_path):
    r = CliRunner().invoke(cli, ["predict", "x.jpg"])  # no --model
    assert r.exit_code == 2
    r = CliRunner().invoke(cli, ["predict", "-m", "PP-LCNet_x1_0", "x.jpg"])
    assert r.exit_code == 2
    assert "imgcls-onnx convert PP-LCNet_x1_0" in r.stderr
    r = CliRunner().invoke(cli, ["predict", "-m", "NoSuchNet", "x.jpg"])
    assert r.exit_code == 2 and "NoSuchNet" in r.stderr


def test_models_lists_the_zoo():
    r = CliRunner().invoke(cli, ["models", "--json"])
    assert r.exit_code == 0
    rows = json.loads(r.stdout)
    assert len(rows) == 84
    assert {"name", "family", "module", "input", "top1", "converted", "weights", "bundle"} <= set(rows[0])
    assert not any(row["converted"] for row in rows) and not any(row["weights"] for row in rows)
    table = CliRunner().invoke(cli, ["models"]).stdout
    assert "PP-HGNetV2-B0" in table and "MobileNetV4_hybrid_large" in table and "448x448" in table


def test_hand_written_paddlex_bundle_via_console_script(tmp_path, images):
    """A bundle written by hand in PaddleX's layout (no manifest.json), run through the installed command."""
    from helpers import tiny_onnx_model

    good, _ = images
    folder = tmp_path / "PaddleX_style_model"
    tiny_onnx_model(folder / "inference.onnx", num_classes=3, softmax=True)
    (folder / "inference.yml").write_text(
        "Global:\n  model_name: my_classifier\n"
        "PreProcess:\n  transform_ops:\n"
        "  - ResizeImage:\n      resize_short: 36\n"
        "  - CropImage:\n      size: 32\n"
        "  - NormalizeImage:\n      channel_num: 3\n      mean: [0.485, 0.456, 0.406]\n"
        "      order: ''\n      scale: 0.00392156862745098\n      std: [0.229, 0.224, 0.225]\n"
        "  - ToCHWImage: null\n"
        "PostProcess:\n  Topk:\n    topk: 2\n    label_list:\n    - cat\n    - dog\n    - bird\n"
    )
    exe = Path(sys.executable).parent / "imgcls-onnx"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "imgcls_onnx.cli"]
    proc = subprocess.run(cmd + ["predict", "--model", str(folder), "--device", "cpu", str(good[0])],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert len(res["class_ids"]) == 2 and set(res["label_names"]) <= {"cat", "dog", "bird"}
