"""The service's internal signals (the public errors are in ``imgcls_onnx.runtime.errors``, which lists every
family) and the one shape every error answer has. Standard library only (the middleware imports it)."""
from __future__ import annotations


class QueueFull(Exception):
    """The batcher's queue is at ``max_queue``: the request is refused (HTTP 503) instead of waiting."""


def error_body(log_id: str, status: int, message: str) -> dict:
    """PaddleX's error answer: ``{"logId", "errorCode": <HTTP status>, "errorMsg"}``."""
    return {"logId": log_id, "errorCode": status, "errorMsg": message}
