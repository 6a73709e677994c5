"""Hostile and broken official archives (`convert NAME`), each served by a loopback server: one clear error, a non-zero
exit, and nothing new left in the cache (no half bundle, no temporary files) nor in the temporary folder. Bundle
archives from URLs and store.download itself, which need no Paddle: test_bundle_downloads.py."""
from __future__ import annotations

import pytest
from helpers import run_cli
from helpers.cachecheck import refused
from helpers.official_archive import DOC_ORI, DOC_ORI_YML, big_member_archive, tar_bytes

pytestmark = pytest.mark.convert

PATH = f"/base/{DOC_ORI}_infer.tar"
PADDLE_FILES = [(f"{DOC_ORI}/", "dir", None), (f"{DOC_ORI}/inference.yml", "file", DOC_ORI_YML.encode()),
                (f"{DOC_ORI}/inference.json", "file", b"{}"), (f"{DOC_ORI}/inference.pdiparams", "file", b"\0" * 64)]


def test_404_names_the_url_and_the_manual_route(sandbox):
    server, _, _ = sandbox
    refused(run_cli("convert", DOC_ORI), "HTTP 404", server.base + PATH, "Manual route", "--source")


def test_nothing_listening(sandbox, monkeypatch):
    monkeypatch.setenv("IMGCLS_ONNX_MODEL_SOURCE", "http://127.0.0.1:9/closed")
    refused(run_cli("convert", DOC_ORI), "http://127.0.0.1:9/closed", "attempts")


@pytest.mark.parametrize("keep", [0.5, "no-end-marker", "gz-half"])
def test_truncated_archive(sandbox, keep):
    server, _, _ = sandbox
    whole = tar_bytes(PADDLE_FILES, gz=keep == "gz-half")
    cut = len(whole) - 10240 + 3 * 512 if keep == "no-end-marker" else len(whole) // 2
    server.add(PATH, whole[:cut])
    refused(run_cli("convert", DOC_ORI), "truncated")


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
    refused(run_cli("convert", DOC_ORI), needle, repr(member))
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path.parent / "evil.txt").exists()


def test_member_far_larger_than_the_cap(sandbox, monkeypatch):
    server, _, _ = sandbox
    monkeypatch.setenv("IMGCLS_ONNX_MAX_ARCHIVE_MB", "1")
    server.add(PATH, big_member_archive(64 << 20))  # ~64 KB on the wire, 64 MB unpacked
    refused(run_cli("convert", DOC_ORI), "would expand past the limit")


def test_archive_that_is_not_a_paddle_model(sandbox):
    server, _, _ = sandbox
    server.add(PATH, tar_bytes([(f"{DOC_ORI}/README.txt", "file", b"hello")]))
    refused(run_cli("convert", DOC_ORI), "is not a Paddle inference model")


def test_not_a_tar_at_all(sandbox):
    server, _, _ = sandbox
    server.add(PATH, b"<html>a captive portal page</html>" * 20)
    refused(run_cli("convert", DOC_ORI), "not a readable tar archive")


def test_local_sources_missing_or_unsafe(sandbox, tmp_path):
    """--source as a file or folder (mirrors, offline machines): the same refusals as a download."""
    refused(run_cli("convert", DOC_ORI, "--source", str(tmp_path / "nowhere")), "no official model", "nowhere")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    refused(run_cli("convert", DOC_ORI, "--source", str(mirror)), f"{DOC_ORI}_infer.tar")
    (mirror / f"{DOC_ORI}_infer.tar").write_bytes(tar_bytes([*PADDLE_FILES, ("../evil.txt", "file", b"x")]))
    refused(run_cli("convert", DOC_ORI, "--source", str(mirror)), "'..'")
    refused(run_cli("convert", DOC_ORI, "--source", str(mirror / f"{DOC_ORI}_infer.tar")), "'..'")
    assert not (tmp_path / "evil.txt").exists()
