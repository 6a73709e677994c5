"""The ASGI middleware in front of every request: a log id, the body cap, 500 for our own faults, the request metrics
and the access log (``RequestGuard``)."""
from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid

from .errors import error_body
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
        self.limit = settings.max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        exchange = _Exchange(self, receive, send)
        scope.setdefault("state", {})["log_id"] = exchange.log_id
        start = time.perf_counter()
        try:
            length = dict(scope.get("headers") or []).get(b"content-length", b"")
            if length.isdigit() and int(length) > self.limit:
                await exchange.answer(413, f"request body of {int(length)} bytes exceeds {self._cap()}")
            else:
                await self.app(scope, exchange.receive, exchange.send)
        except _BodyTooLarge:
            if not exchange.replaced and not exchange.started:
                await exchange.answer_too_large()
        except Exception:  # our fault
            error_log.exception("logId=%s unhandled error", exchange.log_id)
            if exchange.started:
                raise
            await exchange.answer(500, "internal error; see the server log for this logId")
        finally:
            self._record(scope, exchange, time.perf_counter() - start)

    def _cap(self) -> str:
        return f"--max-body-mb {self.settings.max_body_mb:g}"

    def _record(self, scope, exchange: "_Exchange", elapsed: float) -> None:
        """The request's metrics (the classification endpoint only) and its access-log line."""
        if scope.get("path") == "/image-classification":
            self.metrics.observe_request(exchange.status, elapsed)
        if access_log.isEnabledFor(logging.INFO):
            client = scope.get("client")
            access_log.info(json.dumps({"logId": exchange.log_id, "method": scope.get("method"),
                                        "path": scope.get("path"), "status": exchange.status,
                                        "ms": round(elapsed * 1000, 2), "client": client[0] if client else None}))

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


class _Exchange:
    """One request through the guard: its log id, the status answered, the body bytes counted so far, and the
    receive / send the app is given in place of the server's (the count, the cap, the log id header)."""

    def __init__(self, guard: RequestGuard, receive, send):
        self.guard = guard
        self.log_id = str(uuid.uuid4())
        self.status, self.started, self.received = 500, False, 0
        self.too_large: _BodyTooLarge | None = None
        self.replaced = False  # the app's answer was replaced by the 413
        self._receive, self._send = receive, send

    async def answer(self, status: int, message: str, extra_headers=(), linger: bool = False) -> None:
        """Answer in PaddleX's error shape; ``linger``: then read and drop the rest of the body (see RequestGuard)."""
        body = json.dumps(error_body(self.log_id, status, message)).encode()
        self.status, self.started = status, True
        await self._send({"type": "http.response.start", "status": status,
                          "headers": [(b"content-type", b"application/json"), (b"x-log-id", self.log_id.encode()),
                                      (b"content-length", str(len(body)).encode()), *extra_headers]})
        if not linger:
            await self._send({"type": "http.response.body", "body": body})
            return
        await self._send({"type": "http.response.body", "body": body, "more_body": True})  # on the wire now
        await self.guard._discard_rest(self._receive)
        await self._send({"type": "http.response.body", "body": b""})  # the response ends: the server closes

    async def answer_too_large(self) -> None:
        self.replaced = True
        await self.answer(413, f"{self.too_large}; the limit is {self.guard._cap()}", [(b"connection", b"close")],
                          linger=True)

    async def receive(self):
        """The server's receive, counting the body: over the cap, raises _BodyTooLarge into the app."""
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.guard.limit:
                self.too_large = _BodyTooLarge(self.received, self.guard.limit)
                raise self.too_large  # FastAPI turns this into its own 400; send answers 413 in its place
        return message

    async def send(self, message) -> None:
        """The server's send, with the log id header; once the body was over the cap, the 413 replaces the app's
        answer."""
        if self.too_large is not None:
            if not self.replaced and message["type"] == "http.response.start":
                await self.answer_too_large()
            return
        if message["type"] == "http.response.start":
            self.status, self.started = message["status"], True
            message = {**message, "headers": [*message.get("headers", []), (b"x-log-id", self.log_id.encode())]}
        await self._send(message)
