"""Finding a model: what ``--model`` / ``create_model`` / Ray's ``model`` names -> a bundle folder, or the zoo model
that has to be converted first.

``find_model`` is the store's one finder, and ``hub.obtain_model`` its one caller: it answers with a value,
``Found(path)`` or ``NeedsConversion(name, looked_in)``, and the hub decides whether to convert (the store never
imports the converter) or to raise ``NeedsConversion.error()``, the advice a user reads.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from ..runtime.fsutil import atomic_write_text
from ..runtime.net import is_url
from .archive import archives_home, cached_archive, install_archive, is_archive_name
from .cache import model_dir
from .catalogue import load_zoo
from .download import download, split_sha256
from .errors import ModelNotConvertedError, UnknownModelError


@dataclass(frozen=True)
class Found:
    """A bundle folder, ready to load."""

    path: Path


@dataclass(frozen=True)
class NeedsConversion:
    """A zoo model with no bundle on this machine: ``name`` (the zoo's spelling) is what to convert, and its bundle
    would be ``looked_in``."""

    name: str
    looked_in: Path

    def error(self, reason: str | None = None) -> ModelNotConvertedError:
        """The error to raise when it is not converted here, with the two ways out (and ``reason``, when given)."""
        message = (
            f"zoo model {self.name!r} has no bundle on this machine (looked in {str(self.looked_in)!r}). Either:\n"
            f"  pip install 'imgcls-onnx[convert]'   then `imgcls-onnx convert {self.name}` (or just use it: "
            f"PaddleX's official weights are fetched and converted once), or\n"
            f"  --model {self.name}.tar.gz           a bundle archive made with `imgcls-onnx pack {self.name}` on a "
            f"machine that has the converter (a local file or an http(s) URL, optionally with #sha256=...)")
        return ModelNotConvertedError(self.name, f"{message} ({reason})" if reason else message)


Finding = Union[Found, NeedsConversion]


def find_model(ref: "str | os.PathLike[str]") -> Finding:
    """Where a ``--model`` value points, in this order:

    * ``http(s)://.../FILE.tar.gz[#sha256=HEX]``: a bundle archive, downloaded once, verified, installed in the cache;
    * ``FILE.tar.gz`` / ``.tgz`` / ``.tar`` [``#sha256=HEX``]: a local bundle archive, verified and installed;
    * a folder: used as is;
    * a name: ``$IMGCLS_ONNX_HOME/models/NAME`` when it exists, else ``NeedsConversion`` for a zoo model.

    Anything else (no such folder or archive, a name outside the zoo) raises ``UnknownModelError``."""
    text = os.fspath(ref)
    base, sha = split_sha256(text) if "#" in text else (text, None)
    if is_url(base):
        return Found(_model_from_url(base, sha))
    p = Path(base).expanduser()
    if p.is_file() and is_archive_name(p.name):
        return Found(install_archive(p, expected_sha256=sha).bundle_dir)
    if sha is not None:
        raise UnknownModelError(f"{text!r}: '#sha256=' applies to a bundle archive (.tar.gz, .tgz, .tar) only")
    if p.is_dir():
        return Found(p)
    if is_archive_name(base):
        raise UnknownModelError(f"bundle archive {base!r} does not exist")
    if os.sep in text or (os.altsep and os.altsep in text) or text.startswith("."):
        raise UnknownModelError(f"model folder {text!r} does not exist")
    return _zoo_bundle(text)


def _zoo_bundle(text: str) -> Finding:
    local = model_dir(text)
    if local.is_dir():
        return Found(local)
    try:
        spec = load_zoo().get(text)
    except UnknownModelError:
        raise UnknownModelError(f"{text!r} is neither a model folder nor a model of the zoo; `imgcls-onnx models` lists them") from None
    local = model_dir(spec.name)
    return Found(local) if local.is_dir() else NeedsConversion(spec.name, local)


def _model_from_url(url: str, sha: str | None) -> Path:
    """Download a bundle archive once. With #sha256 the cache is keyed by it (no request when present); without, by
    the URL (a second use makes no request either; delete the cache entry to fetch it again)."""
    if sha is not None:
        hit = cached_archive(sha)
        if hit is not None:
            return hit
    index = archives_home() / "by-url" / (hashlib.sha256(url.encode("utf-8")).hexdigest() + ".json")
    if sha is None and index.is_file():
        try:
            hit = cached_archive(json.loads(index.read_text(encoding="utf-8"))["sha256"])
        except (OSError, ValueError, KeyError, TypeError):
            hit = None
        if hit is not None:
            return hit
    with tempfile.TemporaryDirectory(prefix="imgcls-download-") as tmp_root:
        got = download(url, tmp_root, expected_sha256=sha,
                       manual_hint="Download it by hand and pass the file: --model FILE.tar.gz")
        installed = install_archive(got.path, expected_sha256=sha, origin=url, sha256=got.sha256)
    atomic_write_text(index, json.dumps({"url": url, "sha256": installed.sha256}) + "\n")
    return installed.bundle_dir


__all__ = ["Found", "Finding", "NeedsConversion", "find_model"]
