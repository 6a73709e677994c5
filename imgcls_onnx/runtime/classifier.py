"""Classifier: load a bundle once, then stream predictions.

``predict(inputs, batch_size, topk)`` yields exactly one Prediction per input, in input order, with a bounded number
of batches in flight (memory stays flat on endless streams). OpenCV, Pillow and onnxruntime release the GIL, so
threads give real parallelism. Two schedules:

* parallel batches (the CPU default with 2+ threads): ``threads`` workers each take a whole batch (decode,
  preprocess into a reused buffer, run the model on one core, top-k). No core waits for another and onnxruntime's
  intra-op threads never compete with the decoders: on 2 cores the faster schedule end to end on the small models
  (docs/usage.md, scripts/bench).
* one batch at a time (GPU, ``threads=1``, or ``parallel_batches=1``): a decode pool prepares the next batches while
  the model runs the current one with all intra-op threads (lowest latency for a single batch).

A bad input yields a Prediction with ``error`` set; it never stops the others.
"""
from __future__ import annotations

import os
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from .bundle import Bundle, load_bundle
from .cpu import CpuFeatures, cpu_features, int8_may_saturate, usable_cores
from .defaults import BATCH_SIZE
from .errors import ImageLoadError, ImgclsError, PreprocessError, warn
from .images import DEFAULT_LIMITS, ImageLimits, load_image
from .inputs import InputItem, iter_inputs
from .model import OnnxModel
from .onnx_graph import inspect_onnx
from .providers import DeviceRequest
from .results import Prediction
from .session import SessionOptions

MAX_DEFAULT_PARALLEL_BATCHES = 4


@dataclass
class _Prepared:
    item: InputItem
    staged: np.ndarray | None = None  # PreprocessSpec.stage() output, or the uint8 HWC image for fused bundles
    image: np.ndarray | None = None
    error: ImgclsError | None = None


_WARNED_RANDOM: set = set()  # bundles already warned about (random weights, int8 graphs on this CPU)


def warn_about_bundle(bundle: Bundle) -> None:
    """What a bundle's user is told when it is loaded to run (Classifier, ``serve``): random weights, an int8 graph
    that may saturate on this CPU. Each once per bundle and process."""
    _warn_if_random(bundle)
    _warn_if_int8_may_saturate(bundle)


def _warn_if_random(bundle: Bundle) -> None:
    """Once per bundle and process, an ImgclsWarning (shown on stderr: stdout stays pure results)."""
    if bundle.weights != "random":
        return
    key = str(Path(bundle.directory).resolve())
    if key in _WARNED_RANDOM:
        return
    _WARNED_RANDOM.add(key)
    warn(f"model {bundle.name!r} ({bundle.directory}) has RANDOM weights (made with `convert --random-init` for tests "
         "and benchmarks): its predictions mean nothing")


def _warn_if_int8_may_saturate(bundle: Bundle, features: CpuFeatures | None = None) -> bool:
    """Once per model file and process, an ImgclsWarning: a graph whose integer kernels multiply uint8 activations by int8
    weights that use 8 bits, on an x86-64 CPU without VNNI/AMX, where onnxruntime's u8s8 kernels can saturate
    (runtime/cpu.py, runtime/onnx_graph.py). Any graph, whoever made it: an int8 bundle whose manifest says 8-bit
    weights (made by an older converter) is known without reading it; a bundle the converter made with 7-bit weights
    is trusted; every other graph is read (cheap: the weights of its integer kernels only, and only on such a CPU)."""
    features = features or cpu_features()
    if not int8_may_saturate(features, weights_reduced_range=False):
        return False  # VNNI/AMX, ARM: the integer results are exact
    variant = bundle.info.variant
    converted_int8 = variant.get("precision") == "int8"
    reduced = bool((variant.get("quantisation") or {}).get("weights_reduced_range"))
    if converted_int8 and reduced:
        return False
    wide: tuple[str, ...] = ()
    if not converted_int8:
        try:
            wide = inspect_onnx(bundle.onnx_path).u8s8_8bit
        except ImgclsError:
            return False  # loading the model says what is wrong with it
        if not wide:
            return False
    key = ("int8", str(Path(bundle.onnx_path).resolve()))
    if key in _WARNED_RANDOM:
        return True
    _WARNED_RANDOM.add(key)
    cpu = f"{features.machine} without VNNI/AMX"
    if converted_int8:
        measured_on = (variant.get("measured_on") or {}).get("flags")
        message = (
            f"model {bundle.name!r} is an int8 bundle with 8-bit weights; on this CPU ({cpu}) "
            "onnxruntime's integer kernels can saturate, so its results may differ from a VNNI machine's and its "
            f"accuracy may be below the vs_float32 figure in its manifest (measured on "
            f"{', '.join(measured_on) if measured_on else 'another CPU'}). Convert it again with this imgcls-onnx "
            "(7-bit weights give the same result on every CPU).")
    else:
        shown = ", ".join(wide[:3]) + (f" and {len(wide) - 3} more" if len(wide) > 3 else "")
        message = (
            f"{bundle.onnx_path} is an int8 graph whose integer kernels take uint8 activations and int8 "
            f"weights that use 8 bits ({shown}); on this CPU ({cpu}) onnxruntime's u8s8 kernels can saturate, so "
            "its results may differ from a VNNI machine's. For int8 that gives the same results on every CPU, "
            "quantise the float model again with imgcls-onnx (7-bit weights), e.g. imgcls-onnx convert --onnx "
            "FLOAT.onnx --yml inference.yml --precision int8 --calibration-images DIR")
    warn(message)
    return True


