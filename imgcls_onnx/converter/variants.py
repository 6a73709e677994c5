"""Bundle variants: preprocessing fused into the graph (uint8 NHWC input), fp16 weights, int8 static quantisation.

Each variant is measured against the float32 model it came from on the same inputs before it is written.
"""
from __future__ import annotations

import copy
import os
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from ..runtime.images import load_image
from ..runtime.transforms import CropImage, NormalizeImage, PreprocessSpec, ResizeImage
from .deps import import_onnx
from .errors import ConversionError


def split_preprocess(spec: PreprocessSpec) -> tuple[tuple, NormalizeImage]:
    """The uint8 part (resize, crop) and the NormalizeImage that the graph will take over."""
    if spec.normalize_tail is None:
        raise ConversionError("--fuse-preprocess needs an op list ending in NormalizeImage (hwc) then ToCHWImage")
    if not all(isinstance(op, (ResizeImage, CropImage)) for op in spec.image_ops):
        raise ConversionError("--fuse-preprocess supports ResizeImage and CropImage before NormalizeImage")
    return spec.image_ops, spec.normalize_tail


def fuse_preprocess(model, norm: NormalizeImage):
    """Prepend Cast(uint8->float) * alpha + beta and NHWC->NCHW to the graph; the input becomes uint8 NHWC."""
    onnx = import_onnx()
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    old = graph.input[0]
    dims = old.type.tensor_type.shape.dim
    n, c, h, w = [(d.dim_param or d.dim_value) for d in dims]
    internal = f"{old.name}__nchw_float"
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old.name:
                node.input[i] = internal
    new_input = helper.make_tensor_value_info(old.name, TensorProto.UINT8, [n, h, w, c])
    alpha = numpy_helper.from_array(norm.alpha.reshape(1, 1, 1, 3).astype(np.float32), "imgcls_pre_alpha")
    beta = numpy_helper.from_array(norm.beta.reshape(1, 1, 1, 3).astype(np.float32), "imgcls_pre_beta")
    nodes = [
        helper.make_node("Cast", [old.name], ["imgcls_pre_float"], to=TensorProto.FLOAT, name="imgcls_pre_cast"),
        helper.make_node("Mul", ["imgcls_pre_float", "imgcls_pre_alpha"], ["imgcls_pre_scaled"], name="imgcls_pre_mul"),
        helper.make_node("Add", ["imgcls_pre_scaled", "imgcls_pre_beta"], ["imgcls_pre_norm"], name="imgcls_pre_add"),
        helper.make_node("Transpose", ["imgcls_pre_norm"], [internal], perm=[0, 3, 1, 2], name="imgcls_pre_nchw"),
    ]
    old_nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes + old_nodes)
    graph.initializer.extend([alpha, beta])
    del graph.input[0]
    graph.input.insert(0, new_input)
    onnx.checker.check_model(model)
    return model


def with_logits_output(model):
    """A copy that also outputs the Softmax's input (the logits), to measure parity before the softmax."""
    from onnx import helper

    m = copy.deepcopy(model)
    prod = {o: n for n in m.graph.node for o in n.output}
    node = prod.get(m.graph.output[0].name)
    while node is not None and node.op_type in ("Cast", "Identity"):  # fp16 keeps float32 I/O through Casts
        node = prod.get(node.input[0])
    if node is None or node.op_type != "Softmax":
        return m, False
    logits = node.input[0]
    if logits in prod and prod[logits].op_type != "Cast":
        # fp16 graphs hold float16 logits: expose a float32 copy so both sides compare the same type
        cast = f"{logits}__as_float32"
        from onnx import TensorProto

        m.graph.node.append(helper.make_node("Cast", [logits], [cast], to=TensorProto.FLOAT, name="imgcls_logits_cast"))
        logits = cast
    m.graph.output.append(helper.make_empty_tensor_value_info(logits))
    return m, True


def _outputs(model_or_bytes, batch) -> list[np.ndarray]:
    from ..runtime.providers import parse_device
    from ..runtime.session import create_session

    data = model_or_bytes if isinstance(model_or_bytes, bytes) else model_or_bytes.SerializeToString()
    sess = create_session(data, parse_device("cpu"))
    return sess.run(None, {sess.get_inputs()[0].name: batch})


def measure_variant(reference_model, variant_model, ref_batch, var_batch) -> dict:
    """Compare the variant with the float32 model on logits (when the graph ends in Softmax) and on outputs."""
    ref_m, ref_logits = with_logits_output(reference_model)
    var_m, var_logits = with_logits_output(variant_model)
    has_logits = ref_logits and var_logits
    ref = _outputs(ref_m, ref_batch)
    var = _outputs(var_m, var_batch)
    out = {"max_abs_output_difference": float(np.abs(ref[0] - var[0]).max()),
           "top1_agreement": float(np.mean(ref[0].argmax(1) == var[0].argmax(1)))}
    if has_logits:
        rng = float(ref[1].max() - ref[1].min())
        out["max_abs_logit_difference"] = float(np.abs(ref[1] - var[1]).max())
        out["relative_logit_difference"] = out["max_abs_logit_difference"] / rng if rng else None
    return out


