"""``run_server``: a model served the way ``imgcls-onnx serve`` serves it, for the CLI and library users alike.

The process policy, in the order it is applied:
1. glibc's malloc arenas limited (``--malloc-arenas``, 2 by default), first, before numpy, OpenCV and onnxruntime
   load and start their threads: every thread then shares the few arenas and RSS stays flat after load (set after
   the imports, the limit left RSS at 1.27x fresh in one of two runs). This module therefore imports nothing heavy
   at its top; ``run_server`` imports the app, uvicorn and the runtime after the limit is set.
2. The model loaded for a server: one batch at a time with every intra-op thread, the CPU arena shrunk after each
   run (batch sizes vary under load), and on CPU a second, spinning session for lone requests when
   ``latency_session_wanted`` says so.
3. ``create_app`` over it, run on uvicorn with the draining SIGTERM (``serving.uvicorn_server``).

docs/serving.md has the measurements behind each step.
"""
from __future__ import annotations

import logging
import os
import sys
from typing import Callable, Union

from ..runtime.errors import MissingExtraError
from ..runtime.session import limit_malloc_arenas
from .state import DEFAULT_SETTINGS, ServeSettings

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
               host: str = "127.0.0.1", port: int = 8080, device: str = "auto", threads: int | None = None,
               malloc_arenas: int = 2, latency_session: str = "auto", log_level: str = "info") -> None:
    """Serve a bundle until SIGINT / SIGTERM, with ``imgcls-onnx serve``'s defaults. ``model``: a bundle folder, or
    a callable returning one, called once the arenas are limited (``serve`` passes one that resolves --model, which
    may download and convert). Raises ImgclsError (MissingExtraError without the serve extra) before serving."""
    arenas = arenas_in_force(malloc_arenas, limit_malloc_arenas)  # first: see the module docstring
    try:  # the serve extra is optional
        from .app import create_app
        from .uvicorn_server import serve_app
    except ImportError as e:
        raise MissingExtraError(e.name or "fastapi", "serve", "serving") from None
    logging.basicConfig(level=log_level.upper(), format="%(message)s")
    classifier = load_for_serving(model() if callable(model) else model, device, threads, latency_session)
    app = create_app(classifier, settings)
    print(f"serving {classifier.bundle.name} on http://{host}:{port} ({classifier.device})", file=sys.stderr,
          flush=True)
    serve_app(app, host=host, port=port, log_level=log_level, malloc_arenas=arenas)


def load_for_serving(bundle_dir: BundleDir, device: str = "auto", threads: int | None = None,
                     latency_session: str = "auto"):
    """A Classifier set up for a server (step 2 of the module docstring)."""
    from ..runtime.classifier import Classifier  # after the arena limit (numpy, onnxruntime)

    # the server's batcher runs one batch at a time: give it every intra-op thread
    classifier = Classifier.from_dir(bundle_dir, device=device, threads=threads, parallel_batches=1)
    # batch sizes vary under load: without shrinking, onnxruntime's arena keeps the largest batch's memory
    classifier.release_memory_after_runs()
    if latency_session_wanted(latency_session, classifier.bundle.onnx_path.stat().st_size):
        classifier.add_latency_session()  # a lone request's run on threads that spin within it (docs/serving.md)
    return classifier
