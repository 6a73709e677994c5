"""Dynamic batching: concurrent requests wait at most ``max_wait_ms`` to share one ``session.run``.

Requests arrive already decoded and preprocessed (that work runs in a thread pool, off the event loop). The queue
is bounded: a full queue is refused at once (the HTTP layer answers 503 with Retry-After) instead of growing.
Inference runs in a dedicated thread so the event loop keeps accepting and answering requests meanwhile.
"""
from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .metrics import Metrics


class QueueFull(Exception):
    pass


@dataclass
class _Item:
    tensor_chw: np.ndarray
    future: asyncio.Future
    enqueued: float = field(default_factory=time.perf_counter)


class DynamicBatcher:
    def __init__(self, run_batch, max_batch_size: int = 16, max_wait_ms: float = 5.0, max_queue: int = 256,
                 metrics: Metrics | None = None):
        self.run_batch = run_batch
        self.max_batch_size = int(max_batch_size)
        self.max_wait_s = float(max_wait_ms) / 1000.0
        self.max_queue = int(max_queue)
        self.metrics = metrics or Metrics()
        self._queue: asyncio.Queue[_Item] | None = None
        self._task: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imgcls-infer")
        self._closing = False

    def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._loop())

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
        self.metrics.queue_depth = self._queue.qsize()
        return await fut

    async def _collect(self) -> list[_Item]:
        first = await self._queue.get()
        items = [first]
        deadline = time.perf_counter() + self.max_wait_s
        while len(items) < self.max_batch_size:
            timeout = deadline - time.perf_counter()
            if timeout <= 0:
                break
            try:
                items.append(await asyncio.wait_for(self._queue.get(), timeout))
            except asyncio.TimeoutError:
                break
        return items

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = await self._collect()
            self.metrics.queue_depth = self._queue.qsize()
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
                try:
                    probs = await loop.run_in_executor(self._executor, self.run_batch, batch)
                except Exception as e:  # our fault: every request of the batch gets it
                    for it in group:
                        if not it.future.done():
                            it.future.set_exception(e)
                    continue
                for it, row in zip(group, probs):
                    if not it.future.done():
                        it.future.set_result(row)

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Stop taking new work and wait until every queued request has its answer."""
        self._closing = True
        deadline = time.perf_counter() + timeout_s
        while self._queue is not None and self._queue.qsize() and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        await self.drain()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        self._executor.shutdown(wait=True)
