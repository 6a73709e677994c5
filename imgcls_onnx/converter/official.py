"""PaddleX's official inference models: where they are, opened from a folder, an archive or a download, verified,
extracted safely.

PaddleX 3.x downloads ``<BASE>/<NAME>_infer.tar`` (BASE below), extracts it and uses its single top folder as the
model dir: Paddle 3 ``inference.json`` + ``inference.pdiparams`` + ``inference.yml`` (preprocessing and labels).
PaddleX publishes no checksums; we record the archive's sha256 and size in the bundle's manifest.

A mirror replaces BASE: ``--source URL`` (a base URL, or one archive's URL), ``--source FILE.tar`` (an archive
already downloaded), ``--source DIR`` (an extracted model folder, or a folder of ``<NAME>_infer.tar`` archives), or
the environment variable ``IMGCLS_ONNX_MODEL_SOURCE`` (same forms, for a whole site).
"""
from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from ..runtime.fsutil import sha256_file
from ..runtime.net import is_url
from ..store.archive import is_archive_name, safe_extract, single_top_folder
from ..store.catalogue import OFFICIAL_BASE
from ..store.catalogue import official_archive_name as archive_name
from ..store.download import download
from .errors import ConversionError

ENV_SOURCE = "IMGCLS_ONNX_MODEL_SOURCE"
LOG = logging.getLogger(__name__)


def manual_route(name: str, url: str) -> str:
    return (f"Manual route: download {url} on a machine with internet, then `imgcls-onnx convert {name} --source "
            f"{archive_name(name)}` (or extract it and `imgcls-onnx convert {name} --source DIR`).")


@dataclass
class OfficialModel:
    """An official Paddle inference folder, ready to convert; ``close()`` removes the temporary files (an archive's
    extraction; a folder given as the source is left alone)."""

    folder: Path
    provenance: dict
    _tmp: "tempfile.TemporaryDirectory | None" = field(default=None, repr=False)

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> "OfficialModel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _has_paddle_model(folder: Path) -> bool:
    return (folder / "inference.pdiparams").is_file() and any(
        (folder / n).is_file() for n in ("inference.json", "inference.pdmodel"))


def open_official(name: str, source: str | None = None, log: Callable[[str], None] | None = None) -> OfficialModel:
    """``name``'s official Paddle inference folder from ``source`` / $IMGCLS_ONNX_MODEL_SOURCE / PaddleX: a folder is
    used as is, an archive extracted, a URL downloaded then extracted. Each step is told to ``log`` (default: this
    module's logger at INFO)."""
    log = log or LOG.info
    source = source or os.environ.get(ENV_SOURCE) or OFFICIAL_BASE
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    if not is_url(source):
        path = Path(source).expanduser()
        if path.is_dir() and _has_paddle_model(path):
            log(f"using the Paddle inference folder {path}")
            return OfficialModel(path, {"kind": "official", "folder": str(path.resolve()), "date": now})
        if path.is_dir():
            path = path / archive_name(name)
        if not path.is_file():
            raise ConversionError(f"no official model for {name} at {source!r}: expected an extracted model folder, "
                                  f"a folder holding {archive_name(name)}, or the archive itself")
        return _extract(name, path, {"kind": "official", "file": str(path.resolve()), "date": now}, log)
    url = source if is_archive_name(source.split("?")[0]) else f"{source.rstrip('/')}/{archive_name(name)}"
    log(f"downloading {url}")
    with tempfile.TemporaryDirectory(prefix="imgcls-download-") as tmp_root:
        got = download(url, tmp_root, manual_hint=manual_route(name, url))
        return _extract(name, got.path, {"kind": "official", "url": url, "date": now}, log,
                        sha256=got.sha256, size=got.size)


def _extract(name: str, archive: Path, provenance: dict, log, sha256: str | None = None,
             size: int | None = None) -> OfficialModel:
    provenance = {**provenance, "archive_sha256": sha256 or sha256_file(archive),
                  "archive_bytes": size if size is not None else archive.stat().st_size}
    tmp = tempfile.TemporaryDirectory(prefix="imgcls-official-")
    try:
        files = safe_extract(archive, tmp.name)
        folder = single_top_folder(Path(tmp.name))
        if not _has_paddle_model(folder):
            raise ConversionError(
                f"{provenance.get('url') or archive} is not a Paddle inference model: expected inference.json (or "
                f"inference.pdmodel) and inference.pdiparams in one top folder, found {sorted(files)[:8]}")
        log(f"extracted {len(files)} files ({provenance['archive_bytes']} bytes, sha256 "
            f"{provenance['archive_sha256'][:12]}...)")
        return OfficialModel(folder, provenance, tmp)
    except BaseException:
        tmp.cleanup()
        raise
