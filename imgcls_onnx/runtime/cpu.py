"""What this CPU offers that changes onnxruntime's integer results: read once from /proc/cpuinfo (Linux).

onnxruntime's u8s8 integer kernels on x86-64 without VNNI multiply with VPMADDUBSW, whose 16-bit pair sums saturate
when 8-bit weights meet large activations; with VNNI (AVX512-VNNI, AVX-VNNI) or AMX the sums are 32-bit and exact,
and on ARM they are exact too. int8 bundles made by this version keep their weights in 7 bits (onnxruntime's
``reduce_range``), so no pair sum can saturate: measured bit-identical on AVX2-only, AVX-512 and VNNI/AMX x86-64
(tests/converter/test_int8_portable.py). Bundles quantised with full 8-bit weights are what ``int8_may_saturate``
warns about.
"""
from __future__ import annotations

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


@lru_cache(maxsize=1)
def cpu_features() -> CpuFeatures:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            text = f.read(1 << 20)
    except OSError:
        text = ""
    return parse_cpuinfo(text, platform.machine())


def int8_may_saturate(features: CpuFeatures, weights_reduced_range: bool) -> bool:
    """True where an int8 bundle's accuracy may differ from its record: 8-bit weights on x86-64 without VNNI/AMX
    (or where the flags cannot be read on x86-64)."""
    if weights_reduced_range or not features.is_x86:
        return False
    return not any(f in features.flags for f in EXACT_INT8_DOT)
