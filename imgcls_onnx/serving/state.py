"""What a served app holds: the settings it was given (``ServeSettings``) and, once built, everything its handlers
read (``ServingState``). Standard library only: ``serving.server`` imports this before it limits glibc's malloc
arenas, which must happen before numpy, OpenCV and onnxruntime load."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # annotations only: these load numpy
    from ..runtime.images import ImageLimits
    from .batcher import DynamicBatcher
    from .metrics import Metrics


@dataclass(frozen=True)
class ServeSettings:
    max_batch_size: Optional[int] = None  # None: default_batching(device)
    max_wait_ms: Optional[float] = None  # None: default_batching(device)
    max_queue: int = 256
    max_body_mb: float = 20.0
    allow_url_fetch: bool = False
    url_timeout_s: float = 10.0
    decode_workers: int = 4


DEFAULT_SETTINGS = ServeSettings()


def default_batching(device: str) -> tuple[int, float]:
    """(max batch size, max wait ms) that ``serve`` uses unless told: small batches and no waiting on CPU, where a
    batch saves little (PP-LCNet_x1_0 on 2 threads: 4.2, 3.9, 3.6, 3.8 and 4.0 ms per image at batch 1, 2, 4, 8
    and 16) and a large one makes every request behind it wait (16 and 32 clients: 4 -> about 230 req/s and p99
    86 / 158 ms, 16 -> 181-192 req/s and p99 124 / 193 ms; waiting to fill a batch of 4 cost a sixth of the
    throughput at 4 clients; docs/serving.md); 16 with a 5 ms top-up on a GPU, where a batch is nearly free."""
    return (4, 0.0) if device == "cpu" else (16, 5.0)


@dataclass(frozen=True)
class ServingState:
    """Everything the request handlers read; ``create_app`` builds one per app (``app.state.serving``).

    ``settings`` has its batching resolved (no None); ``server_stack`` is filled by whoever runs the app
    (``serving.server.run_server``: the HTTP parser and malloc arenas) and reported by /health."""

    classifier: Any  # a runtime Classifier: device, topk, bundle and its model (an OnnxModel)
    settings: ServeSettings
    metrics: "Metrics"
    batcher: "DynamicBatcher"
    decode_pool: ThreadPoolExecutor
    limits: "ImageLimits"
    server_stack: dict = field(default_factory=dict)

    @property
    def model(self) -> Any:
        """The classifier's OnnxModel: what the handlers and the batcher run (preprocess, run, top-k, labels)."""
        return self.classifier.model
