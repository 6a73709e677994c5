"""The batcher's behaviour: a lone request is dispatched without waiting for company (an endless window configured:
the answer arriving is the event); requests that arrive while the model is busy form one batch; nothing is lost or
answered twice."""
from __future__ import annotations

import asyncio
import threading

import numpy as np

from imgcls_onnx.serving.batcher import DynamicBatcher


class Model:
    """Returns each input's id (its first value) as the 'probability row', so answers can be matched to requests."""

    def __init__(self):
        self.calls = []
        self.gate = threading.Event()
        self.gate.set()

    def run_batch(self, batch):
        self.gate.wait(10)
        self.calls.append(len(batch))
        return batch.reshape(len(batch), -1)[:, :1].copy()


def tensor(i):
    return np.full((3, 2, 2), float(i), np.float32)


GUARD_S = 60  # only so that a broken batcher fails instead of hanging; a passing run never comes near it


def test_a_lone_request_is_dispatched_without_waiting():
    """A lone request is answered with nobody else coming. The batching window is 11 days (1e9 ms), so a batcher that
    waited for company, even once, would not answer: the guard then turns the test red. Three requests, one at a time
    as a single client sends them, each answered alone (batches of one). No clock is compared: the answers are the
    events, so a slow or starved machine cannot fail it."""
    async def main():
        model = Model()
        b = DynamicBatcher(model.run_batch, max_batch_size=16, max_wait_ms=1e9)  # an endless window: must not apply
        b.start()
        rows = [await asyncio.wait_for(b.submit(tensor(i)), GUARD_S) for i in range(3)]
        formations = list(b.formations)
        await b.close()
        return rows, model.calls, formations

    rows, calls, formations = asyncio.run(main())
    assert [int(r[0]) for r in rows] == [0, 1, 2] and calls == [1, 1, 1]
    assert [f.waited for f in formations] == [False, False, False]


def test_requests_arriving_while_busy_form_one_batch():
    async def main():
        model = Model()
        b = DynamicBatcher(model.run_batch, max_batch_size=16, max_wait_ms=0)
        b.start()
        model.gate.clear()  # the model is busy with the first request
        first = asyncio.ensure_future(b.submit(tensor(0)))
        await asyncio.sleep(0.05)
        rest = [asyncio.ensure_future(b.submit(tensor(i))) for i in range(1, 6)]
        await asyncio.sleep(0.05)
        model.gate.set()
        rows = await asyncio.gather(first, *rest)
        await b.close()
        return rows, list(b.formations), model.calls

    rows, formations, calls = asyncio.run(main())
    assert [int(r[0]) for r in rows] == list(range(6))
    assert calls == [1, 5]
    assert formations[1].size == 5 and formations[1].queued == 4 and not formations[1].waited


def test_heavy_load_tops_up_within_the_cap():
    async def main():
        model = Model()
        b = DynamicBatcher(model.run_batch, max_batch_size=8, max_wait_ms=200)
        b.start()
        model.gate.clear()
        first = asyncio.ensure_future(b.submit(tensor(0)))
        await asyncio.sleep(0.05)
        burst = [asyncio.ensure_future(b.submit(tensor(i))) for i in range(1, 5)]  # half a batch waiting
        await asyncio.sleep(0.05)
        model.gate.set()
        await asyncio.sleep(0.02)
        late = [asyncio.ensure_future(b.submit(tensor(i))) for i in range(5, 8)]  # join within the window
        rows = await asyncio.gather(first, *burst, *late)
        await b.close()
        return rows, list(b.formations)

    rows, formations = asyncio.run(main())
    assert [int(r[0]) for r in rows] == list(range(8))
    assert formations[1].waited and formations[1].size == 7 and formations[1].wait_s < 0.5


def test_64_concurrent_clients_each_answered_once():
    async def main():
        model = Model()
        b = DynamicBatcher(model.run_batch, max_batch_size=16, max_wait_ms=2, max_queue=256)
        b.start()

        async def client(c):
            got = []
            for j in range(5):
                i = c * 100 + j
                row = await b.submit(tensor(i))
                got.append((i, int(row[0])))
            return got

        answers = await asyncio.gather(*(client(c) for c in range(64)))
        await b.close()
        return [pair for client_answers in answers for pair in client_answers], model.calls, list(b.formations)

    pairs, calls, formations = asyncio.run(main())
    assert len(pairs) == 64 * 5 and all(sent == got for sent, got in pairs)
    assert sum(calls) == 64 * 5  # every request ran exactly once
    assert max(calls) > 1  # concurrent requests were batched


def test_idle_fast_path_runs_alone_and_steps_aside_when_busy():
    """run_alone: with the model thread free and nothing queued, the job runs there in one hop (a size-1 formation);
    while the model is busy it returns None so the request takes the batched path and joins the next batch."""
    async def main():
        model = Model()
        b = DynamicBatcher(model.run_batch, max_batch_size=16, max_wait_ms=0)
        b.start()
        alone = await b.run_alone(lambda: ("ran", threading.current_thread().name))
        model.gate.clear()  # a batch is running
        busy = asyncio.ensure_future(b.submit(tensor(0)))
        await asyncio.sleep(0.05)
        refused = await b.run_alone(lambda: ("must not run", None))
        queued = asyncio.ensure_future(b.submit(tensor(1)))
        await asyncio.sleep(0.02)
        refused_queue = await b.run_alone(lambda: ("must not run", None))
        model.gate.set()
        rows = await asyncio.gather(busy, queued)
        after = await b.run_alone(lambda: ("ran again", None))
        await b.close()
        return alone, refused, refused_queue, rows, after, list(b.formations), model.calls

    alone, refused, refused_queue, rows, after, formations, calls = asyncio.run(main())
    assert alone[0] == "ran" and alone[1].startswith("imgcls-infer")  # the model thread, not the event loop
    assert refused is None and refused_queue is None and after[0] == "ran again"
    assert [int(r[0]) for r in rows] == [0, 1] and calls == [1, 1]
    assert [f.size for f in formations] == [1, 1, 1, 1]


def test_requests_arriving_during_a_lone_job_form_one_batch_after_it():
    """While a lone job (run_alone) holds the model thread, the batch is formed only when the model is free: three
    requests that arrive one after another during the job run as one batch of 3, not as a batch of 1 formed at the
    first arrival and queued behind the job, then a batch of 2."""
    async def main():
        model = Model()
        b = DynamicBatcher(model.run_batch, max_batch_size=4, max_wait_ms=0)
        b.start()
        release = threading.Event()
        lone = asyncio.ensure_future(b.run_alone(lambda: (release.wait(10), "lone")[1]))
        await asyncio.sleep(0.05)
        arrivals = []
        for i in range(3):
            arrivals.append(asyncio.ensure_future(b.submit(tensor(i))))
            await asyncio.sleep(0.03)
        release.set()
        rows = await asyncio.gather(*arrivals)
        done = await lone
        await b.close()
        return done, rows, list(b.formations), model.calls

    done, rows, formations, calls = asyncio.run(main())
    assert done == "lone" and [int(r[0]) for r in rows] == [0, 1, 2]
    assert calls == [3]
    assert [f.size for f in formations] == [1, 3]
