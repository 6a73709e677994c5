"""The model contract: what a bundle's network takes and returns, derived once from the onnxruntime session and the
bundle (inference.yml + manifest.json). The classifier, serving, the Triton export and the converter's checks all
read this one object instead of re-deriving layout, dtype, size, class count and "probabilities or logits"."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bundle import Bundle
from .errors import BundleError
from .onnx_graph import inspect_onnx
from .postprocess import softmax


@dataclass(frozen=True)
class ModelIO:
    input_name: str
    output_name: str
    layout: str  # "NCHW" (float32, normalised) or "NHWC" (uint8, a --fuse-preprocess bundle: the graph normalises)
    dtype: str  # "float32" | "uint8"
    height: int | None  # None when the graph leaves it dynamic
    width: int | None
    num_classes: int | None
    outputs_probabilities: bool  # False: the runtime applies softmax

    @property
    def fused_preprocess(self) -> bool:
        return self.layout == "NHWC"

    @property
    def chw(self) -> tuple[int | None, int | None, int | None]:
        return 3, self.height, self.width

    def triton_input(self) -> tuple[str, list]:
        """(Triton data_type, dims without the batch dimension)."""
        if self.fused_preprocess:
            return "TYPE_UINT8", [self.height, self.width, 3]
        return "TYPE_FP32", [3, self.height, self.width]

    @classmethod
    def from_session(cls, session, bundle: Bundle) -> "ModelIO":
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if len(inputs) != 1:
            raise BundleError(f"{bundle.onnx_path}: expected one input, the model has {len(inputs)}")
        shape = list(inputs[0].shape)
        if inputs[0].type == "tensor(uint8)" and len(shape) == 4 and shape[-1] == 3:
            layout, dtype, h, w = "NHWC", "uint8", shape[1], shape[2]
        elif inputs[0].type == "tensor(float)" and len(shape) == 4:
            layout, dtype, h, w = "NCHW", "float32", shape[2], shape[3]
        else:
            raise BundleError(
                f"{bundle.onnx_path}: expected a float32 NCHW (or fused uint8 NHWC) input, got {inputs[0].type} "
                f"of shape {shape}"
            )
        classes = outputs[0].shape[-1] if outputs[0].shape and isinstance(outputs[0].shape[-1], int) else None
        recorded = bundle.output_is_probabilities
        probs = recorded if recorded is not None else inspect_onnx(bundle.onnx_path).ends_in_softmax
        return cls(inputs[0].name, outputs[0].name, layout, dtype, h if isinstance(h, int) else None,
                   w if isinstance(w, int) else None, classes, bool(probs))


class LoadedModel:
    """A bundle's onnxruntime session and its contract, loaded once: the one object that runs the network. The
    Classifier schedules batches over it; serving and the Triton export read its contract."""

    def __init__(self, bundle: Bundle, device_request, options=None):
        from .session import SessionOptions, create_session

        self.bundle = bundle
        self.device_request = device_request
        self.options = options or SessionOptions()
        self.session = create_session(bundle.onnx_path, device_request, self.options)
        self.io = ModelIO.from_session(self.session, bundle)
        self._run_options = None
        self.latency_session = None  # see add_latency_session
        self._latency_run_options = None

    def add_latency_session(self) -> bool:
        """A second CPU session on the same model whose intra-op threads spin between the ops of a run and stop when
        it returns, for a run with nothing beside it (a server's lone request): scripts/loadtest, paired blocks at 1
        client, +10 % req/s and a lower p99 than the sleeping workers of the main session. Beside decoding threads
        the spinning costs more than it saves (2 and 4 clients: -9 % and -6 %), so batches keep the main session.
        Costs one more copy of the weights. Returns False (and adds nothing) off the CPU or on one intra-op thread,
        where nothing spins."""
        from dataclasses import replace

        from .session import arena_shrinking_run_options, create_session, session_device

        if session_device(self.session) != "cpu" or (self.options.intra_op_num_threads or 2) < 2:
            return False
        self.latency_session = create_session(self.bundle.onnx_path, self.device_request,
                                              replace(self.options, allow_spinning=True, stop_spinning_after_run=True))
        if self._run_options is not None:
            self._latency_run_options = arena_shrinking_run_options(self.latency_session)
        return True

    @property
    def device(self) -> str:
        from .session import session_device

        return session_device(self.session)

    def release_memory_after_runs(self) -> None:
        """Return onnxruntime's CPU arena to the allocator after every run (for long-lived servers whose batch sizes
        vary: without it the arena keeps the memory of the largest batch ever seen)."""
        from .session import arena_shrinking_run_options

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
