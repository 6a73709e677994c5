"""int8 bundles give the same answer on every x86-64 CPU: the real quantiser's output run natively (this machine) and
on an emulated AVX2-only CPU (qemu-x86_64 -cpu EPYC-Rome: AVX2 and FMA, no AVX-512, no VNNI; onnxruntime picks its
kernels by CPUID, which qemu emulates), and on aarch64 (scripts/arm64). With 8-bit weights the AVX2 kernels saturate
(the logits moved by 4.6 there, measured); with the 7-bit weights convert writes they must not move at all."""
from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT, convert_ok, structured_image, tiny_onnx_model, write_jpeg

from imgcls_onnx.runtime.bundle import Bundle, BundleConfig
from imgcls_onnx.runtime.classifier import _warn_if_int8_may_saturate
from imgcls_onnx.runtime.cpu import CpuFeatures, int8_may_saturate, parse_cpuinfo
from imgcls_onnx.runtime.errors import ImgclsWarning
from imgcls_onnx.runtime.transforms import PreprocessSpec

QEMU_X86 = "qemu-x86_64-static"
AVX2_ONLY_CPU = "EPYC-Rome"

RUN = """
import sys, numpy as np, onnxruntime as ort
from numpy._core._multiarray_umath import __cpu_features__ as f
so = ort.SessionOptions(); so.intra_op_num_threads = 1
s = ort.InferenceSession(sys.argv[1], so, providers=["CPUExecutionProvider"])
x = np.load(sys.argv[2])
np.save(sys.argv[3], s.run(None, {s.get_inputs()[0].name: x})[0])
print("CPU", int(f.get("AVX2", 0)), int(f.get("AVX512F", 0)), int(f.get("AVX512_ICL", 0)))
"""


