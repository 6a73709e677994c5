"""int8 graphs whose results depend on the CPU, whoever made them (#30): integer kernels fed uint8 activations and int8
weights that use more than 7 bits (outside onnxruntime's reduce_range [-64, 64]) saturate in onnxruntime's u8s8
kernels on x86-64 without VNNI/AMX. The runtime's graph reader (no onnx package) finds them in every form: QLinearConv,
QLinearMatMul, ConvInteger, MatMulInteger, QGemm and QDQ pairs, with weights stored raw, as int32_data, in a Constant
node or as external data; loading one on such a CPU warns once. Under qemu-x86_64 -cpu EPYC-Rome (AVX2, no VNNI),
as tests/converter/test_int8_portable.py runs it, an 8-bit graph from outside the converter warns once and a 7-bit
one does not. The graphs are built here with onnx.helper and onnxruntime.quantization; expected findings by hand."""
from __future__ import annotations

import platform
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT, structured_image, tiny_onnx_model, write_jpeg

from imgcls_onnx.runtime.bundle import BundleConfig, load_bundle, write_bundle
from imgcls_onnx.runtime.classifier import _warn_if_int8_may_saturate
from imgcls_onnx.runtime.cpu import CpuFeatures, with_cpuid
from imgcls_onnx.runtime.errors import ImgclsWarning
from imgcls_onnx.runtime.onnx_graph import inspect_onnx
from imgcls_onnx.runtime.transforms import PreprocessSpec

onnx = pytest.importorskip("onnx", reason="building test graphs needs the onnx package (convert extra)")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

QEMU_X86 = "qemu-x86_64-static"
AVX2_ONLY_CPU = "EPYC-Rome"
AVX2 = CpuFeatures("x86_64", frozenset({"sse4_1", "avx", "avx2", "fma"}))
VNNI = CpuFeatures("x86_64", frozenset({"avx2", "avx512f", "avx512_vnni"}))
ALDER_LAKE = CpuFeatures("x86_64", frozenset({"avx2", "avx_vnni"}))
ARM = CpuFeatures("aarch64", frozenset({"asimd"}))
SEVEN_BIT = np.array([-64, 64, 0, 63, -63, 1, -1, 5] * 27)[:216]  # 8 x 3 x 3 x 3, both ends of [-64, 64]


def _weights(*extra: int) -> np.ndarray:
    w = SEVEN_BIT.copy()
    w[: len(extra)] = extra
    return w.reshape(8, 3, 3, 3)


def qlinear_conv(path: Path, weights: np.ndarray, store: str = "raw", act=np.uint8, weight_type=np.int8) -> Path:
    """x -> QuantizeLinear -> QLinearConv(weights) -> DequantizeLinear -> GlobalAveragePool -> Flatten (8 classes).
    ``store``: how the weights are written (raw_data, int32_data, a Constant node, external data)."""
    w = weights.astype(weight_type)
    if store == "int32":
        w_init = helper.make_tensor("w", TensorProto.INT8 if weight_type == np.int8 else TensorProto.UINT8, w.shape,
                                    w.reshape(-1).tolist(), raw=False)
    else:
        w_init = numpy_helper.from_array(w, "w")
    act_zero = np.array(128 if act == np.uint8 else 0, act)
    inits = [numpy_helper.from_array(v, n) for v, n in (
        (np.array(0.02, np.float32), "xs"), (act_zero, "xz"), (np.array(0.01, np.float32), "ws"),
        (np.array(0, weight_type), "wz"), (np.array(0.5, np.float32), "ys"), (act_zero, "yz"))]
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
             helper.make_node("QLinearConv", ["xq", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["yq"], pads=[1, 1, 1, 1],
                              name="conv1"),
             helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"]),
             helper.make_node("GlobalAveragePool", ["y"], ["p"]),
             helper.make_node("Flatten", ["p"], ["out"])]
    if store == "constant":
        nodes.insert(0, helper.make_node("Constant", [], ["w"], value=w_init))
    else:
        inits.append(w_init)
    graph = helper.make_graph(nodes, "q", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 32, 32])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 8])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="another-tool")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    if store == "external":
        onnx.save(model, str(path), save_as_external_data=True, location=path.name + ".data", size_threshold=0)
    else:
        onnx.save(model, str(path))
    return path


class _Calibration:
    def __init__(self):
        rng = np.random.default_rng(0)
        self.items = iter([{"x": rng.normal(0, 1, (1, 3, 32, 32)).astype(np.float32)} for _ in range(4)])

    def get_next(self):
        return next(self.items, None)


