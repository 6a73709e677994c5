"""The aarch64 side of the session (tests/arm64): scripts/arm64 (Debian's arm64 python3.11, the runtime's aarch64
wheels and the project's own aarch64 wheel, its kernel cross-compiled by scripts/build_wheels, under qemu-user), the
work the session gives it, and the one emulated process that does all of it (arm_worker.py). The same worker runs here
on x86-64 (the checkout, its x86-64 kernel) on the same files; the test modules compare the two.

The work, written as files under one temporary folder:
- library level (in.npz): 20 random images resized by cv2 and Pillow, two tiny ONNX models (test_arm64_harness.py),
  and by both preprocessing kernels (test_arm64_kernel.py);
- runtime level (job.json, test_arm64_runtime.py): >= 50 image files (the real photos of ../shared/realdata and
  generated PNG/JPEG of 1x1 to 4000x3000 px) through every distinct op list of the zoo, and the real PULC orientation
  model's bundle on the document photos and their rotations.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from helpers import (
    REALDATA,
    ROOT,
    need,
    structured_image,
    tiny_onnx_model,
    write_orientation_bundle,
)

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import arm_worker  # noqa: E402 - beside this file, shared with the emulated run

ARM64 = ROOT / "scripts" / "arm64"
ARM64_CACHE = Path(os.environ.get("ARM64_CACHE") or ROOT / ".cache" / "arm64")
PROJECT = ARM64_CACHE / "project"  # the project's aarch64 wheel, installed by scripts/arm64 (build_project)
WHEELS = Path(os.environ.get("WHEELS_CACHE") or ROOT / ".cache" / "wheels")  # scripts/build_wheels' output
N_RAW_IMAGES = 20
ORIENTATION_THREADS = 1  # onnxruntime threads: 1 is the fastest under emulation (reports/arm64.md)


def env(**extra: str) -> dict[str, str]:
    # the wheels installed for aarch64 are the versions this interpreter has; the repository first on x86-64 too
    base = dict(os.environ, PYTHON=sys.executable)
    base["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    base.update(extra)
    return base


def setup_harness() -> Path:
    """Build (once, cached in .cache/arm64) or check the harness. A missing qemu fails with the command that installs
    it: the harness is part of the suite, not an optional extra."""
    import subprocess

    proc = subprocess.run([str(ARM64), "setup"], capture_output=True, text=True, timeout=1800, env=env())
    if proc.returncode != 0:
        pytest.fail(f"scripts/arm64 setup failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}", pytrace=False)
    return ARM64


# --- library level -------------------------------------------------------------------------------------------------

def raw_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(25)
    inputs: dict[str, np.ndarray] = {"n": np.array(N_RAW_IMAGES)}
    for i in range(N_RAW_IMAGES):
        h, w = rng.integers(1, 480, 2)
        inputs[f"img_{i}"] = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        inputs[f"size_{i}"] = rng.integers(1, 400, 2)
    inputs["x"] = rng.normal(0, 1, (4, 3, 32, 32)).astype(np.float32)
    return inputs


# --- runtime level -------------------------------------------------------------------------------------------------

# (height, width, kind): tiny, odd, elongated, exact output sizes (no resize), exact 2x (OpenCV's INTER_AREA fast
# path), camera-sized; kind: rgb (structured + noise), noise, gray, rgba, rgb16 (16-bit PNG), progressive (JPEG)
GENERATED = [
    (1, 1, "rgb"), (2, 3, "noise"), (7, 5, "rgb"), (13, 17, "gray"), (31, 29, "noise"), (37, 101, "rgb"),
    (64, 48, "rgba"), (99, 301, "rgb"), (101, 99, "noise"), (127, 255, "gray"), (160, 320, "rgb"),
    (80, 160, "rgb"), (223, 225, "noise"), (224, 224, "rgb"), (225, 223, "rgba"), (232, 300, "rgb"),
    (236, 236, "noise"), (255, 257, "rgb"), (256, 256, "rgb"), (333, 333, "rgb16"), (375, 500, "progressive"),
    (384, 384, "rgb"), (438, 512, "noise"), (448, 448, "rgb"), (449, 447, "gray"), (480, 640, "rgb"),
    (512, 512, "rgb"), (50, 400, "rgb"), (600, 40, "noise"), (719, 1283, "rgb"), (896, 896, "rgb"),
    (1001, 999, "rgba"), (1080, 1920, "progressive"), (1200, 901, "rgb16"), (2001, 2999, "rgb"),
    (3000, 4000, "rgb"), (4000, 2250, "rgb"), (23, 1500, "gray"), (1536, 2048, "noise"), (513, 767, "rgb"),
    (1, 7, "rgb"), (5, 1, "noise"), (3, 3, "rgba"), (299, 299, "rgb"), (331, 227, "noise"), (640, 427, "progressive"),
    (1000, 1000, "noise"),
]


def _generated_image(h: int, w: int, kind: str, seed: int) -> np.ndarray:
    """RGB uint8 (or RGBA, gray, uint16 RGB) content with edges, gradients and noise: resize rounding is exercised."""
    rng = np.random.default_rng(seed)
    if kind == "noise":
        return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    img = structured_image(h, w, seed).astype(np.int16) + rng.integers(-12, 13, (h, w, 3), dtype=np.int16)
    img = np.clip(img, 0, 255).astype(np.uint8)
    if kind == "gray":
        return img[:, :, 1]
    if kind == "rgba":
        return np.dstack([img, rng.integers(0, 256, (h, w), dtype=np.uint8)])
    if kind == "rgb16":
        return img.astype(np.uint16) * 257 + rng.integers(0, 257, (h, w, 3), dtype=np.uint16)
    return img


def write_corpus(directory: Path) -> list[Path]:
    """The real photos (every image under ../shared/realdata) and the generated images, alternately PNG and JPEG
    (gray, RGBA and 16-bit PNG; baseline, progressive and gray JPEG)."""
    import cv2

    need(REALDATA)
    real = sorted(p for p in REALDATA.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (h, w, kind) in enumerate(GENERATED):
        img = _generated_image(h, w, kind, seed=100 + i)
        png = kind in ("rgba", "rgb16") or (kind != "progressive" and i % 2 == 0)
        path = directory / f"gen{i:02d}_{w}x{h}_{kind}.{'png' if png else 'jpg'}"
        bgr = img if img.ndim == 2 else img[:, :, [2, 1, 0, 3][: img.shape[2]]]
        if png:
            ok = cv2.imwrite(str(path), bgr)
        else:
            flags = [cv2.IMWRITE_JPEG_QUALITY, 60 + 7 * (i % 5)]
            if kind == "progressive":
                flags += [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]
            ok = cv2.imwrite(str(path), bgr, flags)
        assert ok, f"could not write {path}"
        paths.append(path)
    return real + paths


def zoo_op_lists() -> list[list]:
    """Every distinct ``transform_ops`` of the zoo manifest, in manifest order (the runtime builds each model's
    PreprocessSpec from them: ModelSpec.from_dict -> PreprocessSpec.from_yml_ops)."""
    from importlib import resources

    from imgcls_onnx.runtime.transforms import PreprocessSpec
    from imgcls_onnx.store.catalogue import load_zoo

    data = json.loads(resources.files("imgcls_onnx").joinpath("zoo_manifest.json").read_text(encoding="utf-8"))
    seen: list[list] = []
    for entry in data["models"]:
        if entry["transform_ops"] not in seen:
            seen.append(entry["transform_ops"])
    specs = {PreprocessSpec.from_yml_ops(ops) for ops in seen}
    assert len(specs) == len(seen) and specs == {m.preprocess for m in load_zoo().models}, "not the zoo's op lists"
    return seen


ORIENTATION_CASES = [  # (source, rotation applied with cv2.rotate or None, expected label): as tests/runtime does
    ("img_rot0_demo.jpg", None, "0"),
    ("img_rot180_demo.jpg", None, "180"),
    ("img_rot0_demo.jpg", "ROTATE_90_CLOCKWISE", "90"),
    ("img_rot0_demo.jpg", "ROTATE_90_COUNTERCLOCKWISE", "270"),
    ("img_rot0_demo.jpg", "ROTATE_180", "180"),
    ("img_rot180_demo.jpg", "ROTATE_180", "0"),
    ("img_rot180_demo.jpg", "ROTATE_90_CLOCKWISE", "270"),
    ("img_rot180_demo.jpg", "ROTATE_90_COUNTERCLOCKWISE", "90"),
]


def write_orientation_cases(directory: Path) -> tuple[list[Path], list[str]]:
    """The document photos as they are (JPEG) and rotated (lossless PNG of cv2.rotate's pixels)."""
    import cv2

    docs = need(REALDATA / "orientation_images")
    directory.mkdir(parents=True, exist_ok=True)
    paths, labels = [], []
    for i, (name, rotation, label) in enumerate(ORIENTATION_CASES):
        if rotation is None:
            path = docs / name
        else:
            path = directory / f"doc{i}_{Path(name).stem}_{rotation.lower()}.png"
            assert cv2.imwrite(str(path), cv2.rotate(cv2.imread(str(docs / name)), getattr(cv2, rotation)))
        paths.append(path)
        labels.append(label)
    return paths, labels


# --- the session's run ---------------------------------------------------------------------------------------------

@dataclass
class Runs:
    arm: dict[str, np.ndarray]
    x86: dict[str, np.ndarray]
    seconds: float  # the emulated process, wall
    tmp: Path
    job: dict | None = None  # None when the runtime-level material is missing (why: ``missing``)
    missing: str | None = None
    expected_orientation: list[str] = field(default_factory=list)

    def need_job(self) -> dict:
        if self.job is None:
            pytest.skip(self.missing or "the runtime-level job was not built")
        return self.job


_RUNS: "Runs | BaseException | None" = None


def session_runs(tmp_path_factory) -> Runs:
    """The session's one emulated run (and the same work on x86-64), made on the first call, shared after."""
    global _RUNS
    if _RUNS is None:
        try:
            _RUNS = _run(tmp_path_factory)
        except BaseException as e:  # a failed run fails every test that reads it, without rerunning it
            _RUNS = e
    if isinstance(_RUNS, BaseException):
        raise _RUNS
    return _RUNS


def _run(tmp_path_factory) -> Runs:
    import subprocess

    harness = setup_harness()
    tmp = tmp_path_factory.mktemp("arm64")
    inputs = raw_inputs()
    np.savez(tmp / "in.npz", **inputs)
    # probabilities and raw logits: a softmax would hide small differences of the layers under it
    models = [str(tiny_onnx_model(tmp / "probs.onnx", softmax=True)),
              str(tiny_onnx_model(tmp / "logits.onnx", softmax=False))]
    job = missing = None
    expected: list[str] = []
    try:
        orientation_paths, expected = write_orientation_cases(tmp / "orientation")
        job = {
            "images": [str(p) for p in write_corpus(tmp / "corpus")],
            "op_lists": zoo_op_lists(),
            "orientation": {"bundle": str(write_orientation_bundle(tmp / "orientation_bundle")),
                            "images": [str(p) for p in orientation_paths], "threads": ORIENTATION_THREADS},
        }
    except pytest.skip.Exception as e:  # the library-level tests still run; the runtime-level ones skip with this
        missing = str(e)
    args = [str(tmp / "in.npz"), str(tmp / "out.npz")]
    if job is not None:
        (tmp / "job.json").write_text(json.dumps(job, indent=1))
        args += ["--job", str(tmp / "job.json")]
    t0 = time.perf_counter()
    proc = subprocess.run([str(harness), "run", str(HERE / "arm_worker.py"), *args, *models],
                          capture_output=True, text=True, timeout=600, env=env())
    seconds = time.perf_counter() - t0
    assert proc.returncode == 0, f"the aarch64 run failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}"
    with np.load(tmp / "out.npz") as f:
        arm = {k: f[k] for k in f.files}
    x86 = arm_worker.work(inputs, models)
    x86.update(arm_worker.kernel_work(inputs))
    if job is not None:
        x86.update(arm_worker.runtime_work(job))
    return Runs(arm, x86, seconds, tmp, job, missing, expected)
