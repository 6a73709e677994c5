"""The ASGI middleware in front of every request: a log id, the body cap, 500 for our own faults, the request metrics
and the access log (``RequestGuard``)."""

import asyncio
import json
import logging
import time
import uuid

from .metrics import Metrics
from .state import ServeSettings

access_log = logging.getLogger("imgcls_onnx.access")
error_log = logging.getLogger("imgcls_onnx.serve")


class _BodyTooLarge(Exception):
    def __init__(self, received: int, limit: int):
        super().__init__(f"request body exceeds {limit} bytes (received {received} so far)")
        self.received = received
        self.limit = limit


class RequestGuard:
    """Pure ASGI middleware (no per-request task, unlike Starlette's BaseHTTPMiddleware): a log id per request, the
    body cap (from Content-Length, and counted as it arrives, so a chunked body is capped too), 500 for our own
    errors, metrics and the access log.

    A body found over the cap as it arrives is answered 413 with ``Connection: close``, and then, as nginx's
    lingering close does, the rest of it is read and thrown away before the response ends and the connection
    closes: a client that writes its whole body before reading the answer (Python's http.client) would otherwise
    be reset while still sending (the close finds unread data) and never read the 413. The lingering is bounded:
    at most ``LINGER_BYTES`` (64 MiB) more, for at most ``LINGER_S`` (5 s) in all; a client still sending then is
    cut off. (A declared Content-Length over the cap is answered before the body is read, and uvicorn keeps that
    connection and discards the body itself, so such a client reads its 413 too.)"""

    LINGER_BYTES = 64 * 2**20
    LINGER_S = 5.0

    def __init__(self, app, settings: ServeSettings, metrics: Metrics):
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self.limit = int(settings.max_body_mb * 1024 * 1024)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        log_id = str(uuid.uuid4())
        scope.setdefault("state", {})["log_id"] = log_id
        start = time.perf_counter()
        state = {"status": 500, "started": False, "received": 0, "too_large": None, "replaced": False}

        async def answer(status: int, message: str, extra_headers=(), linger=False):
            body = json.dumps({"logId": log_id, "errorCode": status, "errorMsg": message}).encode()
            state["status"], state["started"] = status, True
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-type", b"application/json"), (b"x-log-id", log_id.encode()),
                                    (b"content-length", str(len(body)).encode()), *extra_headers]})
            if not linger:
                await send({"type": "http.response.body", "body": body})
                return
            await send({"type": "http.response.body", "body": body, "more_body": True})  # on the wire now
            await self._discard_rest(receive)
            await send({"type": "http.response.body", "body": b""})  # the response ends: the server closes

        async def too_large():
            state["replaced"] = True
            await answer(413, f"{state['too_large']}; the limit is --max-body-mb {self.settings.max_body_mb:g}",
                         [(b"connection", b"close")], linger=True)

        async def counting_receive():
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.limit:
                    state["too_large"] = _BodyTooLarge(state["received"], self.limit)
                    raise state["too_large"]  # FastAPI turns this into its own 400; guarded_send answers 413
            return message

        async def guarded_send(message):
            if state["too_large"] is not None:
                if not state["replaced"] and message["type"] == "http.response.start":
                    await too_large()
                return
            if message["type"] == "http.response.start":
                state["status"], state["started"] = message["status"], True
                message = {**message, "headers": [*message.get("headers", []), (b"x-log-id", log_id.encode())]}
            await send(message)

        try:
            length = dict(scope.get("headers") or []).get(b"content-length", b"")
            if length.isdigit() and int(length) > self.limit:
                await answer(413, f"request body of {int(length)} bytes exceeds --max-body-mb "
                                  f"{self.settings.max_body_mb:g}")
            else:
                await self.app(scope, counting_receive, guarded_send)
        except _BodyTooLarge:
            if not state["replaced"] and not state["started"]:
                await too_large()
        except Exception:  # our fault
            error_log.exception("logId=%s unhandled error", log_id)
            if state["started"]:
                raise
            await answer(500, "internal error; see the server log for this logId")
        finally:
            elapsed = time.perf_counter() - start
            if scope.get("path") == "/image-classification":
                self.metrics.observe_request(state["status"], elapsed)
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                access_log.info(json.dumps({"logId": log_id, "method": scope.get("method"), "path": scope.get("path"),
                                            "status": state["status"], "ms": round(elapsed * 1000, 2),
                                            "client": client[0] if client else None}))

    async def _discard_rest(self, receive) -> int:
        """Read and drop what is left of the request body, up to ``LINGER_BYTES`` and ``LINGER_S``; returns how many
        bytes were dropped."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.LINGER_S
        dropped = 0
        while dropped < self.LINGER_BYTES:
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0))
            except asyncio.TimeoutError:
                break
            if message["type"] != "http.request":  # http.disconnect: the client has gone
                break
            dropped += len(message.get("body", b""))
            if not message.get("more_body", False):
                break
        return dropped
