"""One result per input, with PaddleX's result API: ``.json``, ``print()``, ``save_to_json()``, ``save_to_img()``.

PaddleX's JSON: ``.json`` is ``{"res": {"input_path", "page_index", "class_ids", "scores", "label_names"}}``;
``save_to_json`` writes the inner object (as PaddleX 3.7.2 does). Top-k in ``argsort[:, -k:][:, ::-1]`` order, with a
stable sort: among exactly equal scores the higher class id first, on every machine (PaddleX's order for ties depends
on the CPU; postprocess.top_k); scores are the float32 probabilities rounded to 5 decimals and widened to double,
exactly as PaddleX prints them (0.07301 appears as 0.07300999760627747). PaddleX 3.7.2 writes the whole batch's
``class_ids`` array into every result of a batch (a bug); ours are each input's own. A failed input carries
``error`` instead of the class fields (PaddleX would have raised and stopped the whole run).

The one result format: Ray's Parquet rows (``to_row`` / ``from_row``, columns ``ROW_COLUMNS``) and the server's
``categories`` are views of a Prediction, not spellings of their own.
"""
from __future__ import annotations

import io
import itertools
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np

from .errors import ImageLoadError, ImgclsError
from .fsutil import atomic_write_bytes, windows_safe_name
from .net import is_url
from .visualize import draw_top1


def _input_name(input_path: str) -> str:
    """The file name an input path ends with; for an http(s) URL, the last part of its path, percent-decoded."""
    if is_url(input_path):
        name = unquote(urlsplit(input_path).path.rsplit("/", 1)[-1])
        return name.replace("/", "_").replace("\\", "_")  # %2F and %5C decode to separators
    return Path(input_path).name


def result_stem(input_path: str | None, index: int) -> str:
    """File stem PaddleX uses for saved results: the input's stem (in-memory inputs get ``res_<index>``). A URL's
    stem is its path's last stem plus its query (``img.php?id=3`` -> ``img_id=3``: two queries, two files), made a
    valid file name on Windows too (``fsutil.windows_safe_name``)."""
    if not input_path:
        return f"res_{index}"
    if not is_url(input_path):
        return Path(input_path).stem
    query = urlsplit(input_path).query
    stem = Path(_input_name(input_path)).stem + (f"_{unquote(query)}" if query else "")
    return windows_safe_name(stem, f"res_{index}")


_MEMORY_SEQ = itertools.count()

#: a result row (Ray, Parquet; ``Prediction.to_row``): each column and the Python type of its value (``error``: a
#: message, or None where the input was classified)
ROW_TYPES: dict[str, Any] = {"input_path": str, "class_ids": list[int], "scores": list[float],
                             "label_names": list[str], "error": str}
ROW_COLUMNS = tuple(ROW_TYPES)


