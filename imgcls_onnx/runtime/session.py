"""The only module that imports onnxruntime (lazily, on first use)."""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from .errors import MissingExtraError, ModelLoadError, ProviderError
from .providers import CUDA, GPU_FIX, Device, DeviceRequest, providers_for

log = logging.getLogger("imgcls_onnx")


def import_onnxruntime():
    try:
        import onnxruntime  # noqa: PLC0415 - optional until a model runs: the cpu or gpu extra brings it
    except ImportError as e:
        raise MissingExtraError("onnxruntime", "cpu", "running a model") from e
    # onnxruntime's own logger prints provider load failures (e.g. "libcublasLt.so.13: cannot open shared object")
    # in colour before any session option applies; errors only: we report an unusable device ourselves, once
    onnxruntime.set_default_logger_severity(3)
    return onnxruntime


@dataclass(frozen=True)
class SessionOptions:
    """Session settings chosen on purpose: full graph optimisation, sequential execution (one batch at a time,
    intra-op threads do the work), memory arena on (batches of one shape reuse their buffers)."""

    intra_op_num_threads: int | None = None  # None: onnxruntime's default (one per physical core)
    inter_op_num_threads: int = 1
    graph_optimization: str = "all"  # "disable" | "basic" | "extended" | "all"
    enable_cpu_mem_arena: bool = True
    # onnxruntime's worker threads busy-wait after each op by default; that steals the cores our decode threads need
    # (decode overlaps inference), so spinning is off unless asked for
    allow_spinning: bool = False
    # with allow_spinning: the workers spin only while a run is in progress and stop when it returns
    # (onnxruntime's session.force_spinning_stop), so nothing spins between runs
    stop_spinning_after_run: bool = False


def create_session(onnx_path: "Path | bytes", request: DeviceRequest, options: SessionOptions = SessionOptions()):
    """Create an InferenceSession and make sure it runs where it was asked to. ``onnx_path``: a file, or a
    serialised model in memory (the converter's checks)."""
    ort = import_onnxruntime()
    so = ort.SessionOptions()
    so.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[options.graph_optimization]
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if options.intra_op_num_threads:
        so.intra_op_num_threads = int(options.intra_op_num_threads)
    so.inter_op_num_threads = int(options.inter_op_num_threads)
    so.enable_cpu_mem_arena = options.enable_cpu_mem_arena
    if not options.allow_spinning:
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    else:
        so.add_session_config_entry("session.intra_op.allow_spinning", "1")  # onnxruntime's default, said outright
        if options.stop_spinning_after_run:
            so.add_session_config_entry("session.force_spinning_stop", "1")
    so.log_severity_level = 3  # errors only; CUDA load failures are reported by us below
    available = list(ort.get_available_providers())
    providers = providers_for(request, available)
    try:
        in_memory = isinstance(onnx_path, bytes)
        session = ort.InferenceSession(onnx_path if in_memory else os.fspath(onnx_path), sess_options=so,
                                       providers=providers)
    except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph/... types
        raise ModelLoadError(
            f"onnxruntime cannot load {'a model in memory' if isinstance(onnx_path, bytes) else repr(str(onnx_path))}: {str(e).strip().splitlines()[0] if str(e).strip() else e}"
        ) from e
    got = session.get_providers()
    wanted_cuda = any((p[0] if isinstance(p, tuple) else p) == CUDA for p in providers)
    if wanted_cuda and CUDA not in got:
        if request.kind is Device.CUDA:
            raise ProviderError(
                f"device {request} was requested and onnxruntime lists CUDA, but the session fell back to "
                f"{', '.join(got)} (no GPU visible, or CUDA/cuDNN libraries missing); {GPU_FIX}"
            )
        warnings.warn(
            f"device=auto: onnxruntime-gpu is installed but CUDA could not be used, running on the CPU ({GPU_FIX})",
            RuntimeWarning,
            stacklevel=3,
        )
    return session


def session_device(session) -> str:
    return "gpu" if session.get_providers()[0] == CUDA else "cpu"


def arena_shrinking_run_options(session):
    """RunOptions that shrink the CPU memory arena after each run (None when the session has no CPU arena)."""
    ort = import_onnxruntime()
    if "CPUExecutionProvider" not in session.get_providers():
        return None
    ro = ort.RunOptions()
    ro.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return ro


_LIBC = None


def _libc():
    global _LIBC
    if not sys.platform.startswith("linux"):
        return None
    try:
        if _LIBC is None:
            _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return _LIBC
    except OSError:
        return None


M_ARENA_MAX = -8  # glibc's mallopt parameter number


def limit_malloc_arenas(n: int) -> bool:
    """glibc only: at most ``n`` malloc arenas (as MALLOC_ARENA_MAX=n does), for a server's threads that start from
    now on. By default glibc gives threads up to 8 x cores arenas, and each keeps fragmented freed request memory that
    malloc_trim does not return, so a server's RSS grows under load; 2 arenas keep it flat (docs/serving.md). True
    when set."""
    libc = _libc()
    try:
        return bool(libc is not None and n > 0 and libc.mallopt(M_ARENA_MAX, int(n)) == 1)
    except AttributeError:
        return False


def trim_heap() -> bool:
    """glibc only: give free heap memory back to the OS (malloc_trim). Cheap when little is free; servers call it
    when they fall idle, so RSS returns to its idle level after a burst of large requests."""
    libc = _libc()
    try:
        return bool(libc is not None and libc.malloc_trim(0))
    except AttributeError:
        return False
