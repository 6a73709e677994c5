"""The request handlers, module-level functions over a ``ServingState`` (``create_app`` only wires them to routes).

Each route takes the state and the request's log id as FastAPI dependencies, so a handler can be called directly
with a hand-made state: ``await classify(InferRequest(image=...), state, "log-id")``. Client errors are raised as
``ClientError`` and answered, like FastAPI's own 404 / 405 / 422, in PaddleX's error shape
``{"logId", "errorCode", "errorMsg"}`` by the exception handlers below.
"""

import asyncio
import base64
import binascii
import io
from typing import Annotated, Optional

import numpy as np
import pybase64
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..runtime.errors import ImageLoadError, PreprocessError
from ..runtime.fetch import fetch_url
from ..runtime.images import load_image
from ..runtime.net import IMAGE_FETCH, FetchError, is_url
from ..runtime.visualize import draw_top1
from .errors import QueueFull, error_body
from .metrics import CONTENT_TYPE
from .state import ServingState


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


class ClientError(Exception):
    """A request we refuse: answered with ``status`` and ``message`` (and ``headers``) in PaddleX's error shape."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def serving_state(request: Request) -> ServingState:
    return request.app.state.serving


def request_log_id(request: Request) -> str:
    return request.state.log_id  # set by RequestGuard


State = Annotated[ServingState, Depends(serving_state)]
LogId = Annotated[str, Depends(request_log_id)]


# --- POST /image-classification ---

async def classify(body: InferRequest, state: State, log_id: LogId) -> dict:
    data = await _image_bytes(state, body.image.strip())
    keep = bool(body.visualize)
    probs, image = await _probabilities(state, data, keep)
    categories = _categories(state, probs, body.topk)
    image_b64 = None
    if keep:
        image_b64 = await asyncio.get_running_loop().run_in_executor(state.decode_pool, _draw, image, categories[0])
    return {"logId": log_id, "errorCode": 0, "errorMsg": "Success",
            "result": {"categories": categories, "image": image_b64}}


async def _image_bytes(state: ServingState, text: str) -> bytes:
    """The request's image: fetched when it is an http(s) URL (and the server allows it), else strict base64
    (a ``data:`` URL's prefix dropped)."""
    if is_url(text):
        if not state.settings.allow_url_fetch:
            raise ClientError(400, "URL inputs are disabled on this server (start it with --allow-url-fetch); "
                                   "send the image as base64")
        # the CLI's policy (private addresses only with $IMGCLS_ONNX_ALLOW_PRIVATE_URLS=1), this server's timeout
        policy = IMAGE_FETCH.with_timeout(state.settings.url_timeout_s)
        try:
            return await asyncio.get_running_loop().run_in_executor(
                state.decode_pool, lambda: fetch_url(text, policy, max_bytes=state.limits.max_bytes))
        except FetchError as e:
            raise ClientError(400, str(e)) from None
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    try:
        return _b64decode(text)
    except (binascii.Error, ValueError):
        raise ClientError(400, "'image' is neither valid base64 nor an http(s) URL") from None


async def _probabilities(state: ServingState, data: bytes, keep: bool):
    """(class probabilities, the decoded image when ``keep``): run at once on the model thread when it is idle (one
    hop), else decoded in the pool and batched."""
    try:
        alone = await state.batcher.run_alone(lambda: _prepare_and_run(state, data, keep))
        if alone is not None:
            return alone
        tensor, image = await asyncio.get_running_loop().run_in_executor(state.decode_pool, _prepare, state, data,
                                                                           keep)
    except (ImageLoadError, PreprocessError) as e:
        raise ClientError(400, str(e)) from None
    try:
        return await state.batcher.submit(tensor), image
    except QueueFull:
        raise ClientError(503, "the server is at capacity; retry shortly", {"Retry-After": "1"}) from None


def _prepare(state: ServingState, data: bytes, keep: bool):
    image = load_image(data, state.limits, name="the request image", contiguous=keep, kernel=state.model.kernel)
    return state.model.model_input(image), (image if keep else None)


def _prepare_and_run(state: ServingState, data: bytes, keep: bool):
    tensor, image = _prepare(state, data, keep)
    return state.model.run(tensor[None], alone=True)[0], image


def _categories(state: ServingState, probs, topk: int | None) -> list[dict]:
    """The answer's categories: the model's Prediction for these probabilities (the runtime's top-k and labels)."""
    return state.model.prediction(probs, topk or state.model.topk).categories()


def _b64decode(text: str) -> bytes:
    """Strict base64 (no characters outside the alphabet, right padding), as ``base64.b64decode(validate=True)``.
    This is pybase64's SIMD decoder (the serve extra), far cheaper on the event loop than the standard library's
    (docs/serving.md). What pybase64 refuses is decided by the standard library (it accepts a few oddities, e.g.
    padding after a full quantum), so the verdicts are the standard library's, and only a refused input pays for
    the slow decoder."""
    try:
        return pybase64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return base64.b64decode(text, validate=True)


def _draw(image_rgb: np.ndarray, top: dict) -> str:
    buf = io.BytesIO()
    draw_top1(image_rgb, f"{top['name']} {top['score']:.2f}").save(buf, format="JPEG", quality=90)
    return base64.b64encode(buf.getvalue()).decode("ascii")


# --- GET /health, GET /metrics ---

async def health(state: State, log_id: LogId):  # unannotated: the schema's free-form object, as always
    settings, model = state.settings, state.model
    return {"logId": log_id, "errorCode": 0, "errorMsg": "Healthy",
            "result": {"model": model.bundle.name, "device": model.device, "queue": state.batcher.depth,
                       "batching": {"max_batch_size": settings.max_batch_size, "max_wait_ms": settings.max_wait_ms},
                       "server": {**state.server_stack,  # http, malloc_arenas: from run_server
                                  "loop": type(asyncio.get_running_loop()).__module__.split(".")[0],
                                  "latency_session": model.latency_session is not None,
                                  "preprocessing_kernel": model.kernel.name}}}


async def prometheus(state: State) -> PlainTextResponse:
    state.metrics.set_queue_depth(state.batcher.depth)
    return PlainTextResponse(state.metrics.render(), media_type=CONTENT_TYPE)


# --- errors in PaddleX's shape ---

async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    if first.get("type") == "json_invalid":
        reason = (first.get("ctx") or {}).get("error")
        msg = f"invalid request: the body is not valid JSON{f' ({reason})' if reason else ''}"
    else:
        where = ".".join(str(p) for p in first.get("loc", []) if p != "body" and not isinstance(p, int))
        msg = f"invalid request: {where + ': ' if where else ''}{first.get('msg', 'malformed JSON')}"
    return JSONResponse(error_body(request.state.log_id, 422, msg), status_code=422)


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    # 404, 405, ...: PaddleX's error body, not FastAPI's {"detail": ...}
    message = {404: f"no such endpoint: {request.url.path}",
               405: f"{request.method} is not allowed on {request.url.path}"}.get(exc.status_code, str(exc.detail))
    return JSONResponse(error_body(request.state.log_id, exc.status_code, message), status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


async def client_error(request: Request, exc: ClientError) -> JSONResponse:
    return JSONResponse(error_body(request.state.log_id, exc.status, exc.message), status_code=exc.status,
                        headers=exc.headers)