def uint8_batch(head_ops: Sequence, paths_or_images: Sequence) -> np.ndarray:
    images = []
    for p in paths_or_images:
        x = load_image(p) if not isinstance(p, np.ndarray) else p
        for op in head_ops:
            x = op(x)
        images.append(np.ascontiguousarray(x))
    return np.stack(images).astype(np.uint8)


def to_fp16(model):
    try:
        from onnxconverter_common import float16
    except ImportError as e:
        raise ConversionError("--precision fp16 needs onnxconverter-common (pip install onnxconverter-common)") from e
    return float16.convert_float_to_float16(model, keep_io_types=True)


# what to_int8 makes, recorded in the bundle's manifest (variant.quantisation); the runtime reads
# weights_reduced_range to decide whether this CPU can change the result (runtime/cpu.py)
INT8_QUANTISATION = {"format": "QDQ", "activations": "uint8, per tensor", "weights": "int8, per channel, 7-bit range",
                     "weights_reduced_range": True}


def measured_on(model) -> dict:
    """Where a variant's vs_float32 figure was measured (manifest ``variant.measured_on``): the CPU's flags that pick
    onnxruntime's kernels, whether its u8s8 integer kernels are exact here (VNNI/AMX, or not x86-64), and whether the
    written graph's int8 results depend on the CPU (u8s8 kernels with 8-bit weights, runtime/onnx_graph.py): then
    the figure holds only on CPUs whose kernels are exact like this one's or saturate like it."""
    from ..runtime.cpu import cpu_features, int8_may_saturate
    from ..runtime.onnx_graph import inspect_onnx_bytes

    features = cpu_features()
    info = inspect_onnx_bytes(model.SerializeToString())
    return {**features.describe(), "int8_exact_here": not int8_may_saturate(features, weights_reduced_range=False),
            "int8_depends_on_cpu": info.int8_depends_on_cpu, "int8_8bit_kernels": list(info.u8s8_8bit)}


def to_int8(model, spec: PreprocessSpec, calibration_images: Sequence[str], per_channel: bool = True):
    """onnxruntime static quantisation (QDQ, uint8 activations, int8 weights in 7 bits) calibrated on the user's
    images."""
    if not calibration_images:
        raise ConversionError("--precision int8 needs --calibration-images DIR (images like the ones you will classify)")
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    onnx = import_onnx()
    name = model.graph.input[0].name
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < 13:  # per-channel DequantizeLinear needs its `axis` attribute (opset 13)
        from onnx import version_converter

        model = version_converter.convert_version(model, 13)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter([{name: spec.batch([load_image(p)])} for p in calibration_images])

        def get_next(self):
            return next(self.items, None)

    # nodes_to_exclude below matches by name: an unnamed Softmax would exclude every unnamed node (nothing quantised)
    for i, node in enumerate(model.graph.node):
        if not node.name:
            node.name = f"{node.op_type}_{i}"
    with tempfile.TemporaryDirectory(prefix="imgcls-int8-") as tmp:
        src, pre, dst = (Path(tmp) / f for f in ("fp32.onnx", "pre.onnx", "int8.onnx"))
        onnx.save(model, str(src))
        try:
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        except Exception:
            pre = src
        # the final Softmax stays float: probabilities keep their precision and logits stay measurable
        softmax = [n.name for n in model.graph.node if n.op_type == "Softmax"]
        # 7-bit weights (reduce_range): onnxruntime's u8s8 kernels on x86-64 without VNNI sum pairs of u8 x s8
        # products in 16 bits, which saturate with 8-bit weights; with 7-bit weights no pair sum can overflow, so
        # the integer results are the same on AVX2, AVX-512, VNNI/AMX and ARM (runtime/cpu.py; the measured figures
        # and the formats compared: docs/conversion.md; tests/converter/test_int8_portable.py shows it)
        quantize_static(str(pre), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=per_channel,
                        reduce_range=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        nodes_to_exclude=softmax)
        quantised = onnx.load(str(dst))
    if not any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in quantised.graph.node):
        raise ConversionError("int8 quantisation left the graph in float32 (no QuantizeLinear/DequantizeLinear node); "
                              "nothing was quantised")
    return quantised


def calibration_list(folder: "str | os.PathLike[str] | None", limit: int = 200) -> list[str]:
    if not folder:
        return []
    from ..runtime.inputs import _walk_dir

    files = list(_walk_dir(Path(folder)))
    if not files:
        raise ConversionError(f"no images found under {folder}")
    step = max(1, len(files) // limit)
    return files[::step][:limit]
