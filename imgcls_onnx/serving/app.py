"""PaddleX's image-classification service API on FastAPI, with dynamic batching and client errors as 4xx.

POST /image-classification  {"image": "<base64>" | "<URL>", "topk": int|null, "visualize": bool|null}
  200 {"logId", "errorCode": 0, "errorMsg": "Success", "result": {"categories": [{"id", "name", "score"}], "image"}}
  4xx/5xx {"logId", "errorCode": <HTTP status>, "errorMsg"}
GET /health, GET /metrics (Prometheus text), GET /openapi.json, /docs
"""

import asyncio
import base64
import binascii
import gc
import io
import json
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Optional

import numpy as np

from ..runtime.errors import ImageLoadError, PreprocessError
from ..runtime.images import ImageLimits, load_image
from ..runtime.net import IMAGE_FETCH, FetchError, fetch_url, is_url
from ..runtime.postprocess import top_k
from .batcher import DynamicBatcher, QueueFull
from .metrics import Metrics

access_log = logging.getLogger("imgcls_onnx.access")
error_log = logging.getLogger("imgcls_onnx.serve")


@dataclass(frozen=True)
class ServeSettings:
    max_batch_size: Optional[int] = None  # None: default_batching(device)
    max_wait_ms: Optional[float] = None  # None: default_batching(device)
    max_queue: int = 256
    max_body_mb: float = 20.0
    allow_url_fetch: bool = False
    url_timeout_s: float = 10.0
    decode_workers: int = 4


def default_batching(device: str) -> tuple[int, float]:
    """(max batch size, max wait ms) that ``serve`` uses unless told: small batches and no waiting on CPU, where a
    batch saves little (PP-LCNet_x1_0 on 2 threads: 4.2, 3.9, 3.6, 3.8 and 4.0 ms per image at batch 1, 2, 4, 8
    and 16) and a large one makes every request behind it wait (16 and 32 clients: 4 -> about 230 req/s and p99
    86 / 158 ms, 16 -> 181-192 req/s and p99 124 / 193 ms; waiting to fill a batch of 4 cost a sixth of the
    throughput at 4 clients; docs/serving.md); 16 with a 5 ms top-up on a GPU, where a batch is nearly free."""
    return (4, 0.0) if device == "cpu" else (16, 5.0)


class _BodyTooLarge(Exception):
    def __init__(self, received: int, limit: int):
        super().__init__(f"request body exceeds {limit} bytes (received {received} so far)")
        self.received = received
        self.limit = limit


class _Guard:
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

    def __init__(self, app, settings: "ServeSettings", metrics: Metrics):
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


def _b64decode(text: str) -> bytes:
    """Strict base64 (no characters outside the alphabet, right padding), as ``base64.b64decode(validate=True)``.
    With the serve extra this is pybase64's SIMD decoder: the standard library's took 211 us for a 107 kB image
    (about 3 % of a lone request's time at 1 client), on the event loop; pybase64 5 us. What pybase64 refuses is
    decided by the standard library (it accepts a few oddities, e.g. padding after a full quantum), so the verdicts
    are the same as before, and only a refused input pays for the slow decoder."""
    try:
        return _B64DECODE(text, validate=True)
    except (binascii.Error, ValueError):
        if _B64DECODE is base64.b64decode:
            raise
        return base64.b64decode(text, validate=True)


try:
    from pybase64 import b64decode as _B64DECODE
except ImportError:  # pragma: no cover - the serve extra installs it
    _B64DECODE = base64.b64decode


