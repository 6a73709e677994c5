"""Getting a model, for every entry point (``predict``, ``evaluate``, ``serve``, ``create_model``, Ray):
``obtain_model(ref)`` is the one door. The store finds it (``store/locate.py``: a folder, a bundle archive file or
URL, a cached bundle, a zoo name); a zoo name without a bundle is converted once from PaddleX's official model when
the converter is installed (PaddleX's own behaviour: its ``create_model(name)`` downloads the official model).

This module sits above the store and the converter: the store answers with a value (found, or needs conversion),
and only this module runs the converter, so neither the runtime nor the store imports it. The converter is imported
only when a model has to be converted. ``convert_quietly`` is the one way the library runs a conversion.
"""
from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .store.cache import model_dir
from .store.converter_modules import missing_converter_modules
from .store.errors import UnknownModelError
from .store.locate import Found, find_model

if TYPE_CHECKING:
    from .converter.pipeline import ConvertRequest

#: the converter's progress lines (``run_convert`` logs each step here); ``convert_quietly`` shows them on stderr
CONVERTER_LOG = logging.getLogger("imgcls_onnx.converter")


def obtain_model(ref: "str | os.PathLike[str]", *, convert: bool = True) -> Path:
    """The bundle folder ``ref`` names; a zoo model without a bundle is converted from PaddleX's official model when
    ``convert`` and the converter is installed, else ``ModelNotConvertedError`` says how to get one."""
    found = find_model(ref)
    if isinstance(found, Found):
        return found.path
    if not convert:
        raise found.error()
    missing = missing_converter_modules()
    if missing:
        raise found.error(f"the converter is not installed here: {', '.join(missing)} missing")
    from .converter.pipeline import ConvertRequest  # noqa: PLC0415 - the converter loads only to convert

    notice = (f"{found.name} is not in the model cache: fetching PaddleX's official model and converting it (once; "
              f"later runs use {model_dir(found.name)})")
    report = convert_quietly(ConvertRequest(source=found.name), notice=notice)
    return Path(report["bundle"])


def convert_quietly(request: "ConvertRequest", *, notice: str | None = None) -> dict:
    """``run_convert(request)`` with stdout kept for results: Paddle and ppcls print on stdout (file descriptor 1
    points at stderr meanwhile), and the converter's progress lines (``CONVERTER_LOG``, ``notice`` first) go to
    stderr one plain line each. Returns the conversion report."""
    from .converter.pipeline import run_convert  # noqa: PLC0415 - the converter loads only to convert

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    saved = CONVERTER_LOG.level, CONVERTER_LOG.propagate
    CONVERTER_LOG.addHandler(handler)
    CONVERTER_LOG.setLevel(logging.INFO)
    CONVERTER_LOG.propagate = False  # shown once, here, whatever the application's own logging does
    try:
        if notice:
            CONVERTER_LOG.info(notice)
        with stdout_to_stderr():
            return run_convert(request)
    finally:
        CONVERTER_LOG.removeHandler(handler)
        CONVERTER_LOG.setLevel(saved[0])
        CONVERTER_LOG.propagate = saved[1]


class stdout_to_stderr:
    """Point file descriptor 1 at stderr for the duration (catches loggers bound to the original sys.stdout)."""

    def __enter__(self):
        sys.stdout.flush()
        self.saved = os.dup(1)
        os.dup2(2, 1)
        return self

    def __exit__(self, *exc):
        sys.stdout.flush()
        os.dup2(self.saved, 1)
        os.close(self.saved)
        return False


__all__ = ["UnknownModelError", "convert_quietly", "obtain_model", "stdout_to_stderr"]
