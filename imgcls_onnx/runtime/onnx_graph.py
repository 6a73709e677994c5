"""Read what the runtime needs from an ONNX file's protobuf without the ``onnx`` package.

The runtime must not depend on ``onnx``; onnxruntime does not expose graph nodes. We only need the opset,
the producer, for each graph output the op that produces it (to know whether the model ends in Softmax), and the
integer kernels whose results depend on the CPU (below). This walks the protobuf wire format and skips everything
else: initializers are views into the file's bytes, never copied, and only the int8 weights of integer kernels are
read (as a numpy view).

CPU-dependent int8: onnxruntime's u8s8 kernels (uint8 activations times int8 weights) on x86-64 without VNNI/AMX sum
pairs of products in 16 bits, which saturate when a weight lies outside [-64, 63] (runtime/cpu.py). The kernels
that take that path: QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger (and onnxruntime's QGemm,
MatMulIntegerToFloat, DynamicQuantizeMatMul), and the QDQ form onnxruntime fuses into them (Conv / MatMul / Gemm fed
by a DequantizeLinear of uint8 activations and one of an int8 constant).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ModelLoadError

# ModelProto fields
_MODEL_PRODUCER_NAME = 2
_MODEL_GRAPH = 7
_MODEL_OPSET_IMPORT = 8
# GraphProto fields
_GRAPH_NODE = 1
_GRAPH_OUTPUT = 12
_GRAPH_INITIALIZER = 5
_GRAPH_INPUT = 11
# NodeProto fields
_NODE_INPUT = 1
_NODE_OUTPUT = 2
_NODE_NAME = 3
_NODE_OP_TYPE = 4
_NODE_ATTRIBUTE = 5
# AttributeProto
_ATTR_NAME = 1
_ATTR_TENSOR = 5
# TensorProto
_TENSOR_DATA_TYPE = 2
_TENSOR_INT32_DATA = 5
_TENSOR_NAME = 8
_TENSOR_RAW_DATA = 9
_TENSOR_EXTERNAL_DATA = 13
_TENSOR_DATA_LOCATION = 14
_UINT8, _INT8 = 2, 3  # TensorProto.DataType
# OperatorSetIdProto / ValueInfoProto / TypeProto
_OPSET_DOMAIN = 1
_OPSET_VERSION = 2
_VALUEINFO_NAME = 1
_VALUEINFO_TYPE = 2
_TYPE_TENSOR = 1
_TENSOR_TYPE_ELEM = 1

SEVEN_BITS = (-64, 64)  # onnxruntime's reduce_range for int8; |w| <= 64 cannot saturate a u8s8 pair sum: 2*255*64 < 2**15
# integer kernels: (activation input, its zero point input, weight input); QGemm, MatMulIntegerToFloat and
# DynamicQuantizeMatMul (uint8 activations quantised inside) are onnxruntime's com.microsoft ops of the same kernels
_INTEGER_KERNELS = {"QLinearConv": (0, 2, 3), "QLinearMatMul": (0, 2, 3), "ConvInteger": (0, 2, 1),
                    "MatMulInteger": (0, 2, 1), "QGemm": (0, 2, 3), "MatMulIntegerToFloat": (0, 4, 1),
                    "DynamicQuantizeMatMul": (0, 99, 1)}
_QDQ_CONSUMERS = ("Conv", "MatMul", "Gemm")

# Ops that only reshape or pass data through: look behind them for a Softmax.
_PASS_THROUGH = {"Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Cast", "Scale"}


@dataclass(frozen=True)
class OnnxGraphInfo:
    producer: str
    opset: int | None
    output_names: tuple[str, ...]
    output_ops: tuple[str, ...]  # op type producing each output, after skipping pass-through ops
    u8s8_kernels: int = 0  # integer kernels (or QDQ groups) that multiply uint8 activations by int8 constant weights
    u8s8_8bit: tuple[str, ...] = ()  # those of them whose weights use more than 7 bits (node names)

    @property
    def ends_in_softmax(self) -> bool:
        return bool(self.output_ops) and self.output_ops[0] == "Softmax"

    @property
    def int8_depends_on_cpu(self) -> bool:
        """Its integer results may differ between x86-64 CPUs with and without VNNI/AMX (module docstring)."""
        return bool(self.u8s8_8bit)


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise ValueError("varint too long")


def _fields(buf: memoryview):
    """Yield (field_number, wire_type, value) where value is an int or a memoryview for length-delimited."""
    pos = 0
    end = len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = int.from_bytes(buf[pos : pos + 8], "little"), pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > end:
                raise ValueError("truncated length-delimited field")
            value, pos = buf[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = int.from_bytes(buf[pos : pos + 4], "little"), pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if pos > end:
            raise ValueError("truncated field")
        yield field, wire, value


@dataclass
class _Tensor:
    data_type: int | None
    raw: memoryview | None = None
    int32: list | None = None
    external: dict | None = None


def _tensor(buf: memoryview) -> tuple[str, _Tensor]:
    name, t = "", _Tensor(None)
    location = 0
    for f, w, v in _fields(buf):
        if f == _TENSOR_DATA_TYPE and w == 0:
            t.data_type = v
        elif f == _TENSOR_NAME and w == 2:
            name = bytes(v).decode("utf-8", "replace")
        elif f == _TENSOR_RAW_DATA and w == 2:
            t.raw = v
        elif f == _TENSOR_INT32_DATA:
            t.int32 = t.int32 or []
            if w == 2:  # packed
                pos = 0
                while pos < len(v):
                    value, pos = _varint(v, pos)
                    t.int32.append(value)
            elif w == 0:
                t.int32.append(v)
        elif f == _TENSOR_EXTERNAL_DATA and w == 2:
            key = value = ""
            for f2, w2, v2 in _fields(v):
                if f2 == 1 and w2 == 2:
                    key = bytes(v2).decode("utf-8", "replace")
                elif f2 == 2 and w2 == 2:
                    value = bytes(v2).decode("utf-8", "replace")
            t.external = {**(t.external or {}), key: value}
        elif f == _TENSOR_DATA_LOCATION and w == 0:
            location = v
    if location != 1:
        t.external = None
    return name, t


def _int8_range(t: _Tensor, directory: Path | None) -> tuple[int, int] | None:
    """(min, max) of an int8 tensor's values, or None when they cannot be read (external data without a folder)."""
    import numpy as np  # noqa: PLC0415 - start-up time: numpy loads only when int8 weights are read

    if t.external is not None:
        if directory is None or not t.external.get("location"):
            return None
        try:
            with open(directory / t.external["location"], "rb") as f:
                f.seek(int(t.external.get("offset") or 0))
                length = t.external.get("length")
                data = f.read(int(length)) if length else f.read()
        except (OSError, ValueError):
            return None
        values = np.frombuffer(data, np.int8)
    elif t.raw is not None:
        values = np.frombuffer(t.raw, np.int8)
    elif t.int32:
        values = np.array([v - (1 << 64) if v >= 1 << 63 else v for v in t.int32], np.int64)
    else:
        return None
    return (int(values.min()), int(values.max())) if values.size else None