def _from_model(name: str) -> property:
    """A read-only attribute of the Classifier that is the model's (``clf.labels`` is ``clf.model.labels``)."""
    return property(lambda self: getattr(self.model, name), doc=f"The model's ``{name}`` (OnnxModel.{name}).")


def _thread_plan(threads: int | None, parallel_batches: int | None,
                 session_options: SessionOptions | None) -> tuple[int, SessionOptions]:
    """(batches run at once, the session options): ``threads`` in all, split over the parallel batches."""
    if threads is not None and int(threads) < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    if parallel_batches is not None and int(parallel_batches) < 1:
        raise ValueError(f"parallel_batches must be >= 1, got {parallel_batches}")
    total = int(threads) if threads else usable_cores()
    if parallel_batches is None:
        # every batch in flight holds its own activations: past a few streams, give the cores to intra-op threads
        parallel_batches = min(total, MAX_DEFAULT_PARALLEL_BATCHES) if session_options is None else 1
    parallel_batches = max(1, min(int(parallel_batches), total))
    options = session_options or SessionOptions(intra_op_num_threads=max(1, total // parallel_batches))
    return parallel_batches, options


class Classifier:
    """An image classifier over one model bundle (``inference.onnx`` + ``inference.yml`` [+ ``manifest.json``])."""

    def __init__(
        self,
        bundle: Bundle,
        device: "str | DeviceRequest | None" = "auto",
        threads: int | None = None,
        batch_size: int = BATCH_SIZE,
        topk: int | None = None,
        limits: ImageLimits = DEFAULT_LIMITS,
        workers: int | None = None,
        session_options: SessionOptions | None = None,
        parallel_batches: int | None = None,
        fast_decode: bool = False,
        model: OnnxModel | None = None,
    ):
        """``threads``: CPU threads in all (default: the cores this process may use). ``parallel_batches``: batches
        run at once on the CPU, each on ``threads // parallel_batches`` onnxruntime threads (default: ``threads`` up
        to 4, i.e. one core per batch on small machines, best throughput; 1 gives one batch all threads, lowest
        single-batch latency).
        ``workers``: decode threads when batches run one at a time. ``fast_decode`` (opt-in, NOT PaddleX-exact):
        decode large JPEGs at 1/2, 1/4 or 1/8 scale in the DCT domain, never below the first resize's short side.
        ``model``: an OnnxModel already built over ``bundle`` (e.g. with a fake session); ``device`` and the thread
        split then do not make one."""
        self.bundle = bundle
        warn_about_bundle(bundle)
        self.limits = limits
        self.fast_decode = bool(fast_decode)
        self._min_side = bundle.config.preprocess.decode_min_side if fast_decode else None
        self.batch_size = int(batch_size)
        parallel_batches, options = _thread_plan(threads, parallel_batches, session_options)
        self.model = model or OnnxModel(bundle, device, options)
        self.topk = int(topk) if topk else self.model.topk
        # a GPU session runs one batch at a time; the decode pool keeps it fed
        self.parallel_batches = parallel_batches if self.model.device == "cpu" else 1
        self.workers = int(workers) if workers else max(1, min(4, usable_cores()))
        self._pool: ThreadPoolExecutor | None = None
        self._batch_pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._buffers = threading.local()  # one reusable input buffer per thread that assembles batches

    # construction helpers -------------------------------------------------------------------------------------
    @classmethod
    def from_dir(cls, directory: "str | os.PathLike[str]", verify_checksum: bool = True, **kwargs: Any) -> "Classifier":
        return cls(load_bundle(directory, verify_checksum=verify_checksum), **kwargs)

    # public read-only views of the model, kept for existing callers (the model is ``self.model``)
    device = _from_model("device")  # "cpu" | "gpu"
    labels = _from_model("labels")
    config = _from_model("config")
    preprocess = _from_model("preprocess")
    num_classes = _from_model("num_classes")
    applies_softmax = _from_model("applies_softmax")

    def close(self) -> None:
        with self._pool_lock:
            for pool in (self._pool, self._batch_pool):
                if pool is not None:
                    pool.shutdown(wait=True)
            self._pool = self._batch_pool = None

    def __enter__(self) -> "Classifier":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # core -----------------------------------------------------------------------------------------------------
    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="imgcls-decode")
            return self._pool

    def _batch_executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._batch_pool is None:
                self._batch_pool = ThreadPoolExecutor(max_workers=self.parallel_batches, thread_name_prefix="imgcls-batch")
            return self._batch_pool

    def _prepare(self, item: InputItem, keep_image: bool) -> _Prepared:
        if item.error is not None:
            return _Prepared(item, error=item.error)
        try:
            # not kept: the decoder's own buffer, read in place by the preprocessing kernel (no copy)
            image = load_image(item.source, self.limits, name=item.label, min_side=self._min_side,
                               contiguous=keep_image, kernel=self.model.kernel)
            try:
                staged = self.model.stage(image)
            except PreprocessError as e:
                raise PreprocessError(f"cannot preprocess {item.label}: {e}") from e
            return _Prepared(item, staged=staged, image=image if keep_image else None)
        except ImgclsError as e:
            return _Prepared(item, error=e)
        except MemoryError:
            return _Prepared(item, error=ImageLoadError(item.label, "out of memory while decoding"))
        except Exception as e:  # a decoder bug must not take the other inputs down
            return _Prepared(item, error=ImageLoadError(item.label, f"unexpected {type(e).__name__}: {e}"))

    def _assemble(self, staged: Sequence[np.ndarray]) -> np.ndarray:
        """One model input batch from same-shape staged images, in this thread's reused buffer."""
        model = self.model
        shape = (len(staged), *model.input_shape(staged[0]))
        buf = getattr(self._buffers, "batch", None)
        if buf is None or buf.shape != shape or buf.dtype != model.input_dtype:
            buf = np.empty(shape, dtype=model.input_dtype)
            self._buffers.batch = buf
        for row, s in zip(buf, staged):
            model.fill(s, row)
        return buf

    def _finish(self, prepared: Sequence[_Prepared], k: int) -> list[Prediction]:
        good = [p for p in prepared if p.staged is not None]
        probs_by_index: dict[int, np.ndarray] = {}
        # group by shape: models without a crop give different sizes, which cannot share a batch
        groups: dict[tuple[int, ...], list[_Prepared]] = {}
        for p in good:
            groups.setdefault(self.model.input_shape(p.staged), []).append(p)
        for group in groups.values():
            probs = self.model.run(self._assemble([p.staged for p in group]))
            for p, row in zip(group, probs):
                probs_by_index[p.item.index] = row
        results = []
        for p in prepared:
            if p.error is not None:
                results.append(Prediction.failed(p.item.input_path, p.error, index=p.item.index))
            else:
                results.append(self.model.prediction(probs_by_index[p.item.index], k, index=p.item.index,
                                                     input_path=p.item.input_path, input_img=p.image))
        return results

    def predict(
        self,
        inputs: Any,
        batch_size: int | None = None,
        topk: int | None = None,
        keep_images: bool = False,
        prefetch_batches: int = 2,
    ) -> Iterator[Prediction]:
        """Yield one Prediction per input, in input order, streaming (inputs are read lazily)."""
        bs = int(batch_size or self.batch_size)
        if bs < 1:
            raise ValueError(f"batch_size must be >= 1, got {bs}")
        k = self.model.clamp_topk(topk or self.topk)
        items = iter_inputs(inputs)
        # one streaming loop for both schedules; they differ in what a batch in flight is and how it is finished
        if self.parallel_batches > 1:  # a whole batch (decode ... top-k) per worker
            pool = self._batch_executor()
            ahead = self.parallel_batches + max(0, prefetch_batches - 1)
            start = lambda chunk: [pool.submit(self._run_chunk, chunk, k, keep_images)]  # noqa: E731
            finish = lambda futures: futures[0].result()  # noqa: E731
        else:  # items decoded in the pool, the model run here
            pool = self._executor()
            ahead = prefetch_batches
            start = lambda chunk: [pool.submit(self._prepare, it, keep_images) for it in chunk]  # noqa: E731
            finish = lambda futures: self._finish([f.result() for f in futures], k)  # noqa: E731
        pending: deque[list[Future]] = deque()
        try:
            while True:
                chunk = list(islice(items, bs))
                if chunk:
                    pending.append(start(chunk))
                if pending and (len(pending) > ahead or not chunk):
                    yield from finish(pending.popleft())
                if not chunk and not pending:
                    return
        finally:
            for futures in pending:
                for f in futures:
                    f.cancel()

    def _run_chunk(self, chunk: Sequence[InputItem], k: int, keep_images: bool) -> list[Prediction]:
        return self._finish([self._prepare(it, keep_images) for it in chunk], k)

    def predict_one(self, source: Any, topk: int | None = None) -> Prediction:
        return next(iter(self.predict([source], batch_size=1, topk=topk)))
