"""Bundle archives: `pack` is deterministic, and `--model FILE.tar.gz` / `--model URL#sha256=...` run on a machine
without Paddle or the converter, with results identical to the folder's."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile

import pytest
from helpers import ROOT, structured_image, write_jpeg
from helpers.loopback import LoopbackServer

# paddle, the converter and onnx are unimportable: what a runtime-only install has
RUNTIME_ONLY = """
import sys
class _Block:
    BLOCKED = ("paddle", "paddle2onnx", "ppcls", "paddleclas", "onnx", "imgcls_onnx.converter")
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in self.BLOCKED):
            raise ImportError(f"blocked in this test: {name}")
        return None
sys.meta_path.insert(0, _Block())
from imgcls_onnx.cli import cli
try:
    cli(sys.argv[1:], prog_name="imgcls-onnx")
finally:
    leaked = [m for m in sys.modules if m.split(".")[0] in ("paddle", "paddle2onnx", "onnx") or m.startswith("imgcls_onnx.converter")]
    assert not leaked, leaked
"""


def runtime_cli(*args, env=None):
    return subprocess.run([sys.executable, "-c", RUNTIME_ONLY, *args], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, env=env)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("imgs")
    return [str(write_jpeg(d / f"{i}.jpg", structured_image(200 + 17 * i, 300, seed=i))) for i in range(5)]


def _rows(proc):
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_pack_is_deterministic_and_a_safe_tar(orientation_bundle, tmp_path):
    a, b = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    for out in (a, b):
        proc = runtime_cli("pack", str(orientation_bundle), "-o", str(out))
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert a.read_bytes() == b.read_bytes()
    with tarfile.open(a) as tf:
        names = tf.getnames()
        assert all(m.mtime == 0 and m.uid == 0 and m.gid == 0 for m in tf.getmembers())
    top = orientation_bundle.name
    assert names == [top, f"{top}/inference.onnx", f"{top}/inference.yml", f"{top}/manifest.json"]


def test_predict_from_an_archive_file_without_paddle(orientation_bundle, images, tmp_path, monkeypatch):
    monkeypatch.setenv("IMGCLS_ONNX_HOME", str(tmp_path / "home"))
    archive = tmp_path / "pulc.tar.gz"
    assert runtime_cli("pack", str(orientation_bundle), "-o", str(archive)).returncode == 0
    from_folder = _rows(runtime_cli("predict", "--model", str(orientation_bundle), "--device", "cpu", *images))
    from_archive = _rows(runtime_cli("predict", "--model", str(archive), "--device", "cpu", *images))
    assert from_archive == from_folder and len(from_folder) == len(images)
    # installed once, keyed by the archive's sha256
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    installed = sorted(p.name for p in (tmp_path / "home" / "archives" / digest).iterdir())
    assert installed == [".origin.json", orientation_bundle.name]


def test_predict_from_a_url_with_sha256_and_cache(orientation_bundle, images, tmp_path, monkeypatch):
    monkeypatch.setenv("IMGCLS_ONNX_HOME", str(tmp_path / "home"))
    archive = tmp_path / "pulc.tar.gz"
    assert runtime_cli("pack", str(orientation_bundle), "-o", str(archive)).returncode == 0
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    expected = _rows(runtime_cli("predict", "--model", str(orientation_bundle), "--device", "cpu", *images))
    with LoopbackServer() as server:
        url = server.add("/b/pulc.tar.gz", archive.read_bytes())
        for _ in range(2):
            got = _rows(runtime_cli("predict", "--model", f"{url}#sha256={digest}", "--device", "cpu", *images))
            assert got == expected
        assert len(server.gets("/b/pulc.tar.gz")) == 1, "the second run must be a cache hit"
        # without a sha256 the URL itself is the cache key: one request, then none
        server.add("/b/other.tar.gz", archive.read_bytes())
        for _ in range(2):
            assert _rows(runtime_cli("predict", "--model", url.replace("pulc", "other"), "--device", "cpu",
                                     *images)) == expected
        assert len(server.gets("/b/other.tar.gz")) == 1


@pytest.mark.parametrize("case", ["corrupt", "no-top-folder", "not-a-bundle", "wrong-sha"])
def test_bad_bundle_archives_are_refused_and_leave_nothing(orientation_bundle, images, tmp_path, monkeypatch, case):
    from helpers.official_archive import tar_bytes

    home = tmp_path / "home"
    monkeypatch.setenv("IMGCLS_ONNX_HOME", str(home))
    archive = tmp_path / "m.tar.gz"
    ref = str(archive)
    if case == "corrupt":
        good = tmp_path / "good.tar.gz"
        assert runtime_cli("pack", str(orientation_bundle), "-o", str(good)).returncode == 0
        archive.write_bytes(good.read_bytes()[:-5000])
        good.unlink()
        needle = "not a readable tar archive"
    elif case == "no-top-folder":
        archive.write_bytes(tar_bytes([("inference.yml", "file", b"x"), ("inference.onnx", "file", b"y")], gz=True))
        needle = "holds one folder"
    elif case == "not-a-bundle":
        archive.write_bytes(tar_bytes([("m/readme.txt", "file", b"x")], gz=True))
        needle = "is not a model bundle"
    else:
        assert runtime_cli("pack", str(orientation_bundle), "-o", str(archive)).returncode == 0
        ref += "#sha256=" + "0" * 64
        needle = "expected " + "0" * 64
    proc = runtime_cli("predict", "--model", ref, *images[:1])
    assert proc.returncode == 2 and needle in proc.stderr, proc.stderr[-2000:]
    assert len([ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]) == 1
    leftovers = [p for p in home.rglob("*") if p.is_file()] if home.exists() else []
    assert leftovers == []


def test_zoo_name_without_converter_says_the_two_ways(tmp_path):
    proc = runtime_cli("predict", "--model", "PP-LCNet_x1_0", str(tmp_path / "x.jpg"))
    assert proc.returncode == 2
    assert "pip install 'imgcls-onnx[convert]'" in proc.stderr and "imgcls-onnx pack PP-LCNet_x1_0" in proc.stderr
    assert "converter is not installed" in proc.stderr