def _u8s8_kernels(nodes: list, tensors: dict, input_types: dict, directory: Path | None) -> tuple[int, list[str]]:
    """(kernels with uint8 activations and int8 constant weights, the names of those whose weights use 8 bits)."""
    producer = {out: node for node in nodes for out in node[2]}

    def dtype(name: str) -> int | None:
        if name in tensors:
            return tensors[name].data_type
        if name in input_types:
            return input_types[name]
        node = producer.get(name)
        if node is None:
            return None
        if node[0] == "DynamicQuantizeLinear":
            return _UINT8
        if node[0] == "QuantizeLinear":  # its zero point's type; uint8 when it has none
            return dtype(node[1][2]) if len(node[1]) > 2 and node[1][2] else _UINT8
        return None

    def activation_is_u8(x: str, zero_point: str | None) -> bool:
        known = dtype(zero_point) if zero_point else None
        return (known if known is not None else dtype(x)) in (_UINT8, None)  # unknown: uint8, the common case

    found, wide = 0, []
    for index, (op, inputs, _outputs, name) in enumerate(nodes):
        if op in _INTEGER_KERNELS:
            a, zp, w = _INTEGER_KERNELS[op]
            if len(inputs) <= max(a, w):
                continue
            act, act_zp, weight = inputs[a], inputs[zp] if len(inputs) > zp else None, inputs[w]
        elif op in _QDQ_CONSUMERS and len(inputs) >= 2:
            dq_a, dq_w = producer.get(inputs[0]), producer.get(inputs[1])
            if not (dq_a and dq_w and dq_a[0] == "DequantizeLinear" == dq_w[0] and dq_a[1] and dq_w[1]):
                continue
            act, act_zp, weight = dq_a[1][0], dq_a[1][2] if len(dq_a[1]) > 2 else None, dq_w[1][0]
        else:
            continue
        t = tensors.get(weight)
        if t is None or t.data_type != _INT8 or not activation_is_u8(act, act_zp):
            continue
        found += 1
        values = _int8_range(t, directory)
        if values is not None and (values[0] < SEVEN_BITS[0] or values[1] > SEVEN_BITS[1]):
            wide.append(name or f"{op}#{index}")
    return found, wide


def inspect_onnx_bytes(data: bytes, directory: Path | None = None) -> OnnxGraphInfo:
    """``directory``: where external tensor data lives (the model's folder); without it such weights go unread."""
    producer, opset, graph = _model_fields(memoryview(data))
    if graph is None:
        raise ValueError("no graph in the model")
    g = _read_graph(graph)
    output_ops = [_output_op(name, g.producer_of) for name in g.outputs]
    found, wide = _u8s8_kernels(g.nodes, g.tensors, g.input_types, directory)
    return OnnxGraphInfo(producer, opset, tuple(g.outputs), tuple(output_ops), found, tuple(wide))