class Prediction(dict):
    """One input's result. A ``dict`` like PaddleX's results (``res["label_names"]``, ``res["class_ids"]``, ...) with
    PaddleX's methods (``json``, ``str``, ``img``, ``print``, ``save_to_json``, ``save_to_img``), and attributes for
    the same fields (``res.label_names``) plus ``ok`` and ``error`` for inputs that failed."""

    def __init__(self, index: int, input_path: str | None, class_ids=None, scores=None, label_names=None,
                 error: ImgclsError | None = None, input_img: np.ndarray | None = None,
                 page_index: int | None = None):
        super().__init__()
        self.index = index
        # in-memory inputs (arrays, bytes, PIL images) have no file name: a number unique in this process, so
        # results of several predict() calls never overwrite each other's files
        self.stem = result_stem(input_path, index) if input_path else f"res_{next(_MEMORY_SEQ)}"
        self.error = error
        self.input_img = input_img  # RGB HWC, kept only when asked for
        self.update(self._public(input_path, page_index, list(class_ids or []), list(scores or []),
                                 list(label_names or [])))

    def _public(self, input_path, page_index, class_ids, scores, label_names) -> dict[str, Any]:
        res: dict[str, Any] = {"input_path": input_path, "page_index": page_index}
        if self.error is not None:
            res["error"] = {"type": type(self.error).__name__, "message": str(self.error)}
        else:
            res.update(class_ids=class_ids, scores=scores, label_names=label_names)
        return res

    # attribute access to the fields (read-only views of the dict)
    @property
    def input_path(self) -> str | None:
        return self.get("input_path")

    @property
    def page_index(self) -> int | None:
        return self.get("page_index")

    @property
    def class_ids(self) -> list[int]:
        return self.get("class_ids", [])

    @property
    def scores(self) -> list[float]:
        return self.get("scores", [])

    @property
    def label_names(self) -> list[str]:
        return self.get("label_names", [])

    @property
    def ok(self) -> bool:
        return self.error is None

    def __repr__(self) -> str:
        return f"Prediction({dict.__repr__(self)})"

    @classmethod
    def failed(cls, input_path: str | None, error: ImgclsError, index: int = 0) -> "Prediction":
        """The result of an input that could not be classified."""
        return cls(index=index, input_path=input_path, error=error)

    def categories(self, k: int | None = None) -> list[dict[str, Any]]:
        """The first ``k`` (default: all) classes as the server answers them: ``[{"id", "name", "score"}]``."""
        n = len(self.class_ids) if k is None else k
        return [{"id": int(i), "name": str(name), "score": float(score)}
                for i, name, score in zip(self.class_ids[:n], self.label_names[:n], self.scores[:n])]

    def to_row(self) -> dict[str, Any]:
        """A flat row (``ROW_COLUMNS``): the class fields, empty on failure, and ``error`` as its message or None."""
        return {"input_path": self.input_path, "class_ids": [int(i) for i in self.class_ids],
                "scores": [float(s) for s in self.scores], "label_names": [str(n) for n in self.label_names],
                "error": None if self.error is None else str(self.error)}

    @classmethod
    def from_row(cls, row: dict[str, Any], index: int = 0) -> "Prediction":
        """The Prediction a row was written from (a failed row's error comes back as an ImageLoadError with the
        row's message: rows are written for inputs that could not be loaded)."""
        if not row.get("error"):
            return cls(index, row["input_path"], list(row["class_ids"]), list(row["scores"]),
                       list(row["label_names"]))
        error = ImageLoadError(row["input_path"], row["error"])
        error.args = (row["error"],)  # the message exactly as written
        return cls.failed(row["input_path"], error, index=index)

    def __reduce__(self):  # pickling (Ray, multiprocessing) keeps the attributes, not only the dict
        return (_rebuild, (self.index, dict(self), self.error, self.input_img))

    def to_dict(self) -> dict[str, Any]:
        """The JSON object (a copy): input_path, page_index, then the class fields or ``error``."""
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.items()}

    @property
    def json(self) -> dict[str, Any]:
        return {"res": self.to_dict()}

    @property
    def str(self) -> dict[str, Any]:
        """PaddleX's ``res.str``: ``{"res": <the result>}``."""
        return {"res": self.to_dict()}

    def __str__(self) -> str:
        return json.dumps(self.json, indent=4, ensure_ascii=False)

    def print(self, json_format: bool = False, indent: int = 4, ensure_ascii: bool = False) -> None:
        """PaddleX's print: ``json_format=True`` prints the JSON text; the default prints ``{'res': {...}}`` as a
        Python dict, as PaddleX does."""
        if json_format:
            print(json.dumps(self.json, indent=indent, ensure_ascii=ensure_ascii))
        else:
            print({"res": self.to_dict()})

    def json_path(self, save_path: "str | os.PathLike[str]") -> Path:
        p = Path(save_path)
        if p.suffix.lower() == ".json":
            return p
        return p / f"{self.stem}_res.json"

    def save_to_json(self, save_path: "str | os.PathLike[str]", indent: int = 4, ensure_ascii: bool = False) -> Path:
        """``save_path`` ending in .json is written as is; otherwise ``<save_path>/<stem>_res.json``. Atomic.
        The file holds the result object itself (``input_path``, ``page_index``, ...), like PaddleX's."""
        target = self.json_path(save_path)
        text = json.dumps(self.to_dict(), indent=indent, ensure_ascii=ensure_ascii) + "\n"
        atomic_write_bytes(target, text.encode("utf-8"))
        return target

    def to_img(self):
        """The input image with the top-1 label and score drawn (PIL image). Needs the input image."""
        if self.input_img is None:
            raise ValueError(
                "this result has no input image; predict with keep_images=True (create_model(...).predict keeps them)"
            )
        if self.error is not None:
            raise ValueError(f"input {self.input_path!r} failed ({self.error}); there is nothing to draw")
        label = self.label_names[0] if self.label_names else str(self.class_ids[0])
        return draw_top1(self.input_img, f"{label} {self.scores[0]:.2f}")

    @property
    def img(self) -> dict[str, Any]:
        return {"res": self.to_img()}

    def save_to_img(self, save_path: "str | os.PathLike[str]") -> Path:
        """``save_path`` with an image suffix is written as is; otherwise ``<save_path>/<stem>_res<suffix>``."""
        p = Path(save_path)
        image_suffixes = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
        if p.suffix.lower() in image_suffixes:
            target = p
        else:
            src_suffix = Path(_input_name(self.input_path)).suffix.lower() if self.input_path else ""
            suffix = src_suffix if src_suffix in image_suffixes else ".png"
            target = p / f"{self.stem}_res{suffix}"
        image = self.to_img()
        buf = io.BytesIO()
        fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".webp": "WEBP"}[target.suffix.lower()]
        image.save(buf, format=fmt)
        atomic_write_bytes(target, buf.getvalue())
        return target


def error_row(input_path: str, reason: str) -> dict[str, Any]:
    """The row of an input that could not be loaded: no class fields, ``error`` as ImageLoadError's message."""
    return Prediction.failed(input_path, ImageLoadError(input_path, reason)).to_row()


def _rebuild(index, data, error, input_img):
    return Prediction(index, data.get("input_path"), data.get("class_ids"), data.get("scores"),
                      data.get("label_names"), error=error, input_img=input_img, page_index=data.get("page_index"))
