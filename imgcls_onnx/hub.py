"""Getting a model for ``--model`` / ``create_model``: a folder, a bundle archive (file or URL), a cached bundle, or a
zoo name that is fetched from PaddleX and converted once when the converter is installed (PaddleX's own behaviour:
its ``create_model(name)`` downloads the official model).

This module sits above the runtime: the runtime resolves what is already there and never imports the converter.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from .runtime.errors import ModelNotConvertedError, UnknownModelError
from .runtime.zoo import model_dir, resolve_model

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
    try:
        return resolve_model(ref)
    except ModelNotConvertedError as e:
        if not convert:
            raise
        missing = _missing()
        if missing:
            raise ModelNotConvertedError(e.name, f"{e} (the converter is not installed here: {', '.join(missing)} "
                                                 "missing)") from None
        return fetch_and_convert(e.name, source=source)


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


__all__ = ["UnknownModelError", "converter_available", "fetch_and_convert", "obtain_model", "stdout_to_stderr"]
