"""A bundle made by the converter runs in the runtime with paddle (and click, and the converter) unimportable."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from helpers import BLOCKER, ROOT, convert_ok, structured_image, write_jpeg


@pytest.mark.convert
def test_converted_bundle_runs_without_paddle(tmp_path):
    out = tmp_path / "PP-LCNet_x0_25"
    convert_ok("PP-LCNet_x0_25", "--random-init", "--seed", "2", "--out", str(out))
    img = write_jpeg(tmp_path / "a.jpg", structured_image(240, 320, seed=9))
    code = BLOCKER + textwrap.dedent(
        f"""
        import json
        from imgcls_onnx import Classifier
        with Classifier.from_dir({str(out)!r}, device="cpu") as clf:
            res = clf.predict_one({str(img)!r})
        assert not [m for m in sys.modules if m.split(".")[0] in ("paddle", "paddle2onnx", "click")]
        print(json.dumps(res.to_dict()))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert len(res["class_ids"]) == 5 and res["label_names"][0]
