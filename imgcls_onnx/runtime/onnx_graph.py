"""Read what the runtime needs from an ONNX file's protobuf without the ``onnx`` package.

The runtime must not depend on ``onnx``; onnxruntime does not expose graph nodes. We only need the opset,
the producer and, for each graph output, the op that produces it (to know whether the model ends in
Softmax). This walks the protobuf wire format and skips everything else (initializers are skipped by
length, not copied).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import ModelLoadError

# ModelProto fields
_MODEL_PRODUCER_NAME = 2
_MODEL_GRAPH = 7
_MODEL_OPSET_IMPORT = 8
# GraphProto fields
_GRAPH_NODE = 1
_GRAPH_OUTPUT = 12
# NodeProto fields
_NODE_INPUT = 1
_NODE_OUTPUT = 2
_NODE_OP_TYPE = 4
# OperatorSetIdProto / ValueInfoProto
_OPSET_DOMAIN = 1
_OPSET_VERSION = 2
_VALUEINFO_NAME = 1

# Ops that only reshape or pass data through: look behind them for a Softmax.
_PASS_THROUGH = {"Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Cast", "Scale"}


@dataclass(frozen=True)
class OnnxGraphInfo:
    producer: str
    opset: int | None
    output_names: tuple[str, ...]
    output_ops: tuple[str, ...]  # op type producing each output, after skipping pass-through ops

    @property
    def ends_in_softmax(self) -> bool:
        return bool(self.output_ops) and self.output_ops[0] == "Softmax"


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


def inspect_onnx_bytes(data: bytes) -> OnnxGraphInfo:
    buf = memoryview(data)
    producer = ""
    opset = None
    graph = None
    for field, wire, value in _fields(buf):
        if field == _MODEL_PRODUCER_NAME and wire == 2:
            producer = bytes(value).decode("utf-8", "replace")
        elif field == _MODEL_GRAPH and wire == 2:
            graph = value
        elif field == _MODEL_OPSET_IMPORT and wire == 2:
            domain, version = "", None
            for f, w, v in _fields(value):
                if f == _OPSET_DOMAIN and w == 2:
                    domain = bytes(v).decode()
                elif f == _OPSET_VERSION and w == 0:
                    version = v
            if domain in ("", "ai.onnx"):
                opset = version
    if graph is None:
        raise ValueError("no graph in the model")
    producer_of: dict[str, tuple[str, list[str]]] = {}
    outputs: list[str] = []
    for field, wire, value in _fields(graph):
        if field == _GRAPH_NODE and wire == 2:
            op_type, inputs, node_outputs = "", [], []
            for f, w, v in _fields(value):
                if w != 2:
                    continue
                if f == _NODE_OP_TYPE:
                    op_type = bytes(v).decode()
                elif f == _NODE_INPUT:
                    inputs.append(bytes(v).decode())
                elif f == _NODE_OUTPUT:
                    node_outputs.append(bytes(v).decode())
            for name in node_outputs:
                producer_of[name] = (op_type, inputs)
        elif field == _GRAPH_OUTPUT and wire == 2:
            for f, w, v in _fields(value):
                if f == _VALUEINFO_NAME and w == 2:
                    outputs.append(bytes(v).decode())
    output_ops = []
    for name in outputs:
        op = ""
        seen = 0
        while name in producer_of and seen < 16:
            op, inputs = producer_of[name]
            if op not in _PASS_THROUGH or not inputs:
                break
            name = inputs[0]
            seen += 1
        output_ops.append(op)
    return OnnxGraphInfo(producer, opset, tuple(outputs), tuple(output_ops))


def inspect_onnx(path: Path) -> OnnxGraphInfo:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ModelLoadError(f"cannot read ONNX model {str(path)!r}: {e.strerror or e}") from e
    try:
        return inspect_onnx_bytes(data)
    except ValueError as e:
        raise ModelLoadError(
            f"{str(path)!r} is not a valid ONNX model ({e}); the file may be truncated or not an ONNX file. "
            "Re-create it with `imgcls-onnx convert`."
        ) from e
