"""What this CPU offers that changes onnxruntime's integer results: read once from /proc/cpuinfo (Linux), with the
flags numpy reads from CPUID in their place on x86-64 (what onnxruntime sees, also under an emulator).

onnxruntime's u8s8 integer kernels on x86-64 without VNNI multiply with VPMADDUBSW, whose 16-bit pair sums saturate
when 8-bit weights meet large activations; with VNNI (AVX512-VNNI, AVX-VNNI) or AMX the sums are 32-bit and exact,
and on ARM they are exact too. int8 bundles made by this version keep their weights in 7 bits (onnxruntime's
``reduce_range``), so no pair sum can saturate: measured bit-identical on AVX2-only, AVX-512 and VNNI/AMX x86-64
(tests/converter/test_int8_portable.py). Graphs quantised with full 8-bit weights, by an older converter or any
other tool (runtime/onnx_graph.py finds them), are what ``int8_may_saturate`` warns about.
"""
from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from functools import lru_cache

# the flags that pick onnxruntime's integer and float kernels (x86: /proc/cpuinfo "flags"; ARM: "Features")
RELEVANT = ("sse4_1", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8",
            "asimd", "asimddp", "i8mm", "sve")
EXACT_INT8_DOT = ("avx512_vnni", "avx_vnni", "amx_int8")


@dataclass(frozen=True)
class CpuFeatures:
    machine: str  # x86_64, aarch64, ...
    flags: frozenset

    @property
    def is_x86(self) -> bool:
        return self.machine.lower() in ("x86_64", "amd64", "i386", "i686")

    def describe(self) -> dict:
        return {"machine": self.machine, "flags": sorted(f for f in self.flags if f in RELEVANT)}


def parse_cpuinfo(text: str, machine: str) -> CpuFeatures:
    flags: set = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in ("flags", "features"):
            flags.update(value.split())
            break  # every core lists the same
    return CpuFeatures(machine, frozenset(flags))


# numpy's CPUID names for the /proc/cpuinfo flags it also detects (x86)
_NUMPY_X86 = {"SSE41": "sse4_1", "AVX": "avx", "AVX2": "avx2", "FMA3": "fma", "AVX512F": "avx512f",
              "AVX512BW": "avx512bw", "AVX512VNNI": "avx512_vnni"}


def _numpy_cpuid() -> dict | None:
    """What numpy read from CPUID (and XGETBV) at import: {numpy name: bool}, or None where it cannot say."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features  # noqa: PLC0415 - numpy 2's private name
    except ImportError:
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as features  # noqa: PLC0415 - numpy 1.x
        except ImportError:
            return None
    return dict(features)


def with_cpuid(features: CpuFeatures, cpuid: dict | None) -> CpuFeatures:
    """The flags onnxruntime sees: it picks its kernels by CPUID, while /proc/cpuinfo is the kernel's list, which
    under an emulator (qemu-user -cpu MODEL) is the host's. On x86-64 the flags numpy reads from CPUID replace the
    same ones from /proc/cpuinfo; AVX-VNNI and AMX (which numpy does not read) stay as /proc/cpuinfo lists them."""
    if not features.is_x86 or not cpuid:
        return features
    flags = set(features.flags)
    for numpy_name, flag in _NUMPY_X86.items():
        if numpy_name in cpuid:
            (flags.add if cpuid[numpy_name] else flags.discard)(flag)
    return CpuFeatures(features.machine, frozenset(flags))


@lru_cache(maxsize=1)
def cpu_features() -> CpuFeatures:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            text = f.read(1 << 20)
    except OSError:
        text = ""
    return with_cpuid(parse_cpuinfo(text, platform.machine()), _numpy_cpuid())


def int8_may_saturate(features: CpuFeatures, weights_reduced_range: bool) -> bool:
    """True where an int8 bundle's accuracy may differ from its record: 8-bit weights on x86-64 without VNNI/AMX
    (or where the flags cannot be read on x86-64)."""
    if weights_reduced_range or not features.is_x86:
        return False
    return not any(f in features.flags for f in EXACT_INT8_DOT)


def usable_cores() -> int:
    """The cores this process may use (its affinity: containers, taskset), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
