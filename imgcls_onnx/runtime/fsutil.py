"""Atomic file writes: the one way this package writes a file that a reader (or a resumed run) may open meanwhile.

Write to a temporary file in the target's folder, flush and fsync, then ``os.replace`` it over the target: a reader
sees the old file or the whole new one, never a partial one, and a killed writer leaves at most a hidden ``.NAME.*.tmp``
(removed when the write fails in this process). Folder-level installs (a bundle, an extracted archive) rename a whole
temporary folder instead and do not use this.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator


@contextlib.contextmanager
def atomic_open(path: "str | os.PathLike[str]") -> Iterator[IO[bytes]]:
    """A binary file object to write ``path``'s new content into; the content replaces ``path`` when the block ends
    without an exception (the parent folder is created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: "str | os.PathLike[str]", data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see the module docstring)."""
    with atomic_open(path) as f:
        f.write(data)


def atomic_write_text(path: "str | os.PathLike[str]", text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (see the module docstring)."""
    atomic_write_bytes(path, text.encode(encoding))
