"""OnnxModel: one bundle's network, loaded and checked once. It owns the onnxruntime sessions, the I/O contract
(``ModelIO``), the preprocessing into what the network takes (the fused-input difference is decided here, once),
the labels and top-k. The Classifier streams and schedules batches over it; serving, Ray's predictor, the Triton and
web exports and the converter's compare read the same object.

Sessions come from ``session_factory(onnx_path, device_request, options)`` (default: ``session.create_session``), so
a test can hand in a fake session (``get_inputs``, ``get_outputs``, ``get_providers``, ``run``) with written logits.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np

from . import kernel as kernels
from .bundle import Bundle
from .errors import BundleError
from .model_io import ModelIO
from .postprocess import label_name, softmax, top_k
from .providers import DeviceRequest, parse_device
from .results import Prediction
from .session import SessionOptions, arena_shrinking_run_options, create_session, session_device

SessionFactory = Callable[..., object]


def _copy_into(staged: np.ndarray, out: np.ndarray) -> None:
    out[...] = staged


class OnnxModel:
    """A bundle's network: sessions, contract, preprocessing, labels and top-k, validated when built."""

    def __init__(self, bundle: Bundle, device: "str | DeviceRequest | None" = "cpu",
                 options: SessionOptions | None = None, session_factory: SessionFactory | None = None):
        self.bundle = bundle
        self.config = bundle.config
        self.device_request = parse_device(device)
        self.options = options or SessionOptions()
        self._session_factory = session_factory or create_session
        self.session = self._session_factory(bundle.onnx_path, self.device_request, self.options)
        self.io = ModelIO.from_session(self.session, bundle)
        # the preprocessing kernel (compiled or numpy: the same bytes), from $IMGCLS_ONNX_KERNEL, read once here
        self.kernel = kernels.from_env()
        self.preprocess = bundle.config.preprocess.with_kernel(self.kernel)
        self.labels: tuple[str, ...] | None = bundle.config.label_list
        self.topk = int(bundle.config.topk or 5)
        self._run_options = None
        self.latency_session = None  # see add_latency_session
        self._latency_run_options = None
        self._check()
        # a bundle made with `convert --fuse-preprocess` takes the resized, cropped uint8 NHWC batch: we run only the
        # ops before NormalizeImage, the graph does the rest. Decided here, once.
        if self.fused_input:
            self.stage = self.preprocess.apply_image_ops
            self.input_dtype = np.uint8
            self.fill = _copy_into
        else:
            self.stage = self.preprocess.stage
            self.input_dtype = np.float32
            self.fill = self.preprocess.fill

    def _check(self) -> None:
        bundle, io = self.bundle, self.io
        if self.labels is not None and io.num_classes is not None and len(self.labels) != io.num_classes:
            raise BundleError(
                f"{bundle.directory / 'inference.yml'}: label_list has {len(self.labels)} names but the model outputs "
                f"{io.num_classes} classes; fix PostProcess.Topk.label_list"
            )
        expected_hw = self.preprocess.output_hw
        model_hw = (io.height, io.width)
        if expected_hw and None not in model_hw and model_hw != tuple(expected_hw):
            raise BundleError(
                f"{bundle.directory}: preprocessing produces {expected_hw[0]}x{expected_hw[1]} images but the model "
                f"takes {model_hw[0]}x{model_hw[1]}"
            )

    # the contract, read ----------------------------------------------------------------------------------------
    @property
    def fused_input(self) -> bool:
        return self.io.fused_preprocess

    @property
    def num_classes(self) -> int | None:
        return self.io.num_classes

    @property
    def applies_softmax(self) -> bool:
        return not self.io.outputs_probabilities

    @property
    def device(self) -> str:
        return session_device(self.session)

    # preprocessing ---------------------------------------------------------------------------------------------
    def input_shape(self, staged: np.ndarray) -> tuple[int, ...]:
        """The model input shape (without the batch) of one staged image."""
        return tuple(staged.shape) if self.fused_input else self.preprocess.staged_shape(staged)

    def model_input(self, image_hwc: np.ndarray) -> np.ndarray:
        """What the model takes for one RGB image: float32 CHW, or uint8 HWC for fused-preprocessing bundles."""
        if self.fused_input:
            return np.ascontiguousarray(self.stage(image_hwc), dtype=np.uint8)
        return self.preprocess(image_hwc)

    # running ---------------------------------------------------------------------------------------------------
    def add_latency_session(self) -> bool:
        """A second CPU session on the same model whose intra-op threads spin between the ops of a run and stop when
        it returns, for a run with nothing beside it (a server's lone request): faster there, slower beside decoding
        threads, so batches keep the main session (docs/serving.md, reports/serving_runs.md). Costs one more copy of the weights. Returns False (and adds nothing) off the CPU or on one intra-op thread,
        where nothing spins."""
        if self.device != "cpu" or (self.options.intra_op_num_threads or 2) < 2:
            return False
        self.latency_session = self._session_factory(
            self.bundle.onnx_path, self.device_request,
            replace(self.options, allow_spinning=True, stop_spinning_after_run=True))
        if self._run_options is not None:
            self._latency_run_options = arena_shrinking_run_options(self.latency_session)
        return True

    def release_memory_after_runs(self) -> None:
        """Return onnxruntime's CPU arena to the allocator after every run (for long-lived servers whose batch sizes
        vary: without it the arena keeps the memory of the largest batch ever seen)."""
        self._run_options = arena_shrinking_run_options(self.session)
        if self.latency_session is not None:
            self._latency_run_options = arena_shrinking_run_options(self.latency_session)

    def run(self, batch: np.ndarray, alone: bool = False) -> np.ndarray:
        """The model on one batch (float32 NCHW, or uint8 NHWC for fused bundles): class probabilities (N, C).
        ``alone``: nothing else is running beside it; the latency session runs it when there is one."""
        if alone and self.latency_session is not None:
            session, run_options = self.latency_session, self._latency_run_options
        else:
            session, run_options = self.session, self._run_options
        out = session.run([self.io.output_name], {self.io.input_name: batch}, run_options)[0]
        out = np.asarray(out, dtype=np.float32).reshape(out.shape[0], -1)
        return out if self.io.outputs_probabilities else softmax(out)

    # top-k and labels ------------------------------------------------------------------------------------------
    def clamp_topk(self, topk: int | None) -> int:
        """``topk`` (default: the bundle's), checked, and at most the class count."""
        k = int(topk or self.topk)
        if k < 1:
            raise ValueError(f"topk must be >= 1, got {k}")
        return min(k, self.num_classes) if self.num_classes is not None else k

    def label(self, class_id: int) -> str:
        return label_name(self.labels, class_id)

    def prediction(self, probs: np.ndarray, k: int, index: int = 0, input_path: str | None = None,
                   input_img: np.ndarray | None = None) -> Prediction:
        """One input's Prediction from its class probabilities (C,): PaddleX's top-k order and rounding."""
        ids, scores = top_k(np.asarray(probs)[None, :], min(k, np.asarray(probs).shape[-1]))
        ids_list = [int(i) for i in ids[0]]
        return Prediction(index=index, input_path=input_path, class_ids=ids_list,
                          scores=[float(s) for s in scores[0]],  # float32 rounded to 5 places, widened: as PaddleX
                          label_names=[self.label(i) for i in ids_list], input_img=input_img)
