"""fsutil: the one atomic file write. A failed write leaves the old file and no temporary file behind."""
from __future__ import annotations

import pytest

from imgcls_onnx.runtime.fsutil import atomic_open, atomic_write_bytes, atomic_write_text


def test_writes_replace_the_file_and_create_the_folder(tmp_path):
    target = tmp_path / "sub" / "a.json"
    atomic_write_text(target, "één\n")
    assert target.read_text(encoding="utf-8") == "één\n"
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in target.parent.iterdir()] == ["a.json"]


def test_a_failed_write_keeps_the_old_content_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_open(target) as f:
        f.write(b"half")
        raise RuntimeError("killed")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]
