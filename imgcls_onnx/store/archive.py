"""Archives: safe extraction, deterministic bundle archives, and bundle archives installed into the cache.

Extraction refuses (naming the member) absolute paths, '..' components, links, devices and FIFOs, members or totals
above a size cap, and too many members, and names that Windows would read otherwise (a drive letter or ':' in any
component, '\\' as a separator, device names such as CON or NUL, trailing dots and spaces); it writes every file
itself (never ``TarFile.extract``) into a folder that the caller owns, so a refused archive leaves nothing behind.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PureWindowsPath

from ..runtime.bundle import load_bundle
from ..runtime.errors import ImgclsError
from ..runtime.fsutil import atomic_open, sha256_file, windows_name_problem
from .cache import models_home
from .errors import ArchiveError

ENV_MAX_MB = "IMGCLS_ONNX_MAX_ARCHIVE_MB"
#: uncompressed bytes an archive may expand to (a member may use all of it); $IMGCLS_ONNX_MAX_ARCHIVE_MB overrides
DEFAULT_MAX_TOTAL = 4 << 30
DEFAULT_MAX_MEMBERS = 10_000
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")


def is_archive_name(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def max_total_bytes() -> int:
    env = os.environ.get(ENV_MAX_MB)
    if env:
        try:
            return max(1, int(float(env) * (1 << 20)))
        except ValueError:
            raise ArchiveError(f"${ENV_MAX_MB} must be a number of megabytes, not {env!r}") from None
    return DEFAULT_MAX_TOTAL


def _safe_parts(name: str) -> tuple[str, ...]:
    """A member name's components, checked one by one under POSIX's rules and Windows' at once: '/' and '\\' both
    separate, and no component may hold what Windows reads as a drive (``x/d:evil``), a stream, a device name or a
    name it would change (trailing dot or space). The same archive is then safe, and the same, on every OS."""
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive:
        raise ArchiveError(f"member {name!r} has an absolute path")
    parts = tuple(p for p in re.split(r"[/\\]", name) if p not in ("", "."))
    if any(p == ".." for p in parts):
        raise ArchiveError(f"member {name!r} points outside the archive ('..')")
    for part in parts:
        problem = windows_name_problem(part)
        if problem is not None:
            raise ArchiveError(f"member {name!r} is refused: {part!r} {problem}")
    return parts


def safe_extract(archive: "str | os.PathLike[str]", dest: "str | os.PathLike[str]", *,
                 max_total: int | None = None, max_members: int = DEFAULT_MAX_MEMBERS) -> list[str]:
    """Extract a .tar / .tar.gz into ``dest`` (which must exist). Returns the member files written."""
    archive, dest = Path(archive), Path(dest)
    cap = max_total if max_total is not None else max_total_bytes()
    written: list[str] = []
    total = 0
    try:
        with tarfile.open(archive, mode="r:*") as tf:
            for count, member in enumerate(tf, start=1):
                if count > max_members:
                    raise ArchiveError(f"more than {max_members} members")
                parts = _safe_parts(member.name)
                if member.issym() or member.islnk():
                    raise ArchiveError(f"member {member.name!r} is a link (to {member.linkname!r}); links are refused")
                if not (member.isfile() or member.isdir()):
                    raise ArchiveError(f"member {member.name!r} is a device, FIFO or other special file")
                if not parts:
                    continue
                target = dest.joinpath(*parts)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                if member.size > cap - total:
                    raise ArchiveError(f"member {member.name!r} is {member.size} bytes: the archive would expand past "
                                       f"the limit of {cap} bytes (${ENV_MAX_MB})")
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tf.extractfile(member)
                if src is None:  # pragma: no cover - isfile() members always have data
                    raise ArchiveError(f"member {member.name!r} has no data")
                with src, open(target, "wb") as out:
                    got = 0
                    for block in iter(lambda: src.read(1 << 20), b""):
                        got += len(block)
                        out.write(block)
                total += got
                if got != member.size:
                    raise ArchiveError(f"member {member.name!r} is truncated ({got} of {member.size} bytes)")
                written.append("/".join(parts))
            # a tar ends with two zero blocks; without them the file was cut at a member boundary. Reading on to
            # the end also makes gzip check its length and CRC.
            tf.fileobj.seek(tf.offset)
            tail = tf.fileobj.read(1024)
            if len(tail) < 1024 or tail.count(0) != 1024:
                raise ArchiveError("the archive is truncated (its end-of-archive marker is missing)")
            while tf.fileobj.read(1 << 20):
                pass
    except ArchiveError as e:
        raise ArchiveError(f"{archive}: {e}") from None
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError) as e:
        raise ArchiveError(f"{archive} is not a readable tar archive (truncated or corrupt): "
                           f"{type(e).__name__}: {e}") from None
    if not written:
        raise ArchiveError(f"{archive} holds no files")
    return written


def single_top_folder(folder: Path) -> Path:
    """PaddleX's rule: an archive with one top folder is that folder; otherwise the files are at the root."""
    entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return folder


