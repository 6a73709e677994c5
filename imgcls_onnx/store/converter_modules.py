"""The one list of what converting needs, and whether this machine has it, found by name without importing anything:
a runtime-only install may lack these packages, and importing paddle takes seconds. Read by the hub (auto-convert),
the CLI, ``paddlex_config`` (``-c ... Export``), the converter's version report and the tests."""
from __future__ import annotations

import importlib.util

#: module -> distribution, for converting a Paddle inference model (PaddleX's official ones included): the
#: ``convert`` extra
CONVERTER_MODULES = {"paddle": "paddlepaddle", "paddle2onnx": "paddle2onnx", "onnx": "onnx"}
#: building a zoo architecture (``convert NAME --weights`` / ``--random-init``) also needs ppcls, from the paddleclas
#: wheel installed apart with --no-deps (README)
ARCHITECTURE_MODULES = {**CONVERTER_MODULES, "paddleclas": "paddleclas"}


def missing_converter_modules(modules: "dict[str, str] | None" = None) -> list[str]:
    """The modules of ``modules`` (default: ``CONVERTER_MODULES``) that cannot be found here, in order."""
    missing = []
    for module in modules if modules is not None else CONVERTER_MODULES:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(module)
    return missing


def converter_available() -> bool:
    """Whether a Paddle inference model (PaddleX's official ones) can be converted here."""
    return not missing_converter_modules()


__all__ = ["ARCHITECTURE_MODULES", "CONVERTER_MODULES", "converter_available", "missing_converter_modules"]
