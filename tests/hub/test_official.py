"""The official route end to end: `convert NAME` downloads PaddleX's archive (from a loopback server standing in for
PaddleX's), extracts it safely, converts it with parity, caches it; `predict --model NAME` then gets the real
documents right; a second run makes no request. Also `create_model(NAME)` on an empty cache."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import cv2
import pytest
from helpers import REALDATA, ROOT, need, require_convert_extra, run_cli
from helpers.loopback import Fault, LoopbackServer
from helpers.official_archive import DOC_ORI, build_doc_ori_archive

pytestmark = [pytest.mark.convert, pytest.mark.realdata, pytest.mark.slow]


@pytest.fixture(scope="module")
def doc_ori_archive(tmp_path_factory):
    require_convert_extra()
    return build_doc_ori_archive(tmp_path_factory.mktemp("official"))


@pytest.fixture(scope="module")
def documents(tmp_path_factory):
    """The two real document photos and the upright one turned 90 both ways, with their true labels."""
    docs = need(REALDATA / "orientation_images")
    out = tmp_path_factory.mktemp("docs")
    rot0 = cv2.imread(str(docs / "img_rot0_demo.jpg"))
    images = {"rot0.jpg": (rot0, "0"), "rot180.jpg": (cv2.imread(str(docs / "img_rot180_demo.jpg")), "180"),
              "rot90.jpg": (cv2.rotate(rot0, cv2.ROTATE_90_CLOCKWISE), "90"),
              "rot270.jpg": (cv2.rotate(rot0, cv2.ROTATE_90_COUNTERCLOCKWISE), "270")}
    truth = {}
    for name, (img, label) in images.items():
        cv2.imwrite(str(out / name), img)
        truth[str(out / name)] = label
    return truth


def _predict_labels(proc) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    return {r["input_path"]: r["label_names"][0] for r in rows}


def test_convert_name_fetches_converts_and_caches(doc_ori_archive, documents, tmp_path, monkeypatch):
    data = doc_ori_archive.read_bytes()
    home = tmp_path / "home"
    monkeypatch.setenv("IMGCLS_ONNX_HOME", str(home))
    with LoopbackServer() as server:
        path = f"/paddlex/official_inference_model/paddle3.0.0/{DOC_ORI}_infer.tar"
        server.add(path, data)
        # the first transfer breaks a third of the way in: the download resumes with a Range request
        server.served.faults[path] = Fault(drop_after=len(data) // 3)
        monkeypatch.setenv("IMGCLS_ONNX_MODEL_SOURCE", server.base + "/paddlex/official_inference_model/paddle3.0.0")

        proc = run_cli("convert", DOC_ORI)
        assert proc.returncode == 0, proc.stderr[-3000:]
        report = json.loads(proc.stdout)
        gets = server.gets(path)
        assert len(gets) == 2 and gets[0][2] is None, gets
        assert 0 < int(gets[1][2][len("bytes="):-1]) <= len(data) // 3, gets  # resumed, not restarted
        assert report["weights"] == "official"
        assert report["source"]["url"] == server.base + path
        assert report["source"]["archive_sha256"] == hashlib.sha256(data).hexdigest()
        assert report["source"]["archive_bytes"] == len(data)
        assert report["parity"]["passed"] is True
        assert report["bundle"] == str(home / "models" / DOC_ORI)
        # the archive's own inference.yml is the truth: topk 1 and its labels
        yml = (home / "models" / DOC_ORI / "inference.yml").read_text()
        assert "topk: 1" in yml and "'270'" in yml

        labels = _predict_labels(run_cli("predict", "--model", DOC_ORI, "--device", "cpu", *documents))
        assert labels == documents  # 4/4 on the real documents and their rotations

        again = run_cli("convert", DOC_ORI)
        assert again.returncode == 0 and json.loads(again.stdout)["cached"] is True, again.stderr[-2000:]
        assert _predict_labels(run_cli("predict", "--model", DOC_ORI, "--device", "cpu", *documents)) == documents
        assert len(server.gets(path)) == 2, "a second run must make no request"

        listed = {r["name"]: r for r in json.loads(run_cli("models", "--json").stdout)}
        assert listed[DOC_ORI]["weights"] == "official" and listed[DOC_ORI]["converted"] is True
    assert not list(home.rglob("*.part")) and not list(home.rglob(".extract-*"))


def test_create_model_on_an_empty_cache(doc_ori_archive, documents, tmp_path):
    with LoopbackServer() as server:
        server.add(f"/mirror/{DOC_ORI}_infer.tar", doc_ori_archive.read_bytes())
        env = dict(os.environ, IMGCLS_ONNX_HOME=str(tmp_path / "home"), PYTHONWARNINGS="ignore",
                   IMGCLS_ONNX_MODEL_SOURCE=server.base + "/mirror")
        code = (
            "import json, sys\n"
            "from imgcls_onnx import create_model\n"
            f"model = create_model({DOC_ORI!r}, device='cpu')\n"
            f"for res in model.predict({sorted(documents)!r}):\n"
            "    print(json.dumps({'input_path': res.input_path, 'label_names': res.label_names}))\n"
        )
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900, cwd=ROOT,
                              env=env)
        assert "fetching PaddleX's official model" in proc.stderr
        assert _predict_labels(proc) == documents
        assert len(server.gets(f"/mirror/{DOC_ORI}_infer.tar")) == 1
    assert (tmp_path / "home" / "models" / DOC_ORI / "manifest.json").is_file()
