"""Locating a model: what ``--model`` / ``create_model`` / Ray's ``model`` names -> a bundle folder.

One function, ``locate_model``, for every entry point. A zoo model with no bundle yet is handed to the ``convert``
callback the caller passes (``hub.obtain_model`` passes the converter's when it is installed), so the store never
imports the converter.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable, Optional

from ..runtime.errors import ModelNotConvertedError, UnknownModelError
from ..runtime.fsutil import atomic_write_text
from ..runtime.net import is_url
from .archive import archives_home, cached_archive, install_archive, is_archive_name
from .cache import model_dir
from .catalogue import load_zoo
from .download import download, split_sha256

#: called with the ``ModelNotConvertedError`` of a zoo model that has no bundle; returns the bundle folder it made
#: (or raises)
Converter = Callable[[ModelNotConvertedError], Path]


def locate_model(ref: "str | os.PathLike[str]", *, convert: Optional[Converter] = None) -> Path:
    """The bundle folder ``ref`` names (see ``resolve_model``); a zoo model without a bundle goes to ``convert``,
    or raises ``ModelNotConvertedError`` without one."""
    try:
        return resolve_model(ref)
    except ModelNotConvertedError as e:
        if convert is None:
            raise
        return Path(convert(e))


def resolve_model(name_or_dir: "str | os.PathLike[str]") -> Path:
    """Where a ``--model`` value points, in this order:

    * ``http(s)://.../FILE.tar.gz[#sha256=HEX]``: a bundle archive, downloaded once, verified, installed in the cache;
    * ``FILE.tar.gz`` / ``.tgz`` / ``.tar`` [``#sha256=HEX``]: a local bundle archive, verified and installed;
    * a folder: used as is;
    * a name: ``$IMGCLS_ONNX_HOME/models/NAME``, which must exist (``ModelNotConvertedError`` for a zoo model that
      has no bundle yet: ``locate_model`` then hands it to its converter callback).
    """
    text = os.fspath(name_or_dir)
    base, sha = split_sha256(text) if "#" in text else (text, None)
    if is_url(base):
        return _model_from_url(base, sha)
    p = Path(base).expanduser()
    if p.is_file() and is_archive_name(p.name):
        return install_archive(p, expected_sha256=sha).bundle_dir
    if sha is not None:
        raise UnknownModelError(f"{text!r}: '#sha256=' applies to a bundle archive (.tar.gz, .tgz, .tar) only")
    if p.is_dir():
        return p
    if is_archive_name(base):
        raise UnknownModelError(f"bundle archive {base!r} does not exist")
    if os.sep in text or (os.altsep and os.altsep in text) or text.startswith("."):
        raise UnknownModelError(f"model folder {text!r} does not exist")
    return _zoo_bundle(text)


def _zoo_bundle(text: str) -> Path:
    local = model_dir(text)
    if local.is_dir():
        return local
    try:
        spec = load_zoo().get(text)
    except UnknownModelError:
        raise UnknownModelError(f"{text!r} is neither a model folder nor a model of the zoo; `imgcls-onnx models` lists them") from None
    local = model_dir(spec.name)
    if local.is_dir():
        return local
    raise ModelNotConvertedError(
        spec.name,
        f"zoo model {spec.name!r} has no bundle on this machine (looked in {str(local)!r}). Either:\n"
        f"  pip install 'imgcls-onnx[convert]'   then `imgcls-onnx convert {spec.name}` (or just use it: PaddleX's "
        f"official weights are fetched and converted once), or\n"
        f"  --model {spec.name}.tar.gz           a bundle archive made with `imgcls-onnx pack {spec.name}` on a machine "
        f"that has the converter (a local file or an http(s) URL, optionally with #sha256=...)",
    )


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


__all__ = ["Converter", "locate_model", "resolve_model"]
