"""Expand what users pass to predict() into a lazy stream of inputs, in a stable order.

Accepted: a file path, a directory (recursive, sorted, image extensions only), a glob pattern, bytes,
numpy arrays (BGR, like PaddleX), PIL images, and any list/tuple/iterable of these.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
from PIL import Image

from .errors import ImageNotFoundError, ImgclsError
from .images import describe_source
from .net import is_url

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".dib", ".webp", ".tif", ".tiff", ".gif",
     ".ppm", ".pgm", ".pbm", ".pnm"}
)
_GLOB_CHARS = set("*?[")


@dataclass(frozen=True, slots=True)  # slots: a resumed or listed run holds one per input
class InputItem:
    index: int
    source: Any
    input_path: str | None  # what the result JSON shows (None for in-memory inputs, as PaddleX does)
    label: str  # how errors name it
    error: ImgclsError | None = None


def is_image_path(path: "str | os.PathLike[str]") -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def _walk_dir(root: Path) -> Iterator[str]:
    """Recursive, sorted by full path (like sorted(glob)), image extensions only; symlinked folders are not
    followed (no loops). The listing holds only path strings, never images."""
    found = []
    for dirpath, _dirnames, filenames in os.walk(root):
        found.extend(os.path.join(dirpath, n) for n in filenames if Path(n).suffix.lower() in IMAGE_EXTENSIONS)
    found.sort()
    yield from found


def _expand_one(obj: Any) -> Iterator[tuple[Any, str | None, str, ImgclsError | None]]:
    if is_url(obj):
        yield obj, obj, repr(obj), None  # fetched when loaded; the URL is the result's input_path, as in PaddleX
        return
    if isinstance(obj, (str, os.PathLike)):
        text = os.fspath(obj)
        path = Path(text)
        if path.is_dir():
            empty = True
            for p in _walk_dir(path):
                empty = False
                yield p, p, repr(p), None
            if empty:  # an input that yields nothing must still be accounted for
                yield None, text, repr(text), ImageNotFoundError(repr(text), "the folder holds no image files")
            return
        if not path.exists() and not path.is_symlink() and _GLOB_CHARS & set(text):
            matches = sorted(glob.glob(text, recursive=True))
            files = [m for m in matches if os.path.isfile(m) and is_image_path(m)]
            if not files:
                yield None, text, repr(text), ImageNotFoundError(repr(text), "the pattern matched no image files")
            for m in files:
                yield m, m, repr(m), None
            return
        yield text, text, repr(text), None
        return
    if isinstance(obj, (bytes, bytearray, memoryview, np.ndarray, Image.Image)):
        yield obj, None, "", None
        return
    if isinstance(obj, Iterable) and not isinstance(obj, (str, bytes, dict)):
        for element in obj:
            yield from _expand_one(element)
        return
    yield obj, None, "", None


def iter_inputs(inputs: Any) -> Iterator[InputItem]:
    """The inputs as InputItems, numbered in order. Items already walked (an ``InputItem``: the CLI walks its inputs
    once, then filters them for --resume) pass through as they are, their numbers kept."""
    index = 0
    top = [inputs] if isinstance(inputs, (str, os.PathLike, bytes, bytearray, memoryview, np.ndarray, Image.Image)) else inputs
    for element in top if isinstance(top, Iterable) else [top]:
        if isinstance(element, InputItem):
            yield element
            continue
        for source, input_path, label, error in _expand_one(element):
            yield InputItem(index, source, input_path, label or describe_source(source, index), error)
            index += 1
