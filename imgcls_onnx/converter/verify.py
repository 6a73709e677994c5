"""Parity: Paddle (eager, or Paddle Inference with oneDNN off) vs onnxruntime on the same inputs.

Measured on logits where we have them: max |ort - paddle| divided by the logit range of the reference, and
top-1 / top-5 agreement. A reference whose logits do not spread proves nothing and is refused.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..runtime.images import load_image
from ..runtime.transforms import PreprocessSpec
from .deps import import_paddle
from .errors import ConversionError

DEFAULT_TOLERANCE = 1e-4  # max abs error relative to the reference's logit range
MIN_SPREAD = 1e-2  # minimum mean per-sample std of the reference logits across classes


@dataclass(frozen=True)
class ParityReport:
    compared: str  # "logits" or "probabilities"
    reference: str  # "paddle-dygraph" | "paddle-inference (oneDNN off)" | "reference-onnx"
    batch: int
    max_abs_error: float
    reference_range: float
    relative_error: float
    top1_agreement: float
    top5_agreement: float
    reference_std: float
    input_dependence: float
    distinct_top1: int
    tolerance: float
    passed: bool
    # the input-dependent part of the reference is resolved 100x above the error and above the tolerance: without
    # it a conversion that ignored its input would compare equal, so the comparison proves nothing
    depends_on_input: bool = True
    # float64 ground truth (eager Paddle in float64), when it could be computed: the float32 noise floor
    paddle_fp32_vs_fp64: float | None = None
    onnxruntime_vs_fp64: float | None = None
    within_float32_noise: bool | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def synthetic_images(n: int = 8, seed: int = 0) -> list[np.ndarray]:
    """Structured RGB images of varied sizes and content (gradients, stripes, discs, checkerboards, noise)."""
    rng = np.random.default_rng(seed)
    sizes = [(300, 400), (480, 360), (256, 256), (333, 500), (512, 300), (240, 320), (400, 400), (281, 377)]
    images = []
    for i in range(n):
        h, w = sizes[i % len(sizes)]
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        kind = i % 4
        if kind == 0:
            a, b = rng.uniform(0.01, 0.1, 2)
            img = np.stack([127 + 120 * np.sin(xx * a), 127 + 120 * np.cos(yy * b), 255 * xx / w], -1)
        elif kind == 1:
            sq = int(rng.integers(8, 40))
            chk = ((xx // sq + yy // sq) % 2) * 255
            img = np.stack([chk, 255 - chk, np.full_like(chk, rng.uniform(0, 255))], -1)
        elif kind == 2:
            img = rng.uniform(0, 255, (h, w, 3)).astype(np.float32)
            img = (img + np.roll(img, 3, 0) + np.roll(img, 3, 1)) / 3
        else:
            img = np.full((h, w, 3), rng.uniform(0, 255, 3), np.float32)
            for _ in range(6):
                cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(10, min(h, w) / 3)
                img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(0, 255, 3)
        images.append(np.clip(img, 0, 255).astype(np.uint8))
    return images


def verification_images(image_paths: Sequence[str | os.PathLike] = (), n: int = 8, seed: int = 0,
                        names: list | None = None) -> list[np.ndarray]:
    """The given photos first (RGB), then synthetic images up to ``n``."""
    images = []
    for p in image_paths:
        images.append(load_image(p))
        if names is not None:
            names.append(Path(p).name)
    if len(images) < n:
        extra = synthetic_images(n - len(images), seed)
        images.extend(extra)
        if names is not None:
            names.extend(f"synthetic_{i}" for i in range(len(extra)))
    return images


def verification_batch(spec: PreprocessSpec, image_paths: Sequence[str | os.PathLike] = (), n: int = 8,
                       seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """At least ``n`` inputs through the runtime's own preprocessing: the given photos first, then synthetic ones."""
    names: list[str] = []
    images = verification_images(image_paths, n, seed, names)
    return spec.batch(images), names


def _topk(x: np.ndarray, k: int) -> np.ndarray:
    """The runtime's order (ties: the higher class id first), so the agreement counts match what predict prints."""
    from ..runtime.postprocess import top_k

    return top_k(x, k)[0]


NOISE_CAP = 10  # with a float64 reference, errors up to NOISE_CAP x tolerance pass if they are float32 noise


