"""What a served app holds: the settings it was given (``ServeSettings``), how ``run_server`` runs the process
(``ProcessSettings``) and, once built, everything the handlers read (``ServingState``). The defaults of
``imgcls-onnx serve`` are these classes' field defaults; the command reads them from here.

Standard library only: ``serving.server`` imports this before it limits glibc's malloc arenas, which must happen
before numpy and onnxruntime load."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:  # annotations only: these load numpy
    from ..runtime.images import ImageLimits
    from ..runtime.model import OnnxModel
    from .batcher import DynamicBatcher
    from .metrics import Metrics


@dataclass(frozen=True)
class ServeSettings:
    """What one app serves with (``create_app``); ``serve``'s defaults."""

    max_batch_size: Optional[int] = None  # None: default_batching(device)
    max_wait_ms: Optional[float] = None  # None: default_batching(device)
    max_queue: int = 256
    max_body_mb: float = 20.0
    allow_url_fetch: bool = False
    url_timeout_s: float = 10.0
    decode_workers: int = 4

    @property
    def max_body_bytes(self) -> int:
        """The body cap in bytes: the middleware's 413 and the largest image a request may carry."""
        return int(self.max_body_mb * 1024 * 1024)


DEFAULT_SETTINGS = ServeSettings()


@dataclass(frozen=True)
class ProcessSettings:
    """How ``run_server`` runs the serving process; ``serve``'s defaults (``run_server``'s keyword defaults)."""

    host: str = "127.0.0.1"  # loopback
    port: int = 8080
    malloc_arenas: int = 2  # 0: glibc's default
    latency_session: str = "auto"  # auto | on | off
    log_level: str = "info"


PROCESS_DEFAULTS = ProcessSettings()


def default_batching(device: str) -> tuple[int, float]:
    """(max batch size, max wait ms) that ``serve`` uses unless told: small batches and no waiting on CPU, where a
    batch saves little and a large one makes every request behind it wait; 16 with a 5 ms top-up on a GPU, where a
    batch is nearly free (the measurements: docs/serving.md)."""
    return (4, 0.0) if device == "cpu" else (16, 5.0)


@dataclass(frozen=True)
class ServingState:
    """Everything the request handlers read; ``create_app`` builds one per app (``app.state.serving``).

    ``model`` is the OnnxModel served (device, top-k, labels, bundle; loaded for a server by
    ``serving.server.load_for_serving``); ``settings`` has its batching resolved (no None); ``server_stack`` is
    filled by whoever runs the app (``serving.server.run_server``: the HTTP parser and malloc arenas) and reported
    by /health."""

    model: "OnnxModel"
    settings: ServeSettings
    metrics: "Metrics"
    batcher: "DynamicBatcher"
    decode_pool: ThreadPoolExecutor
    limits: "ImageLimits"
    server_stack: dict = field(default_factory=dict)
