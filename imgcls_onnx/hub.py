"""Getting a model for every entry point (``predict``, ``evaluate``, ``serve``, ``create_model``, Ray): the store
locates it (``store/locate.py``: a folder, a bundle archive file or URL, a cached bundle, a zoo name), and a zoo
name without a bundle is fetched from PaddleX and converted once when the converter is installed (PaddleX's own
behaviour: its ``create_model(name)`` downloads the official model).

This module sits above the store and the converter: it hands the converter to the store as a callback, so neither
the runtime nor the store imports it. The converter is imported only when a model has to be converted.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from .runtime.errors import ModelNotConvertedError, UnknownModelError
from .store.cache import model_dir
from .store.locate import Converter, locate_model

#: what converting needs, found by name without importing it (nor the converter package: a runtime-only install
#: may lack it, and importing paddle takes seconds)
CONVERTER_MODULES = ("paddle", "paddle2onnx", "onnx")


def _missing() -> list[str]:
    missing = []
    for m in CONVERTER_MODULES:
        try:
            found = importlib.util.find_spec(m) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(m)
    return missing


def converter_available() -> bool:
    return not _missing()


def obtain_model(ref: "str | os.PathLike[str]", *, convert: bool = True, source: str | None = None) -> Path:
    """The bundle folder ``ref`` names; a zoo model without a bundle is fetched and converted when possible."""
    return locate_model(ref, convert=converter_callback(source) if convert else None)


def converter_callback(source: str | None = None) -> Converter:
    """The ``convert`` callback of ``locate_model``: the official model fetched (from ``source``, a mirror, when
    given) and converted; where the converter is not installed, the error says so."""

    def convert(e: ModelNotConvertedError) -> Path:
        missing = _missing()
        if missing:
            raise ModelNotConvertedError(e.name, f"{e} (the converter is not installed here: {', '.join(missing)} "
                                                 "missing)") from None
        return fetch_and_convert(e.name, source=source)

    return convert


def fetch_and_convert(name: str, source: str | None = None) -> Path:
    from .converter.pipeline import ConvertRequest, run_convert

    def log(msg: str) -> None:
        sys.stderr.write(f"{msg}\n")
        sys.stderr.flush()

    log(f"{name} is not in the model cache: fetching PaddleX's official model and converting it (once; later runs "
        f"use {model_dir(name)})")
    with stdout_to_stderr():  # paddle and ppcls print on stdout, which carries only results
        report = run_convert(ConvertRequest(source=name, official_source=source), log=log)
    return Path(report["bundle"])


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


__all__ = ["UnknownModelError", "converter_available", "converter_callback", "fetch_and_convert", "obtain_model",
           "stdout_to_stderr"]
