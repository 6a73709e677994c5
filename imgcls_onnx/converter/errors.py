"""The converter's errors (the runtime's are in ``imgcls_onnx.runtime.errors``, which lists every family)."""
from __future__ import annotations

from ..runtime.errors import ImgclsError


class ConversionError(ImgclsError):
    """A conversion step failed; the message says which step and why."""
