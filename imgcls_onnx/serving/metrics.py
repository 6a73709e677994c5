"""The server's Prometheus metrics on ``prometheus_client`` (the serve extra): requests by status, latency and
batch-size histograms, queue depth, resident memory. Each ``Metrics`` has its own ``CollectorRegistry``, so two apps
in one process count apart (prometheus_client's global registry would refuse the second app's metric names)."""
from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# the text format /metrics answers in (generate_latest writes it; newer clients' CONTENT_TYPE_LATEST names 1.0.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self, batch_buckets: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)):
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter("imgcls_requests", "HTTP requests to /image-classification by status code.",
                                 ["status"], registry=self.registry)
        self._latency = Histogram("imgcls_request_latency_seconds", "Request latency, receipt to response.",
                                  buckets=LATENCY_BUCKETS_S, registry=self.registry)
        self._batch = Histogram("imgcls_batch_size", "Images per session.run formed by dynamic batching.",
                                buckets=batch_buckets, registry=self.registry)
        self._queue = Gauge("imgcls_queue_depth", "Requests waiting for a batch.", registry=self.registry)
        self.registry.register(_ResidentMemory())
        self._exposed = _WithoutCreated(self.registry)

    def observe_request(self, status: int, seconds: float) -> None:
        self._requests.labels(status=str(status)).inc()
        self._latency.observe(seconds)

    def observe_batch(self, size: int) -> None:
        self._batch.observe(size)

    def set_queue_depth(self, depth: int) -> None:
        self._queue.set(depth)

    def render(self) -> str:
        """Prometheus' text format (CONTENT_TYPE)."""
        return generate_latest(self._exposed).decode("utf-8")


class _ResidentMemory:
    """process_resident_memory_bytes alone (prometheus_client's ProcessCollector adds CPU time, file descriptors and
    more that this server never exported); absent where /proc is not."""

    def collect(self):
        rss = resident_bytes()
        if rss is not None:
            yield GaugeMetricFamily("process_resident_memory_bytes", "Resident memory of the server process.",
                                    value=rss)


class _WithoutCreated:
    """The registry's metrics less the ``*_created`` timestamp series prometheus_client adds to counters and
    histograms: /metrics keeps the series it always had (prometheus_client can drop them only process-wide)."""

    def __init__(self, registry: CollectorRegistry):
        self.registry = registry

    def collect(self):
        for metric in self.registry.collect():
            kept = Metric(metric.name, metric.documentation, metric.type, metric.unit)
            kept.samples = [s for s in metric.samples if not s.name.endswith("_created")]
            yield kept


def resident_bytes() -> int | None:
    """Current RSS (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None
