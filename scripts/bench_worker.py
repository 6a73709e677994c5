#!/usr/bin/env python3
"""One measurement in a fresh process; prints one JSON line. Run by scripts/bench.py with the right interpreter.

    bench_worker.py ours        BUNDLE_DIR  BATCH THREADS IMAGE_LIST     (default schedule: a batch per core)
    bench_worker.py ours1       BUNDLE_DIR  BATCH THREADS IMAGE_LIST     (parallel_batches=1: decode pool + one stream)
    bench_worker.py oursfast    BUNDLE_DIR  BATCH THREADS IMAGE_LIST     (fast_decode=True, plus top-1 agreement with exact)
    bench_worker.py decode      BUNDLE_DIR  BATCH THREADS IMAGE_LIST     (decode + preprocess only)
    bench_worker.py handwritten BUNDLE_DIR  BATCH THREADS IMAGE_LIST     (a hand-written OpenCV + onnxruntime loop:
                                                                          cv2 decodes and preprocesses the next batch
                                                                          in THREADS threads while the model runs)
    $BENCH_OPENCV_PATH=1 with ours/decode: OpenCV decodes (cv2.imdecode) and resizes (cv2.resize, then the crop), as
    the runtime did on x86-64 before the compiled kernel: the peer the kernel path is measured against
    bench_worker.py ort         BUNDLE_DIR  BATCH THREADS IMAGE_LIST     (model only, on ready tensors: the better of
                                                                          one THREADS-thread stream and THREADS
                                                                          one-thread streams)
    bench_worker.py paddlex     MODEL_DIR   BATCH THREADS IMAGE_LIST ENGINE MODEL_NAME   (PaddleX's venv)
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


MIN_SECONDS = float(os.environ.get("BENCH_MIN_SECONDS", "3"))


def timed(one_pass) -> tuple[int, float]:
    """Repeat full passes over the images until MIN_SECONDS have passed (the same rule for every system), so a
    fast system is not timed over a fraction of a second. Returns (images, seconds)."""
    n, start = 0, time.perf_counter()
    while True:
        n += one_pass()
        seconds = time.perf_counter() - start
        if seconds >= MIN_SECONDS:
            return n, seconds


def rate(one_pass) -> float:
    n, seconds = timed(one_pass)
    return n / seconds


def use_opencv_path() -> None:
    """The runtime's pipeline with OpenCV's decoder and resize swapped in (the old x86-64 default)."""
    import cv2
    import numpy as np

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
    from helpers import opencv_decode_single  # the tests' OpenCV reader (cv2.imdecode as PaddleX's ReadImage)

    from imgcls_onnx.runtime import decode
    from imgcls_onnx.runtime import kernel as kernels

    decode._decode_single = opencv_decode_single

    class OpenCVKernel(kernels.Kernel):
        def resize(self, image, interpolation, new_w, new_h, window=None):
            flag = {"linear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST}[interpolation]
            out = cv2.resize(np.ascontiguousarray(image), (new_w, new_h), interpolation=flag)
            x0, y0, cw, ch = window or (0, 0, new_w, new_h)
            return out[y0:y0 + ch, x0:x0 + cw]

        def lookup(self, staged, lut, out):
            for c in range(3):
                np.take(lut[c], staged[:, :, c], out=out[c])

        def pixels(self, image):
            return None

    kernels.from_env = lambda: OpenCVKernel("opencv")


def handwritten(model_dir: str, batch: int, threads: int, paths: list) -> int:
    """What a skilled user writes by hand around OpenCV and onnxruntime (scripts/handwritten_loop.py's ``prep``:
    decode, resize-short, centre crop, normalise and CHW) in a pool of ``threads`` while the model runs the previous
    batch (``pool.map`` runs ahead, as that script's ``--ahead all``)."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    import onnxruntime as ort
    from handwritten_loop import prep  # scripts/, beside this file

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(os.path.join(model_dir, "inference.onnx"), so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name

    chunks = [paths[i:i + batch] for i in range(0, len(paths), batch)]
    with ThreadPoolExecutor(threads) as pool:
        def one_pass() -> int:
            pending = pool.map(lambda c: np.stack(list(map(prep, c))), chunks)
            return sum(len(sess.run(None, {name: x})[0]) for x in pending)  # map runs ahead of the model
        one_pass()
        return timed(one_pass)


def main() -> None:
    mode, model_dir, batch, threads, image_list = sys.argv[1:6]
    batch, threads = int(batch), int(threads)
    paths = [p for p in open(image_list, encoding="utf-8").read().splitlines() if p]
    warm = paths[: max(8, batch)]
    extra = {}
    if os.environ.get("BENCH_OPENCV_PATH") == "1":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
        use_opencv_path()
    if mode == "handwritten":
        n, seconds = handwritten(model_dir, batch, threads, paths)
    elif mode == "stages":  # per image, one thread: decode (file bytes in memory), resize + crop, normalise
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
        import numpy as np

        from imgcls_onnx.runtime import kernel as kernels
        from imgcls_onnx.runtime.bundle import load_bundle
        from imgcls_onnx.runtime.images import load_image

        kernel = kernels.from_env()
        spec = load_bundle(model_dir).config.preprocess.with_kernel(kernel)
        data = [open(p, "rb").read() for p in paths]
        spent = {"decode_ms": 0.0, "resize_crop_ms": 0.0, "normalize_ms": 0.0}
        for _ in range(2):  # the first pass warms up; the second is timed
            spent = dict.fromkeys(spent, 0.0)
            for d in data:
                t0 = time.perf_counter()
                img = load_image(d, contiguous=False, kernel=kernel)
                t1 = time.perf_counter()
                staged = spec.stage(img)
                t2 = time.perf_counter()
                spec.fill(staged, np.empty(spec.staged_shape(staged), np.float32))
                t3 = time.perf_counter()
                spent["decode_ms"] += t1 - t0
                spent["resize_crop_ms"] += t2 - t1
                spent["normalize_ms"] += t3 - t2
        extra = {k: v / len(data) * 1000 for k, v in spent.items()}
        n, seconds = len(data), sum(spent.values())
    elif mode in ("ours", "ours1", "oursfast"):
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
        from imgcls_onnx import Classifier

        clf = Classifier.from_dir(model_dir, device="cpu", threads=threads, fast_decode=mode == "oursfast",
                                  parallel_batches=1 if mode == "ours1" else None)
        for _ in clf.predict(warm, batch_size=batch):
            pass
        n, seconds = timed(lambda: sum(1 for r in clf.predict(paths, batch_size=batch) if r.ok))
        if mode == "oursfast":  # untimed: how often the opt-in decode changes the answer
            rss = peak_rss_mb()  # before the second classifier below
            top1 = lambda c: [r.class_ids[0] if r.ok else None for r in c.predict(paths, batch_size=batch)]  # noqa: E731
            exact = Classifier.from_dir(model_dir, device="cpu", threads=threads)
            same = sum(a == b for a, b in zip(top1(clf), top1(exact)))
            extra = {"top1_agreement_with_exact": same / len(paths), "peak_rss_mb": rss}
    elif mode == "decode":
        # decode + preprocess only, in the same thread pool as predict(): the ceiling of the end-to-end path
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
        from concurrent.futures import ThreadPoolExecutor

        from imgcls_onnx.runtime import kernel as kernels
        from imgcls_onnx.runtime.bundle import load_bundle
        from imgcls_onnx.runtime.images import load_image

        kernel = kernels.from_env()
        spec = load_bundle(model_dir).config.preprocess.with_kernel(kernel)
        work = lambda p: spec(load_image(p, contiguous=False, kernel=kernel))  # noqa: E731  (the model's path)
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(work, warm))
            n, seconds = timed(lambda: sum(1 for _ in pool.map(work, paths)))
    elif mode == "ort":
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
        import numpy as np
        import onnxruntime as ort

        from imgcls_onnx.runtime.bundle import load_bundle
        from imgcls_onnx.runtime.images import load_image

        bundle = load_bundle(model_dir)
        tensors = np.stack([bundle.config.preprocess(load_image(p)) for p in paths])
        batches = [tensors[i:i + batch] for i in range(0, len(tensors), batch)]

        def session(intra):
            so = ort.SessionOptions()
            so.intra_op_num_threads = intra
            so.inter_op_num_threads = 1
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
            return ort.InferenceSession(str(bundle.onnx_path), so, providers=["CPUExecutionProvider"])

        sess = session(threads)
        name = sess.get_inputs()[0].name
        sess.run(None, {name: batches[0]})

        def stream() -> int:
            for b in batches:
                sess.run(None, {name: b})
            return len(tensors)

        seq = rate(stream)
        del sess
        from concurrent.futures import ThreadPoolExecutor

        sess = session(1)
        with ThreadPoolExecutor(threads) as pool:

            def streams() -> int:
                list(pool.map(lambda b: sess.run(None, {name: b}), batches))
                return len(tensors)

            list(pool.map(lambda b: sess.run(None, {name: b}), batches[:threads]))
            par = rate(streams)
        extra = {"img_s_one_stream": seq, "img_s_parallel_streams": par}
        seconds = len(tensors) / max(seq, par)
        n = len(tensors)
    elif mode == "paddlex":
        engine, model_name = sys.argv[6:8]
        os.environ["PADDLE_PDX_CPU_NUM_THREADS"] = str(threads)
        from paddlex import create_model

        kwargs = {}
        if engine == "onnxruntime":
            kwargs["engine_config"] = {"intra_op_num_threads": threads, "inter_op_num_threads": 1}
        model = create_model(model_name=model_name, model_dir=model_dir, device="cpu", engine=engine, **kwargs)
        for _ in model.predict(warm, batch_size=batch):
            pass
        n, seconds = timed(lambda: sum(1 for _ in model.predict(paths, batch_size=batch)))
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps({"images": n, "seconds": seconds, "img_s": n / seconds, "peak_rss_mb": peak_rss_mb(), **extra}))


if __name__ == "__main__":
    main()
