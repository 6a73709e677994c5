"""One batch of platform-sensitive work, run the same way on x86-64 (in the test process) and on aarch64 (under
scripts/arm64, one emulated process for every case of the session: its start-up costs seconds).

    python arm_worker.py IN.npz OUT.npz [--job JOB.json] [MODEL.onnx ...]

Library level (IN.npz): n, img_<i> (uint8 HxWx3) and size_<i> (target height, width) for i < n, and x (the models'
input). OUT.npz gets machine, versions (numpy, cv2, PIL, onnxruntime), cv2_linear_<i>, pil_bilinear_<i>,
pil_bicubic_<i>, ort_<j> (model j's output) and the seconds each step took (t_import, t_resize, t_ort_import,
t_ort_load, t_ort_run).

Kernel level (IN.npz's images, see :func:`kernel_work`): the preprocessing kernel in force (its name, the files of
imgcls_onnx and of the compiled module) and both kernels' resizes (INTER_LINEAR, exact halving, INTER_NEAREST, with
and without an off-centre output window).

Runtime level (JOB.json, see :func:`runtime_work`): image files through the runtime's public path (``load_image`` then
``PreprocessSpec.batch``) for every op list, with the default kernel (``$IMGCLS_ONNX_KERNEL`` unset), with
``$IMGCLS_ONNX_KERNEL=numpy``, and with OpenCV's own ``cv2.resize`` in the kernel's place (what the runtime would
give if it resized with the machine's OpenCV); a real model bundle through ``Classifier``. Tensors travel as SHA-256
digests of their bytes, shape and dtype (equal digests: ``np.array_equal`` tensors), so a few hundred tensors cost
kilobytes.

Kept free of imports from the test suite: it runs on the emulated interpreter with nothing but the runtime's wheels
and the project's aarch64 wheel (scripts/arm64 puts it first on the path: imgcls_onnx and its aarch64 kernel).
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from collections.abc import Sequence

import numpy as np

KERNEL_ENV = "IMGCLS_ONNX_KERNEL"  # imgcls_onnx.runtime.kernel.KERNEL_ENV (imported late: timed with the runtime)


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


def digest(array: np.ndarray) -> str:
    """Equal digests <=> np.array_equal arrays of the same dtype (bytes, shape and dtype are hashed)."""
    a = np.ascontiguousarray(array)
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


class _kernel_setting:
    """``$IMGCLS_ONNX_KERNEL`` set to ``value`` (None: unset, the default) for the block, restored after."""

    def __init__(self, value: str | None):
        self.value = value

    def __enter__(self):
        self.saved = os.environ.get(KERNEL_ENV)
        if self.value is None:
            os.environ.pop(KERNEL_ENV, None)
        else:
            os.environ[KERNEL_ENV] = self.value

    def __exit__(self, *exc):
        if self.saved is None:
            os.environ.pop(KERNEL_ENV, None)
        else:
            os.environ[KERNEL_ENV] = self.saved


def opencv_kernel():
    """A kernel that resizes with this machine's ``cv2.resize`` (and crops its window), the normalisation lookup as
    the numpy kernel does it: what the runtime gave when it resized with OpenCV (before #29), to show what the
    compiled kernel removes on aarch64."""
    import cv2

    from imgcls_onnx.runtime import kernel as kernels

    class OpenCVKernel(kernels.Kernel):
        def resize(self, image, interpolation, new_w, new_h, window=None):
            flag = {"linear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST}[interpolation]
            out = cv2.resize(np.ascontiguousarray(image), (int(new_w), int(new_h)), interpolation=flag)
            if window is not None:
                x0, y0, cw, ch = (int(v) for v in window)
                out = out[y0 : y0 + ch, x0 : x0 + cw]
            return np.ascontiguousarray(out)

    return OpenCVKernel("opencv")


def kernel_work(inputs) -> dict[str, np.ndarray]:
    """The kernel in force and both kernels' resizes of IN.npz's images: ``kernel_default`` (``from_env().name`` with
    ``$IMGCLS_ONNX_KERNEL`` unset), ``kernel_numpy`` (with it set to numpy), ``kernel_file`` (the compiled module's
    file, "" without one), ``package_file`` (imgcls_onnx's ``__init__.py``); ``kres_<kernel>`` (n x 6 digests, the
    columns in ``KERNEL_CASES``: INTER_LINEAR to the image's target size, the same with an off-centre window, the
    exact halving of its even part, an upscale with a window, INTER_NEAREST with and without a window)."""
    import imgcls_onnx
    from imgcls_onnx.runtime import kernel as kernels

    out: dict[str, np.ndarray] = {"package_file": np.array(imgcls_onnx.__file__)}
    with _kernel_setting(None):
        out["kernel_default"] = np.array(kernels.from_env().name)
    with _kernel_setting("numpy"):
        out["kernel_numpy"] = np.array(kernels.from_env().name)
    out["kernel_file"] = np.array(getattr(kernels._compiled, "__file__", "") or "")
    rng = np.random.default_rng(29)
    cases = []
    for i in range(int(inputs["n"])):
        img = inputs[f"img_{i}"]
        h, w = img.shape[:2]
        nh, nw = (int(v) for v in inputs[f"size_{i}"])
        hh, hw = max(1, h // 2), max(1, w // 2)
        even = img[: 2 * hh, : 2 * hw] if h > 1 and w > 1 else img
        uh, uw = 2 * h + 3, 3 * w + 1
        def window(W, H):  # an off-centre window inside a W x H output
            cw, ch = int(rng.integers(1, W + 1)), int(rng.integers(1, H + 1))
            return int(rng.integers(0, W - cw + 1)), int(rng.integers(0, H - ch + 1)), cw, ch
        cases.append([(img, "linear", nw, nh, None), (img, "linear", nw, nh, window(nw, nh)),
                      (even, "linear", even.shape[1] // 2 or 1, even.shape[0] // 2 or 1, None),
                      (img, "linear", uw, uh, window(uw, uh)),
                      (img, "nearest", nw, nh, None), (img, "nearest", uw, uh, window(uw, uh))])
    for kernel in (kernels.from_env(), kernels.NUMPY):  # the one in force (compiled where built), then numpy
        t = time.perf_counter()
        key = f"kres_{kernel.name}"
        out[key] = np.array([[digest(kernel.resize(*case)) for case in row] for row in cases])
        out[f"t_{key}"] = np.array(time.perf_counter() - t)
    return out


KERNEL_CASES = ["linear", "linear window", "halving", "upscale window", "nearest", "nearest window"]


def runtime_work(job: dict) -> dict[str, np.ndarray]:
    """The runtime's own path on ``job``:

    * ``images`` (files) x ``op_lists`` (PaddleX ``transform_ops``, built with ``PreprocessSpec.from_yml_ops`` as the
      zoo does): ``decoded`` (digest of each ``load_image``), ``pre_default`` (n_images x n_op_lists digests of
      ``spec.batch`` rows, ``$IMGCLS_ONNX_KERNEL`` unset: the compiled kernel where it is installed),
      ``pre_numpy`` (the same with ``$IMGCLS_ONNX_KERNEL=numpy``), ``pre_kernels`` (the kernel each spec took:
      default, numpy), ``pre_cv2`` (the op lists whose resize has the cv2 backend, listed in ``cv2_op_lists``, with
      :func:`opencv_kernel`: this machine's ``cv2.resize``), ``pre_shape``;
    * ``orientation``: ``{"bundle": DIR, "images": [...], "threads": N}`` -> ``orient_probs`` (the model's output for
      the batch, unrounded), ``orient_ids`` / ``orient_scores`` / ``orient_labels`` (``Classifier.predict``'s
      Predictions: top-k ids, scores rounded to 5 places as PaddleX prints them, label names), ``orient_kernel``.
    """
    t0 = time.perf_counter()
    from imgcls_onnx.runtime.images import load_image
    from imgcls_onnx.runtime.transforms import PreprocessSpec, ResizeImage

    out: dict[str, np.ndarray] = {}
    t1 = time.perf_counter()
    out["t_runtime_import"] = np.array(t1 - t0)
    images = [load_image(p) for p in job["images"]]
    t2 = time.perf_counter()
    out["t_decode"] = np.array(t2 - t1)
    out["decoded"] = np.array([digest(im) for im in images])
    out["decoded_shape"] = np.array([im.shape for im in images])
    specs = {}
    for setting in (None, "numpy"):  # the setting is read when a spec is built (as when a model is built)
        with _kernel_setting(setting):
            specs[setting] = [PreprocessSpec.from_yml_ops(ops) for ops in job["op_lists"]]
    out["pre_kernels"] = np.array([[s.kernel.name for s in specs[setting]] for setting in (None, "numpy")])
    cv2_lists = [j for j, s in enumerate(specs[None])
                 if any(isinstance(op, ResizeImage) and op.backend == "cv2" for op in s.ops)]
    out["cv2_op_lists"] = np.array(cv2_lists, dtype=np.int64)
    opencv = opencv_kernel()
    runs = (("pre_default", specs[None], range(len(specs[None]))),
            ("pre_numpy", specs["numpy"], range(len(specs["numpy"]))),
            ("pre_cv2", [s.with_kernel(opencv) for s in specs[None]], cv2_lists))
    for key, run_specs, which in runs:
        t = time.perf_counter()
        digests, shapes = [], []
        for j in which:
            batch = run_specs[j].batch(images)
            digests.append([digest(row) for row in batch])
            shapes.append(batch.shape[1:])
        out[key] = np.array(digests).T.reshape(len(images), len(digests))  # (image, op list)
        if key == "pre_default":
            out["pre_shape"] = np.array(shapes)
        out[f"t_{key}"] = np.array(time.perf_counter() - t)
    orientation = job.get("orientation")
    if orientation:
        from imgcls_onnx.runtime.classifier import Classifier

        t = time.perf_counter()
        with _kernel_setting(None), Classifier.from_dir(orientation["bundle"], device="cpu",
                                                        threads=int(orientation["threads"])) as clf:
            out["orient_kernel"] = np.array(clf.model.kernel.name)
            t_load = time.perf_counter()
            paths = orientation["images"]
            preds = list(clf.predict(paths, batch_size=len(paths)))
            t_predict = time.perf_counter()
            # the unrounded probabilities of the same inputs (Predictions print 5 decimals, as PaddleX)
            probs = clf.model.run(clf.preprocess.batch([load_image(p) for p in paths]))
            t_probs = time.perf_counter()
        bad = [p.error for p in preds if not p.ok]
        if bad:
            raise RuntimeError(f"orientation predictions failed: {bad}")
        out["orient_ids"] = np.array([p.class_ids for p in preds], dtype=np.int64)
        out["orient_scores"] = np.array([p.scores for p in preds], dtype=np.float64)
        out["orient_labels"] = np.array([p.label_names for p in preds])
        out["orient_probs"] = np.array(probs)
        out["t_orient_load"] = np.array(t_load - t)
        out["t_orient_predict"] = np.array(t_predict - t_load)
        out["t_orient_probs"] = np.array(t_probs - t_predict)
    return out


def main(argv: list[str]) -> int:
    args = list(argv[3:])
    job = None
    if args[:1] == ["--job"]:
        with open(args[1], encoding="utf-8") as f:
            job = json.load(f)
        args = args[2:]
    with np.load(argv[1]) as f:
        inputs = {k: f[k] for k in f.files}
    out = work(inputs, args)
    out.update(kernel_work(inputs))
    if job is not None:
        out.update(runtime_work(job))
    np.savez(argv[2], **out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