# ---------------------------------------------------------------------------------------------- bundle archives


def pack_bundle(bundle_dir: "str | os.PathLike[str]", out_file: "str | os.PathLike[str]",
                name: str | None = None) -> Path:
    """Write the bundle as ``NAME/<files>`` in a .tar.gz, deterministically: sorted members, zero times and ids,
    fixed modes, a gzip header without name or time. The same bundle gives the same bytes."""
    bundle = load_bundle(bundle_dir)
    top = name or bundle.directory.name
    _safe_parts(top)
    files = sorted(p for p in bundle.directory.iterdir() if p.is_file() and not p.name.startswith("."))
    out = Path(out_file)
    with atomic_open(out) as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tf:
        tf.addfile(_info(top + "/", tarfile.DIRTYPE, 0, 0o755))
        for p in files:
            data = p.read_bytes()
            tf.addfile(_info(f"{top}/{p.name}", tarfile.REGTYPE, len(data), 0o644), io.BytesIO(data))
    return out


def _info(name: str, kind: bytes, size: int, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.mode = kind, size, mode
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    return info


@dataclass(frozen=True)
class InstalledArchive:
    bundle_dir: Path
    sha256: str
    cached: bool


def archives_home() -> Path:
    return models_home() / "archives"


def cached_archive(sha256: str) -> Path | None:
    folder = archives_home() / sha256
    if folder.is_dir():
        inner = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
        if len(inner) == 1:
            return inner[0]
    return None


def install_archive(archive: "str | os.PathLike[str]", *, expected_sha256: str | None = None,
                    origin: str | None = None, sha256: str | None = None) -> InstalledArchive:
    """Verify a bundle archive, extract it safely and move it into the cache atomically (keyed by its sha256).

    A mismatch, a broken or unsafe archive, or one that is not a bundle is refused and leaves nothing behind."""
    archive = Path(archive)
    if not archive.is_file():
        raise ArchiveError(f"bundle archive {str(archive)!r} does not exist")
    digest = sha256 or sha256_file(archive)
    if expected_sha256 and digest != expected_sha256.lower():
        raise ArchiveError(f"{origin or archive}: sha256 is {digest}, expected {expected_sha256.lower()}; refused")
    hit = cached_archive(digest)
    if hit is not None:
        return InstalledArchive(hit, digest, True)
    home = archives_home()
    created = not home.exists()
    home.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=home))
    try:
        safe_extract(archive, tmp)
        folder = single_top_folder(tmp)
        if folder == tmp:
            raise ArchiveError(f"{origin or archive}: a bundle archive holds one folder (NAME/inference.onnx, "
                               f"inference.yml[, manifest.json]); this one does not (make it with `imgcls-onnx pack`)")
        try:
            load_bundle(folder)
        except ImgclsError as e:
            raise ArchiveError(f"{origin or archive} is not a model bundle: {e}") from None
        (tmp / ".origin.json").write_text(json.dumps({
            "origin": origin or str(archive.resolve()), "sha256": digest,
            "installed": datetime.now(timezone.utc).isoformat(timespec="seconds")}) + "\n", encoding="utf-8")
        final = home / digest
        try:
            os.rename(tmp, final)
        except OSError:
            if cached_archive(digest) is None:  # not a concurrent install of the same archive
                raise
            shutil.rmtree(tmp, ignore_errors=True)
        return InstalledArchive(final / folder.name, digest, False)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if created:
            try:
                home.rmdir()
            except OSError:
                pass
        raise


__all__ = ["ARCHIVE_SUFFIXES", "InstalledArchive", "install_archive",
           "is_archive_name", "pack_bundle", "safe_extract", "single_top_folder"]
