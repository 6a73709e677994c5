"""Dynamic batching that never costs latency.

A request runs at once when the model is free: there is no batch window to wait out. Batches form from the requests
that arrived while the model was busy (they are all taken together, up to ``max_batch_size``). Only when the queue is
at least half full, i.e. under heavy load, may a batch be topped up towards ``max_batch_size`` for at most
``max_wait_ms``: with few clients nobody else is coming, and waiting would only add latency.

Requests arrive already decoded and preprocessed (that work runs in a thread pool, off the event loop). The queue
is bounded: a full queue is refused at once (the HTTP layer answers 503 with Retry-After) instead of growing.
Inference runs in a dedicated thread so the event loop keeps accepting and answering requests meanwhile.
"""
from __future__ import annotations

import asyncio
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .errors import QueueFull
from .metrics import Metrics


@dataclass
class _Item:
    tensor_chw: np.ndarray
    future: asyncio.Future
    enqueued: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True)
class Formation:
    """How one batch was formed: its size, how many were already queued, whether it waited for more, and how long."""

    size: int
    queued: int
    waited: bool
    wait_s: float


class DynamicBatcher:
    def __init__(self, run_batch, max_batch_size: int = 16, max_wait_ms: float = 5.0, max_queue: int = 256,
                 metrics: Metrics | None = None, on_idle=None):
        self.run_batch = run_batch
        self.on_idle = on_idle
        self._idle_task: asyncio.Task | None = None
        self.max_batch_size = int(max_batch_size)
        self.max_wait_s = float(max_wait_ms) / 1000.0
        self.max_queue = int(max_queue)
        self.metrics = metrics or Metrics()
        self._queue: asyncio.Queue[_Item] | None = None
        self._task: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imgcls-infer")
        self._closing = False
        self._busy = 0  # batches and lone jobs handed to the model thread and not yet finished
        self._model_free: asyncio.Event | None = None  # set while no lone job holds the model thread
        self.formations: deque[Formation] = deque(maxlen=1024)  # the latest batch formations (tests, debugging)

    def start(self) -> None:
        self._queue = asyncio.Queue()
        self._model_free = asyncio.Event()
        self._model_free.set()
        self._task = asyncio.get_running_loop().create_task(self._loop())
        self._last_batch = time.perf_counter()
        self._trimmed = True
        if self.on_idle is not None:
            self._idle_task = asyncio.get_running_loop().create_task(self._idle_loop())

    async def _idle_loop(self, idle_s: float = 1.0) -> None:
        """Once the model has been idle for ``idle_s`` after some work, call ``on_idle`` (e.g. return freed memory
        to the OS) in the inference thread, so it never runs beside a batch."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(idle_s / 2)
            if not self._trimmed and self._queue.empty() and time.perf_counter() - self._last_batch >= idle_s:
                self._trimmed = True
                await loop.run_in_executor(self._executor, self.on_idle)

    @property
    def depth(self) -> int:
        return self._queue.qsize() if self._queue is not None else 0

    async def submit(self, tensor_chw: np.ndarray) -> np.ndarray:
        """Queue one preprocessed input; return its probability row. Raises QueueFull at once when full."""
        assert self._queue is not None, "batcher not started"
        if self._closing or self._queue.qsize() >= self.max_queue:
            raise QueueFull()
        fut = asyncio.get_running_loop().create_future()
        await self._queue.put(_Item(tensor_chw, fut))
        self.metrics.set_queue_depth(self._queue.qsize())
        return await fut

    async def run_alone(self, job):
        """The idle fast path: when the model thread is free and nothing is queued, run ``job()`` (decode, preprocess
        and the model on one image, returning ``(probability row, extra)``) there in one hop, instead of a hop to the
        decode pool and another to the model thread. Returns None when the model is busy or work is queued: the
        caller then takes the batched path. Requests that arrive meanwhile queue and form the next batch."""
        assert self._queue is not None, "batcher not started"
        if self._closing or self._busy or not self._queue.empty():
            return None
        self._busy += 1
        self._model_free.clear()
        try:
            result = await asyncio.get_running_loop().run_in_executor(self._executor, job)
        finally:
            self._busy -= 1
            self._model_free.set()
            self._last_batch = time.perf_counter()
            self._trimmed = False
        self.formations.append(Formation(1, 0, False, 0.0))
        self.metrics.observe_batch(1)
        return result

    async def _collect(self) -> list[_Item]:
        """The next batch, formed when the model is free: the first request never waits for company, and requests
        that arrive while a lone job (``run_alone``) holds the model thread join this batch instead of leaving a
        batch of one queued behind the job (a lower p99 at 4 clients: reports/serving_runs.md)."""
        first = await self._queue.get()
        await self._model_free.wait()
        items = [first]
        while len(items) < self.max_batch_size and not self._queue.empty():
            items.append(self._queue.get_nowait())  # what arrived while the model was busy
        queued = len(items) - 1
        waited = False
        started = time.perf_counter()
        if 2 * len(items) >= self.max_batch_size and self.max_wait_s > 0 and len(items) < self.max_batch_size:
            # heavy load (at least half a batch was already waiting): top up within the wait budget. A lighter queue
            # runs at once: with few clients nobody else is coming, and waiting would only add latency
            waited = True
            deadline = started + self.max_wait_s
            while len(items) < self.max_batch_size:
                timeout = deadline - time.perf_counter()
                if timeout <= 0:
                    break
                try:
                    items.append(await asyncio.wait_for(self._queue.get(), timeout))
                except asyncio.TimeoutError:
                    break
        self.formations.append(Formation(len(items), queued, waited, time.perf_counter() - started))
        return items

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = await self._collect()
            self.metrics.set_queue_depth(self._queue.qsize())
            live = [it for it in items if not it.future.cancelled()]
            if not live:
                continue
            # inputs of different shapes (models without a crop) are run in shape groups
            groups: dict[tuple, list[_Item]] = {}
            for it in live:
                groups.setdefault(it.tensor_chw.shape, []).append(it)
            for group in groups.values():
                batch = np.stack([it.tensor_chw for it in group])
                self.metrics.observe_batch(len(group))
                self._busy += 1
                try:
                    probs = await loop.run_in_executor(self._executor, self.run_batch, batch)
                except Exception as e:  # our fault: every request of the batch gets it
                    for it in group:
                        if not it.future.done():
                            it.future.set_exception(e)
                    continue
                finally:
                    self._busy -= 1
                for it, row in zip(group, probs):
                    if not it.future.done():
                        it.future.set_result(row)
            self._last_batch = time.perf_counter()
            self._trimmed = False

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Stop taking new work and wait until every queued request has its answer."""
        self._closing = True
        deadline = time.perf_counter() + timeout_s
        while self._queue is not None and self._queue.qsize() and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        await self.drain()
        if self._idle_task is not None:
            self._idle_task.cancel()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        self._executor.shutdown(wait=True)