def quantised(path: Path, how: str, reduce_range: bool) -> Path:
    """A float tiny model quantised by onnxruntime.quantization: static QDQ, static QOperator or dynamic."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    src = tiny_onnx_model(path.parent / f"{path.stem}.float.onnx", num_classes=10, softmax=False, size=32, seed=1)
    if how == "dynamic":
        quantize_dynamic(str(src), str(path), reduce_range=reduce_range, weight_type=QuantType.QInt8)
    else:
        calibration = type("Reader", (_Calibration, CalibrationDataReader), {})()
        quantize_static(str(src), str(path), calibration, reduce_range=reduce_range, per_channel=True,
                        quant_format=QuantFormat.QDQ if how == "qdq" else QuantFormat.QOperator,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return path


# (name, builder, u8s8 kernels, the 8-bit ones): by hand. quantize_static/dynamic name no nodes: "<op>#<index>".
GRAPHS = [
    ("QLinearConv 7-bit raw", lambda p: qlinear_conv(p, _weights()), 1, ()),
    ("QLinearConv 8-bit raw (65)", lambda p: qlinear_conv(p, _weights(65)), 1, ("conv1",)),
    ("QLinearConv 8-bit raw (-65)", lambda p: qlinear_conv(p, _weights(0, -65)), 1, ("conv1",)),
    ("QLinearConv 8-bit raw (127, -128)", lambda p: qlinear_conv(p, _weights(127, -128)), 1, ("conv1",)),
    ("QLinearConv 8-bit int32_data", lambda p: qlinear_conv(p, _weights(-100), "int32"), 1, ("conv1",)),
    ("QLinearConv 7-bit int32_data", lambda p: qlinear_conv(p, _weights(), "int32"), 1, ()),
    ("QLinearConv 8-bit Constant node", lambda p: qlinear_conv(p, _weights(90), "constant"), 1, ("conv1",)),
    ("QLinearConv 8-bit external data", lambda p: qlinear_conv(p, _weights(0, 0, 70), "external"), 1, ("conv1",)),
    ("QLinearConv 7-bit external data", lambda p: qlinear_conv(p, _weights(), "external"), 1, ()),
    ("int8 activations (s8s8)", lambda p: qlinear_conv(p, _weights(120), act=np.int8), 0, ()),
    ("uint8 weights (u8u8)", lambda p: qlinear_conv(p, np.abs(_weights(200)), weight_type=np.uint8), 0, ()),
    ("quantize_static QDQ 8-bit", lambda p: quantised(p, "qdq", False), 2, ("Conv#5", "Gemm#14")),
    ("quantize_static QDQ reduce_range", lambda p: quantised(p, "qdq", True), 2, ()),
    ("quantize_static QOperator 8-bit", lambda p: quantised(p, "qop", False), 2, ("QLinearConv#1", "QGemm#4")),
    ("quantize_static QOperator reduce_range", lambda p: quantised(p, "qop", True), 2, ()),
    ("quantize_dynamic 8-bit", lambda p: quantised(p, "dynamic", False), 2, ("ConvInteger#2", "MatMulInteger#10")),
    ("quantize_dynamic reduce_range", lambda p: quantised(p, "dynamic", True), 2, ()),
    ("float", lambda p: tiny_onnx_model(p, num_classes=10, softmax=False, size=32), 0, ()),
]


@pytest.mark.parametrize("name, build, kernels, eight_bit", GRAPHS, ids=[g[0] for g in GRAPHS])
def test_the_graph_reader_finds_u8s8_kernels_with_8_bit_weights(tmp_path, name, build, kernels, eight_bit):
    info = inspect_onnx(build(tmp_path / "m.onnx"))
    assert (info.u8s8_kernels, info.u8s8_8bit) == (kernels, eight_bit)
    assert info.int8_depends_on_cpu is bool(eight_bit)


def _bundle(directory: Path, onnx_path: Path, manifest: dict | None = None) -> Path:
    config = BundleConfig("int8", PreprocessSpec.imagenet(resize_short=36, crop=32), 5, None)
    return write_bundle(directory, onnx_path, config, {"output": "logits", **(manifest or {})}, overwrite=True)


def test_an_8_bit_graph_from_elsewhere_warns_once_on_a_cpu_without_vnni(tmp_path):
    wide = load_bundle(_bundle(tmp_path / "wide", qlinear_conv(tmp_path / "w.onnx", _weights(65))))
    seven = load_bundle(_bundle(tmp_path / "seven", qlinear_conv(tmp_path / "s.onnx", _weights())))
    float_ = load_bundle(_bundle(tmp_path / "float", tiny_onnx_model(tmp_path / "f.onnx", 8, softmax=False)))
    with pytest.warns(ImgclsWarning) as said:
        assert _warn_if_int8_may_saturate(wide, AVX2)
        assert _warn_if_int8_may_saturate(wide, AVX2)  # still true, said once
    assert len(said) == 1
    err = str(said[0].message)
    assert str(wide.onnx_path) in err and "conv1" in err and "without VNNI" in err
    assert "may differ from a VNNI machine" in err and "--precision int8" in err and "imgcls-onnx convert" in err
    with warnings.catch_warnings(record=True) as more:
        warnings.simplefilter("always")
        for bundle, cpu in ((seven, AVX2), (float_, AVX2), (wide, VNNI), (wide, ALDER_LAKE), (wide, ARM)):
            assert not _warn_if_int8_may_saturate(bundle, cpu), (bundle.directory.name, cpu)
    assert more == []


def test_numpy_cpuid_flags_replace_the_host_cpuinfo_on_x86():
    """Under qemu-user /proc/cpuinfo is the host's: onnxruntime (and numpy) see the emulated CPU's CPUID."""
    host = CpuFeatures("x86_64", frozenset({"avx2", "avx512f", "avx512_vnni", "avx_vnni"}))
    emulated = with_cpuid(host, {"AVX2": True, "AVX512F": False, "AVX512VNNI": False})
    assert emulated.flags == {"avx2", "avx_vnni"}
    assert with_cpuid(host, None) is host
    assert with_cpuid(ARM, {"AVX2": True}) is ARM


WARN_RUN = """
import sys
from numpy._core._multiarray_umath import __cpu_features__ as f
from imgcls_onnx.runtime.classifier import Classifier
print("CPU", int(f.get("AVX2", 0)), int(f.get("AVX512F", 0)), int(f.get("AVX512VNNI", 0)), flush=True)
for _ in range(2):  # two loads of the same model: one warning
    with Classifier.from_dir(sys.argv[1], device="cpu", threads=1) as clf:
        assert clf.predict_one(sys.argv[2]).ok
