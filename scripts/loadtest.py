#!/usr/bin/env python3
"""Load test of `imgcls-onnx serve` on loopback: N concurrent clients, a bounded number of requests each.

    scripts/loadtest [--model DIR] [--clients 1 8 32] [--requests 400] [--threads 2]

For each client count it starts a fresh server (127.0.0.1, a free port), sends `--requests` requests in total from
that many concurrent clients (each client waits for its answer before sending the next), and reads throughput,
latency percentiles, errors and the batch sizes formed (from /metrics). At the largest client count it runs once
more with --max-batch-size 1 to measure what dynamic batching gives. Writes reports/serving.md and .json.
Traffic goes only to 127.0.0.1; every loop is bounded in count and time.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model: str, threads: int, max_batch: int, max_wait_ms: float):
    import httpx

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "imgcls_onnx.cli", "serve", "-m", model, "--device", "cpu",
                             "--threads", str(threads), "--port", str(port), "--max-batch-size", str(max_batch),
                             "--max-wait-ms", str(max_wait_ms), "--max-queue", "1024", "--log-level", "warning"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def batch_stats(url: str) -> tuple[float, float]:
    import httpx

    s = c = 0.0
    for line in httpx.get(url + "/metrics", timeout=10).text.splitlines():
        if line.startswith("imgcls_batch_size_sum"):
            s = float(line.split()[-1])
        elif line.startswith("imgcls_batch_size_count"):
            c = float(line.split()[-1])
    return s, c


def run(url: str, images: list[str], clients: int, total: int, timeout_s: float = 600) -> dict:
    import httpx

    per_client = max(1, total // clients)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.monotonic() + timeout_s

    def client(k: int) -> None:
        with httpx.Client(timeout=60) as http:
            for i in range(per_client):
                if time.monotonic() > deadline:
                    return
                start = time.perf_counter()
                try:
                    r = http.post(url + "/image-classification", json={"image": images[(k + i) % len(images)]})
                    code = str(r.status_code)
                except httpx.HTTPError as e:
                    code = type(e).__name__
                latencies.append(time.perf_counter() - start)
                if code != "200":
                    errors[code] = errors.get(code, 0) + 1

    s0, c0 = batch_stats(url)
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(client, range(clients)))
    wall = time.perf_counter() - start
    s1, c1 = batch_stats(url)
    lat = sorted(latencies)
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000  # noqa: E731
    return {"clients": clients, "requests": len(lat), "seconds": wall, "req_s": len(lat) / wall,
            "p50_ms": q(0.50), "p95_ms": q(0.95), "p99_ms": q(0.99), "mean_ms": statistics.mean(lat) * 1000,
            "errors": errors, "batches": int(c1 - c0), "mean_batch": (s1 - s0) / max(c1 - c0, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / ".cache" / "demo" / "PULC_text_image_orientation"))
    ap.add_argument("--clients", nargs="*", type=int, default=[1, 8, 32])
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-batch-size", type=int, default=16)
    ap.add_argument("--max-wait-ms", type=float, default=5)
    args = ap.parse_args()
    photos = sorted(p for p in (ROOT.parent / "shared" / "realdata").rglob("*.jp*g"))
    if not photos:
        import cv2
        import numpy as np

        photos_b = [cv2.imencode(".jpg", np.random.default_rng(i).integers(0, 256, (480, 640, 3), np.uint8))[1].tobytes()
                    for i in range(8)]
    else:
        photos_b = [p.read_bytes() for p in photos]
    images = [base64.b64encode(b).decode() for b in photos_b]
    rows = []
    for clients in args.clients:
        proc, url = start_server(args.model, args.threads, args.max_batch_size, args.max_wait_ms)
        try:
            run(url, images, min(clients, 4), 16)  # warm-up
            rows.append({"max_batch_size": args.max_batch_size, **run(url, images, clients, args.requests)})
            print(json.dumps(rows[-1]), file=sys.stderr)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    biggest = max(args.clients)
    proc, url = start_server(args.model, args.threads, 1, 0)
    try:
        run(url, images, min(biggest, 4), 16)
        unbatched = {"max_batch_size": 1, **run(url, images, biggest, args.requests)}
        print(json.dumps(unbatched), file=sys.stderr)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    batched = next(r for r in rows if r["clients"] == biggest)
    speedup = batched["req_s"] / unbatched["req_s"]
    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "model": Path(args.model).name,
            "threads": args.threads, "max_wait_ms": args.max_wait_ms, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "images": f"{len(images)} real photos from ../shared/realdata, base64 in JSON" if photos else "synthetic"}
    out = {"meta": meta, "runs": rows, "unbatched": unbatched, "dynamic_batching_speedup": speedup}
    (ROOT / "reports").mkdir(exist_ok=True)
    (ROOT / "reports" / "serving.json").write_text(json.dumps(out, indent=1) + "\n")
    lines = ["# Serving load test", "",
             f"`scripts/loadtest`: {meta['model']} on {meta['machine']}, onnxruntime {args.threads} threads, "
             f"server and clients on the same machine (loopback), {meta['images']}; {meta['date']}.", "",
             "| clients | max batch | requests | req/s | p50 ms | p95 ms | p99 ms | mean batch | errors |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows + [unbatched]:
        lines.append(f"| {r['clients']} | {r['max_batch_size']} | {r['requests']} | {r['req_s']:.1f} | {r['p50_ms']:.1f} | "
                     f"{r['p95_ms']:.1f} | {r['p99_ms']:.1f} | {r['mean_batch']:.2f} | {r['errors'] or 0} |")
    lines += ["", f"Dynamic batching at {biggest} clients: **{speedup:.2f}x** the throughput of --max-batch-size 1."]
    (ROOT / "reports" / "serving.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
