"""PaddleX's image-classification service API on FastAPI, with dynamic batching and client errors as 4xx.

POST /image-classification  {"image": "<base64>" | "<URL>", "topk": int|null, "visualize": bool|null}
  200 {"logId", "errorCode": 0, "errorMsg": "Success", "result": {"categories": [{"id", "name", "score"}], "image"}}
  4xx/5xx {"logId", "errorCode": <HTTP status>, "errorMsg"}
GET /health, GET /metrics (Prometheus text), GET /openapi.json, /docs

``create_app(model)`` builds the app's ``ServingState`` over an ``OnnxModel`` and wires the handlers
(``serving.handlers``), the middleware (``serving.guard``) and the lifespan; ``serving.server.run_server`` loads the
model and runs the app as ``imgcls-onnx serve`` does.
"""

import gc
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import replace

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..runtime.images import ImageLimits
from ..runtime.model import OnnxModel
from ..runtime.session import trim_heap
from . import handlers
from .batcher import DynamicBatcher
from .guard import RequestGuard
from .metrics import Metrics
from .state import DEFAULT_SETTINGS, ServeSettings, ServingState, default_batching


def create_app(model: OnnxModel, settings: ServeSettings = DEFAULT_SETTINGS) -> FastAPI:
    """The app serving ``model`` (an OnnxModel; ``serving.server.load_for_serving`` loads one as ``serve`` does)."""
    state = build_state(model, settings)
    app = FastAPI(title="imgcls-onnx", version="1", lifespan=lifespan,
                  description="PaddleX-compatible image classification on onnxruntime")
    app.state.serving = state
    app.add_middleware(RequestGuard, settings=state.settings, metrics=state.metrics)
    app.add_exception_handler(RequestValidationError, handlers.validation_error)
    app.add_exception_handler(StarletteHTTPException, handlers.http_error)
    app.add_exception_handler(handlers.ClientError, handlers.client_error)
    app.post("/image-classification", response_model=handlers.InferResponse)(handlers.classify)
    app.get("/health")(handlers.health)
    app.get("/metrics", response_class=PlainTextResponse)(handlers.prometheus)
    return app


def build_state(model: OnnxModel, settings: ServeSettings) -> ServingState:
    """The state one app serves from: ``settings`` with the device's batching defaults filled in, a fresh metrics
    registry, the batcher (started by the lifespan) and the decode pool."""
    batch_default, wait_default = default_batching(model.device)
    settings = replace(settings, max_batch_size=settings.max_batch_size or batch_default,
                       max_wait_ms=wait_default if settings.max_wait_ms is None else settings.max_wait_ms)
    metrics = Metrics()
    batcher = DynamicBatcher(model.run, settings.max_batch_size, settings.max_wait_ms,
                             settings.max_queue, metrics, on_idle=trim_heap)
    decode_pool = ThreadPoolExecutor(max_workers=settings.decode_workers, thread_name_prefix="imgcls-decode")
    return ServingState(model=model, settings=settings, metrics=metrics, batcher=batcher, decode_pool=decode_pool,
                        limits=ImageLimits(max_bytes=settings.max_body_bytes))


@asynccontextmanager
async def lifespan(app: FastAPI):
    state: ServingState = app.state.serving
    state.batcher.start()
    # everything loaded so far (FastAPI, pydantic, numpy, onnxruntime, the model) lives as long as the server:
    # move it out of the cyclic collector's view, so a full collection under load scans only request garbage
    # (a lower p99 at 32 clients: reports/serving_runs.md; reproduce with scripts/loadtest)
    gc.collect()
    gc.freeze()
    yield
    await state.batcher.close()  # SIGTERM: uvicorn stops accepting, in-flight requests finish, then this drains
    state.decode_pool.shutdown(wait=True)
