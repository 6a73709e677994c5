"""Atomic file writes: the one way this package writes a file that a reader (or a resumed run) may open meanwhile.

Write to a temporary file in the target's folder, flush and fsync, then ``os.replace`` it over the target: a reader
sees the old file or the whole new one, never a partial one, and a killed writer leaves at most a hidden ``.NAME.*.tmp``
(removed when the write fails in this process). Folder-level installs (a bundle, an extracted archive) rename a whole
temporary folder instead and do not use this.

Also Windows' rules for a file name (``windows_name_problem``, ``windows_safe_name``), applied on every OS: an archive
member or a file name made from a URL must mean the same file on Windows as here (docs/platforms.md).

And ``sha256_file``, the one file hash (bundle checksums, archives, downloads, dataset checks).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import IO, Iterator


def sha256_file(path: "str | os.PathLike[str]", chunk: int = 1 << 20) -> str:
    """The hex sha256 of a file's bytes, read in chunks (a model or an archive may be larger than memory allows)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            if not block:
                return h.hexdigest()
            h.update(block)


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


#: names Windows reserves for devices, in any case and with any extension ("nul.txt" is the NUL device)
WINDOWS_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
                              *(f"{dev}{n}" for dev in ("COM", "LPT") for n in "0123456789\u00b9\u00b2\u00b3")})
#: characters a Windows file name cannot hold (':' also names a drive or an NTFS stream)
_WINDOWS_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f]')


def windows_name_problem(part: str) -> str | None:
    """Why one path component (a name between separators) is not a plain file name on Windows (a predicate:
    "holds ...", "ends with ...", "is ..."), or None."""
    bad = _WINDOWS_FORBIDDEN.search(part)
    if bad:
        return f"holds a character Windows forbids ({bad.group()!r}; ':' would name a drive or a stream)"
    if part.split(".")[0].rstrip(" ").upper() in WINDOWS_RESERVED:
        return "is a name Windows reserves for a device (CON, PRN, AUX, NUL, COM0-9, LPT0-9)"
    if part != part.rstrip(". ") and part not in (".", ".."):
        return "ends with a dot or a space (Windows drops it, so the name means another file there)"
    return None


def windows_safe_name(name: str, fallback: str, max_chars: int = 150) -> str:
    """``name`` made a valid file name on every OS: characters Windows forbids become '_', trailing dots and spaces
    go, a reserved device name gets a leading '_', and it is cut to ``max_chars``; ``fallback`` when nothing is left."""
    name = _WINDOWS_FORBIDDEN.sub("_", name)[:max_chars].rstrip(". ")
    if not name:
        return fallback
    if name.split(".")[0].rstrip(" ").upper() in WINDOWS_RESERVED:
        name = "_" + name
    return name
