"""The model contract: what a bundle's network takes and returns, derived once from the onnxruntime session and the
bundle (inference.yml + manifest.json). ``OnnxModel`` (runtime/model.py) holds it; the classifier, serving, the
Triton and web exports and the converter's checks all read this one object instead of re-deriving layout, dtype, size, class count and "probabilities or logits"."""
from __future__ import annotations

from dataclasses import dataclass

from .bundle import Bundle
from .errors import BundleError
from .onnx_graph import inspect_onnx


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

    def to_dict(self) -> dict:
        """The contract as JSON (model.json of export-web, imgcls_client.json of export-triton): input name, layout,
        dtype and size; output name, class count and whether it holds probabilities."""
        return {"input": {"name": self.input_name, "layout": self.layout, "dtype": self.dtype, "height": self.height,
                          "width": self.width},
                "output": {"name": self.output_name, "probabilities": self.outputs_probabilities,
                           "classes": self.num_classes}}

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