def _model_fields(buf: memoryview) -> tuple[str, int | None, memoryview | None]:
    """ModelProto: (producer name, the default domain's opset, the graph's bytes)."""
    producer, opset, graph = "", None, None
    for fnum, wire, value in _fields(buf):
        if fnum == _MODEL_PRODUCER_NAME and wire == 2:
            producer = bytes(value).decode("utf-8", "replace")
        elif fnum == _MODEL_GRAPH and wire == 2:
            graph = value
        elif fnum == _MODEL_OPSET_IMPORT and wire == 2:
            domain, version = "", None
            for f, w, v in _fields(value):
                if f == _OPSET_DOMAIN and w == 2:
                    domain = bytes(v).decode()
                elif f == _OPSET_VERSION and w == 0:
                    version = v
            if domain in ("", "ai.onnx"):
                opset = version
    return producer, opset, graph


@dataclass
class _Graph:
    producer_of: dict = field(default_factory=dict)  # output name -> (op type, inputs)
    outputs: list = field(default_factory=list)
    nodes: list = field(default_factory=list)  # (op type, inputs, outputs, name)
    tensors: dict = field(default_factory=dict)  # initializers and Constant nodes' values
    input_types: dict = field(default_factory=dict)  # graph input -> element type


def _read_graph(graph: memoryview) -> _Graph:
    g = _Graph()
    for fnum, wire, value in _fields(graph):
        if wire != 2:
            continue
        if fnum == _GRAPH_NODE:
            op_type, inputs, node_outputs, node_name, constant = _node(value)
            for name in node_outputs:
                g.producer_of[name] = (op_type, inputs)
            g.nodes.append((op_type, inputs, node_outputs, node_name))
            if op_type == "Constant" and constant is not None and node_outputs:
                g.tensors[node_outputs[0]] = _tensor(constant)[1]
        elif fnum == _GRAPH_INITIALIZER:
            name, tensor = _tensor(value)
            g.tensors[name] = tensor
        elif fnum == _GRAPH_INPUT:
            name, elem = _value_info(value)
            if elem is not None:
                g.input_types[name] = elem
        elif fnum == _GRAPH_OUTPUT:
            g.outputs.append(_value_info(value)[0])
    return g


def _node(value: memoryview) -> tuple[str, list[str], list[str], str, memoryview | None]:
    """NodeProto: (op type, inputs, outputs, name, the 'value' tensor attribute of a Constant)."""
    op_type, inputs, node_outputs, node_name, constant = "", [], [], "", None
    for f, w, v in _fields(value):
        if w != 2:
            continue
        if f == _NODE_OP_TYPE:
            op_type = bytes(v).decode()
        elif f == _NODE_INPUT:
            inputs.append(bytes(v).decode())
        elif f == _NODE_OUTPUT:
            node_outputs.append(bytes(v).decode())
        elif f == _NODE_NAME:
            node_name = bytes(v).decode("utf-8", "replace")
        elif f == _NODE_ATTRIBUTE:
            attr_name, attr_tensor = "", None
            for f2, w2, v2 in _fields(v):
                if f2 == _ATTR_NAME and w2 == 2:
                    attr_name = bytes(v2).decode("utf-8", "replace")
                elif f2 == _ATTR_TENSOR and w2 == 2:
                    attr_tensor = v2
            if attr_name == "value" and attr_tensor is not None:
                constant = attr_tensor
    return op_type, inputs, node_outputs, node_name, constant


def _value_info(value: memoryview) -> tuple[str, int | None]:
    """ValueInfoProto: (name, tensor element type or None)."""
    name, elem = "", None
    for f, w, v in _fields(value):
        if f == _VALUEINFO_NAME and w == 2:
            name = bytes(v).decode()
        elif f == _VALUEINFO_TYPE and w == 2:
            for f2, w2, v2 in _fields(v):
                if f2 == _TYPE_TENSOR and w2 == 2:
                    for f3, w3, v3 in _fields(v2):
                        if f3 == _TENSOR_TYPE_ELEM and w3 == 0:
                            elem = v3
    return name, elem


def _output_op(name: str, producer_of: dict) -> str:
    """The op behind an output, looking through pass-through ops (Identity, Reshape, ...; at most 16 deep)."""
    op = ""
    seen = 0
    while name in producer_of and seen < 16:
        op, inputs = producer_of[name]
        if op not in _PASS_THROUGH or not inputs:
            break
        name = inputs[0]
        seen += 1
    return op


def inspect_onnx(path: Path) -> OnnxGraphInfo:
    """The file's OnnxGraphInfo, read once per file version (path, size, mtime) in a process."""
    try:
        st = Path(path).stat()
        return _inspect_file(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    except OSError as e:
        raise ModelLoadError(f"cannot read ONNX model {str(path)!r}: {e.strerror or e}") from e
    except ValueError as e:
        raise ModelLoadError(
            f"{str(path)!r} is not a valid ONNX model ({e}); the file may be truncated or not an ONNX file. "
            "Re-create it with `imgcls-onnx convert`."
        ) from e


@functools.lru_cache(maxsize=8)
def _inspect_file(path: str, _size: int, _mtime_ns: int) -> OnnxGraphInfo:
    return inspect_onnx_bytes(Path(path).read_bytes(), Path(path).parent)
