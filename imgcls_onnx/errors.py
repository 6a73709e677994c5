"""Errors of the top-level modules (paddlex_config, web_export, the ray package). The runtime's errors, and where every
other family lives, are in ``imgcls_onnx.runtime.errors``."""
from __future__ import annotations

from .runtime.errors import ImgclsError


class ConfigRunError(ImgclsError):
    """The config cannot be run here; the message says why and what to do."""


class WebExportError(ImgclsError):
    """The bundle cannot run in the browser as is, or onnxruntime-web's files are not usable."""


class StorageError(ImgclsError):
    """Object storage (or another remote filesystem) cannot be listed, read or written: a missing bucket, refused
    credentials, an unreachable endpoint. One line: what was asked, and why it failed."""
