"""Hostile downloads leave nothing behind: an empty model cache and temporary folder per test, checked afterwards, and
the one-error-line check for a refused command (tests/hub). A plugin of tests/conftest.py: ``sandbox`` is a fixture
everywhere."""
from __future__ import annotations

import os

import pytest

from helpers.loopback import LoopbackServer


def tree(root):
    """Every path under ``root``, folders included (an empty half-written folder counts), with its kind."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        out += [(os.path.normpath(os.path.join(rel, d)), "dir") for d in dirnames]
        out += [(os.path.normpath(os.path.join(rel, f)), "file") for f in filenames]
    return sorted(out)


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """(loopback server, model cache, TMPDIR): the official model source points at the server; after the test the
    cache holds nothing new and the temporary folder nothing at all."""
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    (home / "models").mkdir(parents=True)
    tmp.mkdir()
    monkeypatch.setenv("IMGCLS_ONNX_HOME", str(home))
    monkeypatch.setenv("TMPDIR", str(tmp))
    before = tree(home)
    assert before == [("models", "dir")] and tree(tmp) == []
    with LoopbackServer() as server:
        monkeypatch.setenv("IMGCLS_ONNX_MODEL_SOURCE", server.base + "/base")
        yield server, home, tmp
    assert tree(home) == before, "the cache must hold nothing new, not even an empty folder"
    assert tree(tmp) == [], "no temporary files or folders may be left"


def refused(proc, *needles):
    """A command that failed with exactly one `error:` line on stderr, naming every needle."""
    assert proc.returncode != 0, proc.stdout
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, proc.stderr[-2000:]
    for needle in needles:
        assert needle in proc.stderr, proc.stderr[-2000:]
    return errors[0]
