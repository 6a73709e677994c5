"""One batch of platform-sensitive work, run the same way on x86-64 (in the test process) and on aarch64 (under
scripts/arm64, one emulated process for every case: its start-up costs seconds).

    python arm_worker.py IN.npz OUT.npz [MODEL.onnx ...]

IN.npz holds n, img_<i> (uint8 HxWx3) and size_<i> (target height, width) for i < n, and x (the models' input);
OUT.npz gets machine, versions (numpy, cv2, PIL, onnxruntime), cv2_linear_<i>, pil_bilinear_<i>, pil_bicubic_<i>,
ort_<j> (model j's output) and the seconds each step took (t_import, t_resize, t_ort_import, t_ort_load, t_ort_run).
Kept free of imports from the test suite: it runs on the emulated interpreter with nothing but the runtime's wheels.
"""
from __future__ import annotations

import platform
import sys
import time
from collections.abc import Sequence

import numpy as np


def work(inputs, models: Sequence[str] = ()) -> dict[str, np.ndarray]:
    t0 = time.perf_counter()
    import cv2
    from PIL import Image

    out: dict[str, np.ndarray] = {"machine": np.array(platform.machine())}
    versions = {"numpy": np.__version__, "cv2": cv2.__version__, "PIL": Image.__version__}
    t1 = time.perf_counter()
    for i in range(int(inputs["n"])):
        img = inputs[f"img_{i}"]
        h, w = (int(v) for v in inputs[f"size_{i}"])
        out[f"cv2_linear_{i}"] = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
        pil = Image.fromarray(img)
        out[f"pil_bilinear_{i}"] = np.asarray(pil.resize((w, h), Image.Resampling.BILINEAR))
        out[f"pil_bicubic_{i}"] = np.asarray(pil.resize((w, h), Image.Resampling.BICUBIC))
    t2 = time.perf_counter()
    out["t_resize"] = np.array(t2 - t1)
    if models:
        import onnxruntime as ort

        versions["onnxruntime"] = ort.__version__
        t3 = time.perf_counter()
        out["t_ort_import"] = np.array(t3 - t2)
        out["t_ort_load"] = out["t_ort_run"] = np.array(0.0)
        for j, model in enumerate(models):
            t3 = time.perf_counter()
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1  # no spinning thread pool on an emulated CPU; the same kernels either way
            sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
            t4 = time.perf_counter()
            out[f"ort_{j}"] = sess.run(None, {sess.get_inputs()[0].name: inputs["x"]})[0]
            t5 = time.perf_counter()
            out["t_ort_load"] = out["t_ort_load"] + (t4 - t3)
            out["t_ort_run"] = out["t_ort_run"] + (t5 - t4)
    out["versions"] = np.array(" ".join(f"{k}={v}" for k, v in versions.items()))
    out["t_import"] = np.array(t1 - t0)
    return out


def main(argv: list[str]) -> int:
    with np.load(argv[1]) as f:
        inputs = {k: f[k] for k in f.files}
    np.savez(argv[2], **work(inputs, argv[3:]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
