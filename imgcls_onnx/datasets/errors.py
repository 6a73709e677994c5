"""The datasets package's error (every family is listed in ``imgcls_onnx.runtime.errors``)."""
from __future__ import annotations

from ..runtime.errors import ImgclsError


class DatasetError(ImgclsError):
    """The dataset folder cannot be used at all (no label.txt, no list files)."""