class _ClientError(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def create_app(classifier, settings: ServeSettings = ServeSettings()):
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, PlainTextResponse
    from pydantic import BaseModel, Field
    from starlette.exceptions import HTTPException as StarletteHTTPException

    metrics = Metrics()
    from ..runtime.session import trim_heap

    batch_default, wait_default = default_batching(classifier.device)
    settings = replace(settings, max_batch_size=settings.max_batch_size or batch_default,
                       max_wait_ms=wait_default if settings.max_wait_ms is None else settings.max_wait_ms)

    batcher = DynamicBatcher(classifier.run_batch, settings.max_batch_size, settings.max_wait_ms,
                             settings.max_queue, metrics, on_idle=trim_heap)
    decode_pool = ThreadPoolExecutor(max_workers=settings.decode_workers, thread_name_prefix="imgcls-decode")
    labels = classifier.labels
    limits = ImageLimits(max_bytes=int(settings.max_body_mb * 1024 * 1024))

    @asynccontextmanager
    async def lifespan(app):
        batcher.start()
        # everything loaded so far (FastAPI, pydantic, numpy, onnxruntime, the model) lives as long as the server:
        # move it out of the cyclic collector's view, so a full collection under load scans only request garbage
        # (at 32 clients the p99 was 297 -> 268 ms, median of 3)
        gc.collect()
        gc.freeze()
        yield
        await batcher.close()  # SIGTERM: uvicorn stops accepting, in-flight requests finish, then this drains
        decode_pool.shutdown(wait=True)

    app = FastAPI(title="imgcls-onnx", version="1", lifespan=lifespan,
                  description="PaddleX-compatible image classification on onnxruntime")
    app.state.metrics = metrics
    app.state.batcher = batcher

    class InferRequest(BaseModel):
        image: str = Field(..., description="Base64-encoded image bytes, or an http(s) URL when the server allows it")
        topk: Optional[int] = Field(None, ge=1, description="How many classes to return [default: the model's]")
        visualize: Optional[bool] = Field(None, description="Return the image with the top-1 label drawn")

    class Category(BaseModel):
        id: int
        name: str
        score: float

    class InferResult(BaseModel):
        categories: list[Category]
        image: Optional[str]

    class InferResponse(BaseModel):
        logId: str
        errorCode: int
        errorMsg: str
        result: InferResult

    def error_body(log_id: str, status: int, message: str) -> dict:
        return {"logId": log_id, "errorCode": status, "errorMsg": message}

    app.add_middleware(_Guard, settings=settings, metrics=metrics)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        if first.get("type") == "json_invalid":
            reason = (first.get("ctx") or {}).get("error")
            msg = f"invalid request: the body is not valid JSON{f' ({reason})' if reason else ''}"
        else:
            where = ".".join(str(p) for p in first.get("loc", []) if p != "body" and not isinstance(p, int))
            msg = f"invalid request: {where + ': ' if where else ''}{first.get('msg', 'malformed JSON')}"
        return JSONResponse(error_body(request.state.log_id, 422, msg), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        # 404, 405, ...: PaddleX's error body, not FastAPI's {"detail": ...}
        message = {404: f"no such endpoint: {request.url.path}",
                   405: f"{request.method} is not allowed on {request.url.path}"}.get(exc.status_code, str(exc.detail))
        return JSONResponse(error_body(request.state.log_id, exc.status_code, message), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(_ClientError)
    async def client_error(request: Request, exc: _ClientError):
        return JSONResponse(error_body(request.state.log_id, exc.status, exc.message), status_code=exc.status,
                            headers=exc.headers)

    def prepare(data: bytes, keep: bool):
        image = load_image(data, limits, name="the request image")
        return classifier.model_input(image), (image if keep else None)

    def prepare_and_run(data: bytes, keep: bool):
        tensor, image = prepare(data, keep)
        return classifier.run_batch(tensor[None], alone=True)[0], image

    @app.post("/image-classification", response_model=InferResponse)
    async def classify(body: InferRequest, request: Request):
        log_id = request.state.log_id
        text = body.image.strip()
        loop = asyncio.get_running_loop()
        if is_url(text):
            if not settings.allow_url_fetch:
                raise _ClientError(400, "URL inputs are disabled on this server (start it with --allow-url-fetch); "
                                        "send the image as base64")
            try:
                # the CLI's policy (private addresses only with $IMGCLS_ONNX_ALLOW_PRIVATE_URLS=1), this server's timeout
                policy = IMAGE_FETCH.with_timeout(settings.url_timeout_s)
                data = await loop.run_in_executor(decode_pool, lambda: fetch_url(text, policy, max_bytes=limits.max_bytes))
            except FetchError as e:
                raise _ClientError(400, str(e)) from None
        else:
            if text.startswith("data:") and "," in text:
                text = text.split(",", 1)[1]
            try:
                data = _b64decode(text)
            except (binascii.Error, ValueError):
                raise _ClientError(400, "'image' is neither valid base64 nor an http(s) URL") from None
        keep = bool(body.visualize)
        try:
            alone = await batcher.run_alone(lambda: prepare_and_run(data, keep))
            if alone is not None:
                probs, image = alone
            else:
                tensor, image = await loop.run_in_executor(decode_pool, prepare, data, keep)
        except (ImageLoadError, PreprocessError) as e:
            raise _ClientError(400, str(e)) from None
        if alone is None:
            try:
                probs = await batcher.submit(tensor)
            except QueueFull:
                raise _ClientError(503, "the server is at capacity; retry shortly", {"Retry-After": "1"}) from None
        k = min(body.topk or classifier.topk, probs.shape[-1])
        ids, scores = top_k(np.asarray(probs)[None, :], k)
        categories = [{"id": int(i), "name": labels[int(i)] if labels is not None and int(i) < len(labels) else str(int(i)),
                       "score": float(s)} for i, s in zip(ids[0], scores[0])]
        image_b64 = None
        if body.visualize:
            image_b64 = await loop.run_in_executor(decode_pool, _draw, image, categories[0])
        return {"logId": log_id, "errorCode": 0, "errorMsg": "Success",
                "result": {"categories": categories, "image": image_b64}}

    @app.get("/health")
    async def health(request: Request):
        return {"logId": request.state.log_id, "errorCode": 0, "errorMsg": "Healthy",
                "result": {"model": classifier.bundle.name, "device": classifier.device, "queue": batcher.depth,
                           "batching": {"max_batch_size": settings.max_batch_size,
                                        "max_wait_ms": settings.max_wait_ms},
                           "server": {**getattr(app.state, "server_stack", {}),  # http, malloc_arenas: from `serve`
                                      "loop": type(asyncio.get_running_loop()).__module__.split(".")[0],
                                      "latency_session": getattr(classifier.model, "latency_session", None)
                                      is not None}}}

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prometheus():
        metrics.queue_depth = batcher.depth
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    return app


def _draw(image_rgb: np.ndarray, top: dict) -> str:
    from ..runtime.visualize import draw_top1

    buf = io.BytesIO()
    draw_top1(image_rgb, f"{top['name']} {top['score']:.2f}").save(buf, format="JPEG", quality=90)
    return base64.b64encode(buf.getvalue()).decode("ascii")
