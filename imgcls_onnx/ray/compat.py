"""Ray itself: the import (an optional dependency, the ``ray`` extra) and two workarounds for Ray Data's behaviour
(a failing import it retries per path, its INFO log lines)."""
from __future__ import annotations

import importlib
import logging
import sys
from types import ModuleType

from ..runtime.errors import MissingExtraError

HTTP_FS_MODULE = "fsspec.implementations.http"


def ray_module() -> ModuleType:
    """The ``ray`` package (the real one: this package's name is ``imgcls_onnx.ray``, and imports are absolute), or
    MissingExtraError."""
    try:
        import ray  # noqa: PLC0415 - optional dependency (the ray extra)
    except ImportError as e:
        raise MissingExtraError("ray", "ray", "--engine ray") from e
    return ray


def remember_failed_http_import() -> None:
    """Ray Data asks, for every path it resolves, whether the filesystem is fsspec's HTTP one, by importing
    ``fsspec.implementations.http``. With fsspec installed and aiohttp not (``ray[data]`` brings the first, not the
    second) that import fails, and Python runs the module again on each attempt: about half a millisecond per path
    in the driver (reports/ray.md). Record the failure once, as Python records a missing module: later imports
    raise ModuleNotFoundError at once, which Ray catches as before."""
    if HTTP_FS_MODULE in sys.modules:
        return
    try:
        importlib.import_module(HTTP_FS_MODULE)
    except ImportError:
        sys.modules[HTTP_FS_MODULE] = None  # type: ignore[assignment]


def quiet_ray_data() -> None:
    """For the CLI: Ray Data's INFO log lines off (execution plans, and without a terminal a progress report every
    few seconds, where a terminal gets progress bars). Errors and warnings stay."""
    # optional dependency; Ray Data configures its loggers on import, so the level is set after
    import ray.data  # noqa: F401, PLC0415
    logging.getLogger("ray.data").setLevel(logging.WARNING)
