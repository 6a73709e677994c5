"""The store's errors: getting a model (a name, a bundle archive, a download). ``imgcls_onnx.runtime.errors`` lists
every family."""
from __future__ import annotations

from ..runtime.errors import ImgclsError


class UnknownModelError(ImgclsError):
    """A model name is not in the zoo, or the zoo model has not been converted locally."""


class ModelNotConvertedError(UnknownModelError):
    """A zoo model has no bundle in the cache yet, and it is not converted here (not asked to, or no converter).
    ``name`` is the zoo name."""

    def __init__(self, name: str, message: str):
        self.name = name
        super().__init__(message)


class DownloadError(ImgclsError):
    """A download failed (after its retries); the message names the URL, the reason and the manual route."""


class ArchiveError(ImgclsError):
    """An archive is broken, unsafe (absolute paths, '..', links, devices, too large) or not what it should be."""
