"""The compiled preprocessing kernel on aarch64 (#29): the project's aarch64 platform wheel, its kernel cross-compiled by
Debian's gcc-aarch64-linux-gnu (scripts/build_wheels, run by `scripts/arm64 setup`), installed for aarch64 and run under
qemu, is the kernel in force there and gives x86-64's pixels bit for bit, as the numpy kernel does.

- the wheel: a manylinux aarch64 tag (auditwheel show / repair), an AArch64 ELF kernel and no x86-64 one;
- the aarch64 run imports imgcls_onnx from that wheel (not from the checkout, whose kernel is an x86-64 .so the
  aarch64 python cannot load), and the installed package is the checkout's code, file for file;
- ``kernel.from_env().name == "compiled"`` there (``numpy`` with ``$IMGCLS_ONNX_KERNEL=numpy``);
- both kernels' resizes (INTER_LINEAR, off-centre windows, exact halving, upscales, INTER_NEAREST) of 20 random images
  equal x86-64's (the runtime-level tensors of every zoo op list: test_arm64_runtime.py).
"""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from arm_harness import N_RAW_IMAGES, PROJECT, ROOT, WHEELS, session_runs
from arm_worker import KERNEL_CASES

pytestmark = pytest.mark.slow

ARM_KERNEL = "_kernel.cpython-311-aarch64-linux-gnu.so"
EM_AARCH64 = 183  # ELF e_machine


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    r = session_runs(tmp_path_factory)  # runs `scripts/arm64 setup` first: the wheel is built and installed
    return r.arm, r.x86


def _elf_machine(data: bytes) -> int:
    assert data[:4] == b"\x7fELF" and data[5] == 1, "a little-endian ELF file"
    return int.from_bytes(data[18:20], "little")


def test_the_aarch64_wheel_is_manylinux_and_carries_an_aarch64_kernel(runs):
    wheels = sorted((WHEELS / "aarch64").glob("*.whl"))
    assert len(wheels) == 1, wheels
    wheel = wheels[0]
    assert wheel.name.startswith("imgcls_onnx-") and "-cp311-cp311-" in wheel.name, wheel.name
    assert wheel.name.endswith("manylinux_2_17_aarch64.whl"), wheel.name
    with zipfile.ZipFile(wheel) as z:
        kernels = [n for n in z.namelist() if n.startswith("imgcls_onnx/runtime/_kernel") and n.endswith(".so")]
        assert kernels == [f"imgcls_onnx/runtime/{ARM_KERNEL}"], kernels
        assert _elf_machine(z.read(kernels[0])) == EM_AARCH64
        dist_info = next(n for n in z.namelist() if n.endswith(".dist-info/WHEEL"))
        tags = [ln.split(": ", 1)[1] for ln in z.read(dist_info).decode().splitlines() if ln.startswith("Tag: ")]
    assert "cp311-cp311-manylinux_2_17_aarch64" in tags and all(t.endswith("_aarch64") for t in tags), tags
    shown = subprocess.run([sys.executable, "-m", "auditwheel", "show", str(wheel)], capture_output=True, text=True,
                           timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert '"manylinux_2_17_aarch64"' in " ".join(shown.stdout.split()), shown.stdout
    print(f"{wheel.name}: {tags}")


def test_the_aarch64_run_uses_the_wheels_aarch64_kernel(runs):
    arm, x86 = runs
    assert str(arm["kernel_default"]) == "compiled", "the compiled kernel is in force on aarch64"
    assert str(arm["kernel_numpy"]) == "numpy"
    kernel_file, package_file = Path(str(arm["kernel_file"])), Path(str(arm["package_file"]))
    assert kernel_file == PROJECT / "imgcls_onnx" / "runtime" / ARM_KERNEL, kernel_file
    assert package_file == PROJECT / "imgcls_onnx" / "__init__.py", package_file
    assert _elf_machine(kernel_file.read_bytes()) == EM_AARCH64
    # the x86-64 side (the reference) is the checkout: its kernel, compiled by pip install -e (or numpy without one)
    assert Path(str(x86["package_file"])) == ROOT / "imgcls_onnx" / "__init__.py"
    print(f"aarch64: {arm['kernel_default']} kernel {kernel_file}; x86-64: {x86['kernel_default']} kernel "
          f"{x86['kernel_file'] or '-'}")


def test_the_installed_aarch64_package_is_the_checkouts_code(runs):
    """What the aarch64 run imports is this checkout, file for file (scripts/build_wheels rebuilds the wheel when a
    file of the package changes): the comparisons with x86-64 are of the same code."""
    installed = {p.relative_to(PROJECT).as_posix(): p for p in (PROJECT / "imgcls_onnx").rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts and p.name != ARM_KERNEL}
    assert len(installed) > 20, sorted(installed)
    stale = [rel for rel, p in installed.items() if not (ROOT / rel).is_file() or (ROOT / rel).read_bytes() != p.read_bytes()]
    assert not stale, f"the aarch64 install differs from the checkout in {stale[:8]}: rerun scripts/arm64 setup"
    tracked = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "--", "imgcls_onnx/*.py"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
    missing = sorted(set(tracked) - set(installed))
    assert not missing, f"modules of the checkout missing from the aarch64 install: {missing[:8]}"


@pytest.mark.parametrize("kernel", ["compiled", "numpy"])
def test_the_kernels_resize_the_same_on_aarch64_as_on_x86(runs, kernel):
    """Each of 20 random images (1 to 479 px a side) x the cases of arm_worker.KERNEL_CASES, digest for digest,
    against x86-64's kernel in force (the compiled one; tests/runtime holds it to x86-64 cv2)."""
    arm, x86 = runs
    reference = x86[f"kres_{x86['kernel_default']}"]
    got = arm[f"kres_{kernel}"]
    assert got.shape == reference.shape == (N_RAW_IMAGES, len(KERNEL_CASES))
    differ = np.argwhere(got != reference)
    detail = [f"image {i} {KERNEL_CASES[j]}" for i, j in differ[:8]]
    assert len(differ) == 0, f"the {kernel} kernel on aarch64 differs from x86-64 in {len(differ)} resizes: {detail}"
    # and on x86-64 the numpy kernel agrees with the compiled one on the same cases
    assert np.array_equal(x86["kres_numpy"], reference)
    print(f"{kernel} on aarch64: {got.size} resizes equal x86-64's ({', '.join(KERNEL_CASES)})")