def compare(reference: np.ndarray, got: np.ndarray, compared: str, reference_kind: str,
            tolerance: float = DEFAULT_TOLERANCE, require_spread: bool = True,
            reference_fp64: np.ndarray | None = None) -> ParityReport:
    """Pass when the relative error is within ``tolerance``; or, when a float64 reference shows that eager Paddle
    in float32 is itself that far from the exact result, when onnxruntime is no farther from float64 than 2x
    Paddle-float32 is (the conversion is exact to float32 rounding), capped at NOISE_CAP x tolerance."""
    reference = np.asarray(reference, np.float64).reshape(reference.shape[0], -1)
    got = np.asarray(got, np.float64).reshape(got.shape[0], -1)
    if reference.shape != got.shape:
        raise ConversionError(f"output shapes differ: Paddle {reference.shape} vs onnxruntime {got.shape}")
    max_abs = float(np.abs(reference - got).max())
    rng = float(reference.max() - reference.min())
    rel = max_abs / rng if rng > 0 else float("inf")
    k = min(5, reference.shape[1])
    top1 = float(np.mean(_topk(reference, 1)[:, 0] == _topk(got, 1)[:, 0]))
    top5 = float(np.mean([set(a) == set(b) for a, b in zip(_topk(reference, k), _topk(got, k))]))
    std = float(reference.std(axis=1).mean())
    # how much the outputs change from input to input: this part must be resolved well above the error,
    # else the comparison cannot tell a correct conversion from one that ignores its input
    dependence = float((reference - reference.mean(axis=0, keepdims=True)).std())
    distinct = int(len(set(_topk(reference, 1)[:, 0].tolist())))
    # never a verdict that cannot fail: outputs that (nearly) ignore the input -- a saturated softmax giving the same
    # one-hot row for every input, a constant graph -- would match any conversion that ignores its input too. The
    # input-dependent part must be resolved 100x above the error and above the tolerance, whatever is compared.
    depends = dependence > 0 and dependence >= 100 * max_abs and dependence >= tolerance * rng
    spread_ok = depends and (std >= MIN_SPREAD or not require_spread)
    p64 = o64 = None
    within_noise = None
    if reference_fp64 is not None and rng > 0:
        r64 = np.asarray(reference_fp64, np.float64).reshape(reference.shape)
        p64 = float(np.abs(reference - r64).max() / rng)
        o64 = float(np.abs(got - r64).max() / rng)
        within_noise = bool(o64 <= 2 * p64 and rel <= NOISE_CAP * tolerance)
    close = rel <= tolerance or bool(within_noise)
    passed = bool(close and top1 == 1.0 and spread_ok)
    return ParityReport(compared, reference_kind, int(reference.shape[0]), max_abs, rng, rel, top1, top5, std,
                        dependence, distinct, tolerance, passed, paddle_fp32_vs_fp64=p64, onnxruntime_vs_fp64=o64,
                        within_float32_noise=within_noise, depends_on_input=bool(depends))


def paddle_dygraph_outputs(model, batch_nchw: np.ndarray) -> np.ndarray:
    paddle = import_paddle()
    with paddle.no_grad():
        out = model(paddle.to_tensor(batch_nchw))
    return np.asarray(out.numpy(), np.float32)


def paddle_dygraph_fp64_outputs(model, batch_nchw: np.ndarray) -> np.ndarray | None:
    """The same model in float64 (the model is cast in place); None when a kernel has no float64 version."""
    paddle = import_paddle()
    try:
        model.to(dtype="float64")
        with paddle.no_grad():
            out = model(paddle.to_tensor(batch_nchw.astype(np.float64)))
        return np.asarray(out.numpy(), np.float64)
    except Exception:
        return None


def paddle_inference_outputs(model_file: Path, params_file: Path, batch_nchw: np.ndarray) -> np.ndarray:
    """Paddle Inference on CPU with oneDNN off (oneDNN differs from eager Paddle: docs/conversion.md)."""
    import_paddle()
    from paddle import inference

    config = inference.Config(str(model_file), str(params_file))
    config.disable_gpu()
    config.disable_mkldnn()
    config.switch_ir_optim(False)
    config.disable_glog_info()
    config.set_cpu_math_library_num_threads(max(1, min(4, os.cpu_count() or 1)))
    try:
        predictor = inference.create_predictor(config)
    except Exception as e:
        raise ConversionError(f"Paddle Inference cannot load {model_file}: {str(e).strip()[:300]}") from e
    handle = predictor.get_input_handle(predictor.get_input_names()[0])
    handle.reshape(batch_nchw.shape)
    handle.copy_from_cpu(np.ascontiguousarray(batch_nchw))
    predictor.run()
    out = predictor.get_output_handle(predictor.get_output_names()[0]).copy_to_cpu()
    return np.asarray(out, np.float32)


def onnxruntime_outputs(onnx_bytes_or_path, batch_nchw: np.ndarray) -> np.ndarray:
    from ..runtime.session import import_onnxruntime

    ort = import_onnxruntime()
    so = ort.SessionOptions()
    so.log_severity_level = 3
    src = onnx_bytes_or_path if isinstance(onnx_bytes_or_path, bytes) else str(onnx_bytes_or_path)
    try:
        sess = ort.InferenceSession(src, sess_options=so, providers=["CPUExecutionProvider"])
    except Exception as e:
        raise ConversionError(f"onnxruntime refuses the converted model: {str(e).strip()[:400]}") from e
    return np.asarray(sess.run(None, {sess.get_inputs()[0].name: batch_nchw})[0], np.float32)