def run_model(onnx_path, batch_path, out_path, qemu_cpu=None, arm=False):
    cmd = [sys.executable, "-c", RUN, str(onnx_path), str(batch_path), str(out_path)]
    if qemu_cpu:
        cmd = [QEMU_X86, "-cpu", qemu_cpu, *cmd]
    if arm:  # the aarch64 harness (scripts/arm64: qemu-aarch64 as a Cortex-A72, the runtime's aarch64 wheels)
        cmd = [str(ROOT / "scripts" / "arm64"), "run", "-c", RUN, str(onnx_path), str(batch_path), str(out_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    cpu = next(ln for ln in proc.stdout.splitlines() if ln.startswith("CPU")).split()[1:]
    return np.load(out_path), [int(c) for c in cpu]


@pytest.mark.convert
def test_int8_gives_the_same_answer_on_an_avx2_only_cpu(tmp_path):
    if platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("not applicable: emulates an x86-64 CPU beside this x86-64 one")
    if shutil.which(QEMU_X86) is None:
        pytest.fail("qemu-x86_64-static is missing: apt-get install -y qemu-user-static (./scripts/test does)")
    src = tiny_onnx_model(tmp_path / "m.onnx", num_classes=1000, softmax=True, size=224, seed=3)
    calib = tmp_path / "calib"
    for i in range(6):
        write_jpeg(calib / f"{i}.jpg", structured_image(240, 320, seed=i))
    convert_ok("--onnx", str(src), "--preset", "PP-LCNet_x1_0", "--precision", "int8", "--out", str(tmp_path / "q"),
               "--calibration-images", str(calib))
    manifest = json.loads((tmp_path / "q" / "manifest.json").read_text())
    variant = manifest["variant"]
    assert variant["quantisation"]["weights_reduced_range"] is True
    assert variant["measured_on"]["machine"] == platform.machine()
    own_flags = set(parse_cpuinfo(Path("/proc/cpuinfo").read_text(), "x86_64").flags)
    assert "avx2" in variant["measured_on"]["flags"] and set(variant["measured_on"]["flags"]) <= own_flags

    spec = PreprocessSpec.imagenet()
    batch = spec.batch([structured_image(240, 320, seed=100 + i)[:, :, ::-1].copy() for i in range(8)])
    np.save(tmp_path / "batch.npy", batch)
    model = tmp_path / "q" / "inference.onnx"
    native, _ = run_model(model, tmp_path / "batch.npy", tmp_path / "native.npy")
    emulated, cpu = run_model(model, tmp_path / "batch.npy", tmp_path / "avx2.npy", qemu_cpu=AVX2_ONLY_CPU)
    assert cpu == [1, 0, 0], f"the emulated CPU should have AVX2 and no AVX-512: {cpu}"
    reference, _ = run_model(src, tmp_path / "batch.npy", tmp_path / "fp32.npy")
    assert np.array_equal(native.argmax(1), reference.argmax(1))
    # the same integer arithmetic on both CPUs: probabilities equal to float noise (measured bit-identical)
    assert np.abs(emulated - native).max() <= 1e-6
    assert np.array_equal(emulated.argmax(1), native.argmax(1))
    # and on aarch64 (its integer kernels never saturate): the same probabilities to float noise
    on_arm, arm_cpu = run_model(model, tmp_path / "batch.npy", tmp_path / "arm.npy", arm=True)
    assert arm_cpu == [0, 0, 0]  # numpy on aarch64 has no x86 features: it really ran there
    assert np.abs(on_arm - native).max() <= 1e-6


def _features(machine, *flags):
    return CpuFeatures(machine, frozenset(flags))


def test_which_cpus_can_change_an_int8_result():
    avx2 = _features("x86_64", "sse4_1", "avx", "avx2", "fma")
    skylake = _features("x86_64", "avx2", "avx512f", "avx512bw")
    vnni = _features("x86_64", "avx2", "avx512f", "avx512_vnni")
    alder = _features("x86_64", "avx2", "avx_vnni")
    arm = _features("aarch64", "asimd", "asimddp")
    assert [int8_may_saturate(f, False) for f in (avx2, skylake, vnni, alder, arm)] == [True, True, False, False, False]
    assert not any(int8_may_saturate(f, True) for f in (avx2, skylake, vnni, alder, arm))


def test_cpuinfo_flags_are_read_for_x86_and_arm():
    x86 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse4_1 avx avx2 fma\nbugs\t\t: x\n"
    arm = "processor\t: 0\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid asimddp\n"
    assert parse_cpuinfo(x86, "x86_64").describe() == {"machine": "x86_64", "flags": ["avx", "avx2", "fma", "sse4_1"]}
    assert parse_cpuinfo(arm, "aarch64").describe() == {"machine": "aarch64", "flags": ["asimd", "asimddp"]}
    assert parse_cpuinfo("", "x86_64").flags == frozenset()


def test_an_int8_bundle_with_8_bit_weights_warns_on_a_cpu_without_vnni(tmp_path):
    config = BundleConfig("m", PreprocessSpec.imagenet(), 5, None)
    old = Bundle(tmp_path / "old", config, {"variant": {"precision": "int8", "measured_on": {"flags": ["avx512_vnni"]}}})
    new = Bundle(tmp_path / "new", config, {"variant": {"precision": "int8", "quantisation":
                                                         {"weights_reduced_range": True}}})
    fp32 = Bundle(tmp_path / "fp32", config, {})
    avx2 = _features("x86_64", "avx2")
    with pytest.warns(ImgclsWarning) as said:
        assert _warn_if_int8_may_saturate(old, avx2)
    err = str(said[0].message)
    assert len(said) == 1
    assert "int8" in err and "without VNNI" in err and "avx512_vnni" in err and "Convert it again" in err
    with warnings.catch_warnings(record=True) as more:
        warnings.simplefilter("always")
        assert not _warn_if_int8_may_saturate(new, avx2)
        assert not _warn_if_int8_may_saturate(fp32, avx2)
        assert not _warn_if_int8_may_saturate(old, _features("x86_64", "avx2", "avx512_vnni"))
        assert not _warn_if_int8_may_saturate(old, _features("aarch64", "asimd"))
    assert more == []
