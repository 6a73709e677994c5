"""The service's internal signals (the public errors are in ``imgcls_onnx.runtime.errors``, which lists every
family)."""
from __future__ import annotations


class QueueFull(Exception):
    """The batcher's queue is at ``max_queue``: the request is refused (HTTP 503) instead of waiting."""
