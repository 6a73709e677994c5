"""Hostile and broken downloads, each served by a loopback server: one clear error, a non-zero exit, and nothing new
left in the cache (no half bundle, no temporary files) nor in the temporary folder."""
from __future__ import annotations

import hashlib
import os

import pytest
from conftest import run_cli
from loopback import Fault, LoopbackServer
from official_archive import DOC_ORI, DOC_ORI_YML, big_member_archive, tar_bytes

pytestmark = pytest.mark.convert

PATH = f"/base/{DOC_ORI}_infer.tar"
PADDLE_FILES = [(f"{DOC_ORI}/", "dir", None), (f"{DOC_ORI}/inference.yml", "file", DOC_ORI_YML.encode()),
                (f"{DOC_ORI}/inference.json", "file", b"{}"), (f"{DOC_ORI}/inference.pdiparams", "file", b"\0" * 64)]


def _tree(root):
    """Every path under ``root``, folders included (an empty half-written folder counts), with its kind."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        out += [(os.path.normpath(os.path.join(rel, d)), "dir") for d in dirnames]
        out += [(os.path.normpath(os.path.join(rel, f)), "file") for f in filenames]
    return sorted(out)


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    (home / "models").mkdir(parents=True)
    tmp.mkdir()
    monkeypatch.setenv("IMGCLS_ONNX_HOME", str(home))
    monkeypatch.setenv("TMPDIR", str(tmp))
    before = _tree(home)
    assert before == [("models", "dir")] and _tree(tmp) == []
    with LoopbackServer() as server:
        monkeypatch.setenv("IMGCLS_ONNX_MODEL_SOURCE", server.base + "/base")
        yield server, home, tmp
    assert _tree(home) == before, "the cache must hold nothing new, not even an empty folder"
    assert _tree(tmp) == [], "no temporary files or folders may be left"


def _refused(proc, *needles):
    assert proc.returncode != 0, proc.stdout
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, proc.stderr[-2000:]
    for needle in needles:
        assert needle in proc.stderr, proc.stderr[-2000:]
    return errors[0]


def test_404_names_the_url_and_the_manual_route(sandbox):
    server, _, _ = sandbox
    _refused(run_cli("convert", DOC_ORI), "HTTP 404", server.base + PATH, "Manual route", "--source")


def test_nothing_listening(sandbox, monkeypatch):
    monkeypatch.setenv("IMGCLS_ONNX_MODEL_SOURCE", "http://127.0.0.1:9/closed")
    _refused(run_cli("convert", DOC_ORI), "http://127.0.0.1:9/closed", "attempts")


@pytest.mark.parametrize("keep", [0.5, "no-end-marker", "gz-half"])
def test_truncated_archive(sandbox, keep):
    server, _, _ = sandbox
    whole = tar_bytes(PADDLE_FILES, gz=keep == "gz-half")
    cut = len(whole) - 10240 + 3 * 512 if keep == "no-end-marker" else len(whole) // 2
    server.add(PATH, whole[:cut])
    _refused(run_cli("convert", DOC_ORI), "truncated")


@pytest.mark.parametrize("member, kind, payload, needle", [
    ("../evil.txt", "file", b"x", "'..'"),
    (f"{DOC_ORI}/../../evil.txt", "file", b"x", "'..'"),
    ("/etc/evil.txt", "file", b"x", "absolute path"),
    (f"{DOC_ORI}/inference.pdmodel", "symlink", "/etc/passwd", "is a link"),
    (f"{DOC_ORI}/hard", "hardlink", f"{DOC_ORI}/inference.yml", "is a link"),
    (f"{DOC_ORI}/pipe", "fifo", None, "special file"),
])
def test_unsafe_members_are_refused(sandbox, tmp_path, member, kind, payload, needle):
    server, _, _ = sandbox
    server.add(PATH, tar_bytes([*PADDLE_FILES, (member, kind, payload)]))
    _refused(run_cli("convert", DOC_ORI), needle, repr(member))
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path.parent / "evil.txt").exists()


def test_member_far_larger_than_the_cap(sandbox, monkeypatch):
    server, _, _ = sandbox
    monkeypatch.setenv("IMGCLS_ONNX_MAX_ARCHIVE_MB", "1")
    server.add(PATH, big_member_archive(64 << 20))  # ~64 KB on the wire, 64 MB unpacked
    _refused(run_cli("convert", DOC_ORI), "would expand past the limit")


def test_archive_that_is_not_a_paddle_model(sandbox):
    server, _, _ = sandbox
    server.add(PATH, tar_bytes([(f"{DOC_ORI}/README.txt", "file", b"hello")]))
    _refused(run_cli("convert", DOC_ORI), "is not a Paddle inference model")


def test_not_a_tar_at_all(sandbox):
    server, _, _ = sandbox
    server.add(PATH, b"<html>a captive portal page</html>" * 20)
    _refused(run_cli("convert", DOC_ORI), "not a readable tar archive")


def test_wrong_sha256_on_a_bundle_url(sandbox, orientation_bundle, tmp_path):
    from imgcls_onnx.store.archive import pack_bundle

    server, _, _ = sandbox
    data = pack_bundle(orientation_bundle, tmp_path / "pulc.tar.gz").read_bytes()
    url = server.add("/bundles/pulc.tar.gz", data)
    wrong = hashlib.sha256(b"something else").hexdigest()
    img = tmp_path / "x.png"
    img.write_bytes(b"")  # never read: the model is refused first
    _refused(run_cli("predict", "--model", f"{url}#sha256={wrong}", str(img)), wrong, "sha256")


@pytest.mark.parametrize("member, kind, payload, needle", [
    ("tiny/../../evil.txt", "file", b"x", "'..'"),
    ("tiny/inference.onnx", "symlink", "/etc/passwd", "is a link"),
])
def test_unsafe_bundle_archive_from_a_url(sandbox, tmp_path, member, kind, payload, needle):
    """The bundle installer (predict --model URL): it extracts into the cache itself, so a refusal must not leave
    its extraction folder (nor the archives folder it created) behind, even empty."""
    server, _, _ = sandbox
    url = server.add("/bundles/tiny.tar.gz", tar_bytes([("tiny/", "dir", None), (member, kind, payload)], gz=True))
    img = tmp_path / "x.png"
    img.write_bytes(b"")  # never read: the model is refused first
    _refused(run_cli("predict", "--model", url, str(img)), needle, repr(member))
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path.parent / "evil.txt").exists()


def test_download_resumes_with_range_and_restarts_without(tmp_path):
    """The download function alone: a broken transfer resumes where the server allows ranges, restarts where not."""
    from imgcls_onnx.store.download import download

    data = os.urandom(300_000)
    for ranges in (True, False):
        with LoopbackServer() as server:
            server.served.ranges = ranges
            url = server.add("/f.bin", data)
            server.served.faults["/f.bin"] = Fault(drop_after=100_000)
            got = download(url, tmp_path, backoff_s=0.01, progress=False)
            assert got.sha256 == hashlib.sha256(data).hexdigest() and got.size == len(data)
            assert got.path.read_bytes() == data
            ranges_sent = [g[2] for g in server.gets("/f.bin")]
            assert len(ranges_sent) == 2 and ranges_sent[0] is None
            if ranges:  # resumed from what had arrived (whole chunks), not from zero
                assert 0 < int(ranges_sent[1][len("bytes="):-1]) <= 100_000, ranges_sent
            else:
                assert ranges_sent[1] is None
            got.path.unlink()
    assert list(tmp_path.iterdir()) == []


def test_download_gives_up_with_one_clear_error(tmp_path):
    from imgcls_onnx.runtime.errors import DownloadError
    from imgcls_onnx.store.download import download

    with LoopbackServer() as server:
        url = server.add("/f.bin", b"x" * 50_000)
        server.served.faults["/f.bin"] = Fault(drop_after=10, times=99)
        server.served.ranges = False
        with pytest.raises(DownloadError, match=r"after 3 attempts: the connection ended|after 3 attempts: "):
            download(url, tmp_path, retries=2, backoff_s=0.01, progress=False)
        assert len(server.gets("/f.bin")) == 3
        with pytest.raises(DownloadError, match="over the limit"):
            download(url, tmp_path, max_bytes=1000, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_local_sources_missing_or_unsafe(sandbox, tmp_path):
    """--source as a file or folder (mirrors, offline machines): the same refusals as a download."""
    _refused(run_cli("convert", DOC_ORI, "--source", str(tmp_path / "nowhere")), "no official model", "nowhere")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    _refused(run_cli("convert", DOC_ORI, "--source", str(mirror)), f"{DOC_ORI}_infer.tar")
    (mirror / f"{DOC_ORI}_infer.tar").write_bytes(tar_bytes([*PADDLE_FILES, ("../evil.txt", "file", b"x")]))
    _refused(run_cli("convert", DOC_ORI, "--source", str(mirror)), "'..'")
    _refused(run_cli("convert", DOC_ORI, "--source", str(mirror / f"{DOC_ORI}_infer.tar")), "'..'")
    assert not (tmp_path / "evil.txt").exists()
