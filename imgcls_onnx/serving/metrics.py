"""Prometheus text-format metrics, without a client library: requests by status, latency and batch-size
histograms, queue depth."""
from __future__ import annotations

import threading
from collections import Counter

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self, batch_buckets: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)):
        self._lock = threading.Lock()
        self.requests: Counter = Counter()
        self.latency_buckets = [0] * len(LATENCY_BUCKETS_S)
        self.latency_sum = 0.0
        self.latency_count = 0
        self.batch_bucket_bounds = batch_buckets
        self.batch_buckets = [0] * len(batch_buckets)
        self.batch_sum = 0
        self.batch_count = 0
        self.batch_sizes: Counter = Counter()
        self.queue_depth = 0

    def observe_request(self, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[status] += 1
            self.latency_sum += seconds
            self.latency_count += 1
            for i, b in enumerate(LATENCY_BUCKETS_S):
                if seconds <= b:
                    self.latency_buckets[i] += 1

    def observe_batch(self, size: int) -> None:
        with self._lock:
            self.batch_sum += size
            self.batch_count += 1
            self.batch_sizes[size] += 1
            for i, b in enumerate(self.batch_bucket_bounds):
                if size <= b:
                    self.batch_buckets[i] += 1

    def render(self) -> str:
        with self._lock:
            lines = ["# HELP imgcls_requests_total HTTP requests to /image-classification by status code.",
                     "# TYPE imgcls_requests_total counter"]
            for status, n in sorted(self.requests.items()):
                lines.append(f'imgcls_requests_total{{status="{status}"}} {n}')
            lines += ["# HELP imgcls_request_latency_seconds Request latency, receipt to response.",
                      "# TYPE imgcls_request_latency_seconds histogram"]
            for b, n in zip(LATENCY_BUCKETS_S, self.latency_buckets):
                lines.append(f'imgcls_request_latency_seconds_bucket{{le="{b}"}} {n}')
            lines.append(f'imgcls_request_latency_seconds_bucket{{le="+Inf"}} {self.latency_count}')
            lines.append(f"imgcls_request_latency_seconds_sum {self.latency_sum:.6f}")
            lines.append(f"imgcls_request_latency_seconds_count {self.latency_count}")
            lines += ["# HELP imgcls_batch_size Images per session.run formed by dynamic batching.",
                      "# TYPE imgcls_batch_size histogram"]
            for b, n in zip(self.batch_bucket_bounds, self.batch_buckets):
                lines.append(f'imgcls_batch_size_bucket{{le="{b}"}} {n}')
            lines.append(f'imgcls_batch_size_bucket{{le="+Inf"}} {self.batch_count}')
            lines.append(f"imgcls_batch_size_sum {self.batch_sum}")
            lines.append(f"imgcls_batch_size_count {self.batch_count}")
            lines += ["# HELP imgcls_queue_depth Requests waiting for a batch.", "# TYPE imgcls_queue_depth gauge",
                      f"imgcls_queue_depth {self.queue_depth}"]
            rss = resident_bytes()
            if rss is not None:
                lines += ["# HELP process_resident_memory_bytes Resident memory of the server process.",
                          "# TYPE process_resident_memory_bytes gauge", f"process_resident_memory_bytes {rss}"]
        return "\n".join(lines) + "\n"


def resident_bytes() -> int | None:
    """Current RSS (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            import os

            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None