"""


def _load_twice(bundle: Path, image: Path, qemu_cpu: str | None) -> tuple[str, list[int]]:
    cmd = [sys.executable, "-c", WARN_RUN, str(bundle), str(image)]
    if qemu_cpu:
        cmd = [QEMU_X86, "-cpu", qemu_cpu, *cmd]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(bundle.parent)}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cpu = next(ln for ln in proc.stdout.splitlines() if ln.startswith("CPU")).split()[1:]
    said = "\n".join(ln for ln in proc.stderr.splitlines() if "ImgclsWarning: " in ln)  # Python's format
    return said, [int(c) for c in cpu]


@pytest.mark.slow
def test_under_an_avx2_only_cpu_an_8_bit_graph_warns_once_and_a_7_bit_one_does_not(tmp_path):
    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("not applicable: emulates an x86-64 CPU beside this x86-64 one")
    if shutil.which(QEMU_X86) is None:
        pytest.fail("qemu-x86_64-static is missing: apt-get install -y qemu-user-static (./scripts/test does)")
    image = write_jpeg(tmp_path / "a.jpg", structured_image(40, 48, seed=1))
    wide = _bundle(tmp_path / "wide", quantised(tmp_path / "w.onnx", "qdq", reduce_range=False))
    seven = _bundle(tmp_path / "seven", quantised(tmp_path / "s.onnx", "qdq", reduce_range=True))
    said, cpu = _load_twice(wide, image, AVX2_ONLY_CPU)
    assert cpu == [1, 0, 0], f"the emulated CPU should have AVX2 and no AVX-512/VNNI: {cpu}"
    assert said.count("ImgclsWarning:") == 1, said
    assert "int8 graph" in said and "without VNNI" in said and "may differ from a VNNI machine" in said
    assert "Conv#5" in said and "Gemm#14" in said
    said, _ = _load_twice(seven, image, AVX2_ONLY_CPU)
    assert said == "", said
    # on this machine: a warning only if it has no VNNI/AMX either
    from imgcls_onnx.runtime.cpu import cpu_features, int8_may_saturate

    said, _ = _load_twice(wide, image, None)
    assert said.count("ImgclsWarning:") == int(int8_may_saturate(cpu_features(), False)), said


def test_the_converter_records_whether_its_graph_depends_on_the_cpu(tmp_path):
    """variant.measured_on (converter/variants.measured_on): the CPU's flags, whether its u8s8 kernels are exact, and
    whether the written graph's int8 results depend on the CPU."""
    from imgcls_onnx.converter.variants import measured_on
    from imgcls_onnx.runtime.cpu import cpu_features, int8_may_saturate

    here_exact = not int8_may_saturate(cpu_features(), False)
    wide = measured_on(onnx.load(str(quantised(tmp_path / "w.onnx", "qdq", reduce_range=False))))
    seven = measured_on(onnx.load(str(quantised(tmp_path / "s.onnx", "qdq", reduce_range=True))))
    float_ = measured_on(onnx.load(str(tiny_onnx_model(tmp_path / "f.onnx", softmax=False))))
    assert wide == {**cpu_features().describe(), "int8_exact_here": here_exact, "int8_depends_on_cpu": True,
                    "int8_8bit_kernels": ["Conv#5", "Gemm#14"]}
    assert (seven["int8_depends_on_cpu"], seven["int8_8bit_kernels"]) == (False, [])
    assert (float_["int8_depends_on_cpu"], float_["int8_8bit_kernels"]) == (False, [])
