"""fsutil: the one atomic file write (a failed write leaves the old file and no temporary file behind), and the one
file hash."""
from __future__ import annotations

import hashlib

import pytest

from imgcls_onnx.runtime.fsutil import atomic_open, atomic_write_bytes, atomic_write_text, sha256_file


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


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, 3 * 4096 + 5])
def test_sha256_file_hashes_every_chunk(tmp_path, size):
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    assert sha256_file(path, chunk=4096) == hashlib.sha256(data).hexdigest()
    assert sha256_file(str(path)) == hashlib.sha256(data).hexdigest()
