"""``run_server``: a model served the way ``imgcls-onnx serve`` serves it, for the CLI and library users alike.

The process policy, in the order it is applied:
1. glibc's malloc arenas limited (``--malloc-arenas``, 2 by default), first, before numpy and onnxruntime
   load and start their threads: every thread then shares the few arenas and RSS stays flat after load (set after
   the imports, the limit did not hold RSS flat: docs/serving.md). This module therefore imports nothing heavy
   at its top; ``run_server`` imports the app, uvicorn and the runtime after the limit is set.
2. The model loaded for a server (``load_for_serving``, an ``OnnxModel``): one batch at a time with every intra-op
   thread, the CPU arena shrunk after each run (batch sizes vary under load), and on CPU a second, spinning session
   for lone requests when ``latency_session_wanted`` says so.
3. ``create_app`` over it, run on uvicorn with the draining SIGTERM (``serving.uvicorn_server``).

docs/serving.md has the measurements behind each step.
"""
from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Callable, Union

from ..runtime.cpu import usable_cores
from ..runtime.errors import MissingExtraError
from ..runtime.session import SessionOptions, limit_malloc_arenas
from .state import DEFAULT_SETTINGS, PROCESS_DEFAULTS, ServeSettings

if TYPE_CHECKING:  # annotation only: loads numpy
    from ..runtime.model import OnnxModel

log = logging.getLogger("imgcls_onnx.serve")

# the second, spinning session for lone requests holds another copy of the weights: by default only for models up
# to this size (the RSS it adds, measured on a small and a large model: docs/serving.md)
LATENCY_SESSION_AUTO_MAX_MB = 64

BundleDir = Union[str, os.PathLike]


def latency_session_wanted(choice: str, onnx_bytes: int) -> bool:
    """``choice`` is auto, on or off; auto adds the latency session for models up to LATENCY_SESSION_AUTO_MAX_MB."""
    return choice == "on" or (choice == "auto" and onnx_bytes <= LATENCY_SESSION_AUTO_MAX_MB * 2**20)


def arenas_in_force(malloc_arenas: int, limit: Callable[[int], bool]) -> int | None:
    """Ask ``limit`` (``limit_malloc_arenas``) for at most ``malloc_arenas`` arenas, unless 0 (glibc's default); the
    limit now in force, None when there is none (0 asked, or not glibc)."""
    return malloc_arenas if malloc_arenas and limit(malloc_arenas) else None


def run_server(model: BundleDir | Callable[[], BundleDir], settings: ServeSettings = DEFAULT_SETTINGS, *,
               host: str = PROCESS_DEFAULTS.host, port: int = PROCESS_DEFAULTS.port, device: str = "auto",
               threads: int | None = None, malloc_arenas: int = PROCESS_DEFAULTS.malloc_arenas,
               latency_session: str = PROCESS_DEFAULTS.latency_session,
               log_level: str = PROCESS_DEFAULTS.log_level) -> None:
    """Serve a bundle until SIGINT / SIGTERM, with ``imgcls-onnx serve``'s defaults. ``model``: a bundle folder, or
    a callable returning one, called once the arenas are limited (``serve`` passes one that resolves --model, which
    may download and convert). Raises ImgclsError (MissingExtraError without the serve extra) before serving."""
    arenas = arenas_in_force(malloc_arenas, limit_malloc_arenas)  # first: see the module docstring
    try:  # the serve extra is optional
        from .app import create_app  # noqa: PLC0415 - optional extra, and after the arena limit
        from .uvicorn_server import serve_app  # noqa: PLC0415 - optional extra, and after the arena limit
    except ImportError as e:
        raise MissingExtraError(e.name or "fastapi", "serve", "serving") from None
    logging.basicConfig(level=log_level.upper(), format="%(message)s")
    loaded = load_for_serving(model() if callable(model) else model, device, threads, latency_session)
    app = create_app(loaded, settings)
    log.info("serving %s on http://%s:%s (%s)", loaded.bundle.name, host, port, loaded.device)
    serve_app(app, host=host, port=port, log_level=log_level, malloc_arenas=arenas)


def load_for_serving(bundle_dir: BundleDir, device: str = "auto", threads: int | None = None,
                     latency_session: str = PROCESS_DEFAULTS.latency_session) -> "OnnxModel":
    """The bundle's OnnxModel set up for a server (step 2 of the module docstring), after the bundle's load-time
    warnings (random weights, int8 that may saturate on this CPU) as a Classifier gives them."""
    from ..runtime.bundle import load_bundle  # noqa: PLC0415 - after the arena limit
    from ..runtime.classifier import warn_about_bundle  # noqa: PLC0415 - after the arena limit
    from ..runtime.model import OnnxModel  # noqa: PLC0415 - after the arena limit

    if threads is not None and int(threads) < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    bundle = load_bundle(bundle_dir)
    warn_about_bundle(bundle)
    # the server's batcher runs one batch at a time: give it every intra-op thread
    model = OnnxModel(bundle, device, SessionOptions(intra_op_num_threads=int(threads) if threads else usable_cores()))
    # batch sizes vary under load: without shrinking, onnxruntime's arena keeps the largest batch's memory
    model.release_memory_after_runs()
    if latency_session_wanted(latency_session, bundle.onnx_path.stat().st_size):
        model.add_latency_session()  # a lone request's run on threads that spin within it (docs/serving.md)
    return model
