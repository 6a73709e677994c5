"""Arrows go one way: the runtime loads and predicts with paddle and click made unimportable."""
from __future__ import annotations

import subprocess
import sys
import textwrap

from helpers import BLOCKER, ROOT, structured_image, tiny_bundle, write_jpeg


def test_runtime_runs_with_paddle_and_click_blocked(tmp_path):
    model = tiny_bundle(tmp_path / "m")
    img = write_jpeg(tmp_path / "a.jpg", structured_image(40, 50))
    code = BLOCKER + textwrap.dedent(
        f"""
        import imgcls_onnx.runtime
        from imgcls_onnx import Classifier, create_model
        clf = Classifier.from_dir({str(model)!r}, device="cpu")
        res = clf.predict_one({str(img)!r})
        assert res.ok and len(res.class_ids) == 5, res
        assert list(create_model({str(model)!r}, device="cpu").predict({str(img)!r}))[0].ok
        try:
            import click
        except ImportError:
            pass
        else:
            raise SystemExit("blocker did not work")
        bad = [m for m in sys.modules if m.split(".")[0] in ("paddle", "click", "ppcls", "paddle2onnx")
               or m.startswith(("imgcls_onnx.converter", "imgcls_onnx.cli"))]
        assert not bad, bad
        print("ok")
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_import_is_cheap():
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import imgcls_onnx"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert "imgcls_onnx" in imported
    for heavy in ("onnxruntime", "paddle", "click", "cv2", "numpy"):
        assert heavy not in imported, f"import imgcls_onnx imported {heavy}"


def test_installed_package_has_no_toplevel_runtime_or_converter():
    import importlib.util

    for name in ("runtime", "converter"):
        spec = importlib.util.find_spec(name)
        assert spec is None or "imgcls_onnx" not in (spec.origin or ""), f"top-level module {name!r} installed"
