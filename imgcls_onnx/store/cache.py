"""Where bundles live: $IMGCLS_ONNX_HOME (default: the user cache folder) /models/NAME and /archives/<sha256>/NAME."""
from __future__ import annotations

import os
from pathlib import Path

ENV_HOME = "IMGCLS_ONNX_HOME"


def models_home() -> Path:
    """$IMGCLS_ONNX_HOME, else the user cache dir (XDG_CACHE_HOME or ~/.cache on Linux/macOS, LOCALAPPDATA on Windows)."""
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "imgcls-onnx"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "imgcls-onnx"


def model_dir(name: str) -> Path:
    return models_home() / "models" / name
