"""Nothing lost: kill a real run part way, resume, get exactly the uninterrupted results. Threads share safely."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from helpers import ROOT, structured_image, tiny_bundle, write_jpeg


def _run(model, images_dir, out, *extra):
    return [sys.executable, "-m", "imgcls_onnx.cli", "predict", "-m", str(model), "--device", "cpu", "-b", "1",
            "--threads", "1", "-q", "--save-path", str(out), *extra, str(images_dir)]


def _results(out):
    return {p.name: json.loads(p.read_text()) for p in sorted(out.glob("*_res.json"))}


@pytest.mark.slow
def test_kill_and_resume_equals_uninterrupted(orientation_bundle, tmp_path):
    images = tmp_path / "images"
    n = 400
    for i in range(n):
        write_jpeg(images / f"img_{i:04d}.jpg", structured_image(200 + i % 7, 260, seed=i))
    full, part = tmp_path / "full", tmp_path / "part"
    subprocess.run(_run(orientation_bundle, images, full), check=True, cwd=ROOT, timeout=600)
    reference = _results(full)
    assert len(reference) == n

    proc = subprocess.Popen(_run(orientation_bundle, images, part), cwd=ROOT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(list(part.glob("*_res.json"))) < 40 and proc.poll() is None:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_at_kill = _results(part)  # every file present parses: writes are atomic
    assert 0 < len(done_at_kill) < n, f"the run was not interrupted part way ({len(done_at_kill)} of {n} done)"
    for name, res in done_at_kill.items():
        assert res == reference[name]

    resumed = subprocess.run(_run(orientation_bundle, images, part, "--resume"), cwd=ROOT, timeout=600,
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert f"skipped {len(done_at_kill)} inputs" in resumed.stderr
    assert _results(part) == reference
    assert not [p for p in part.iterdir() if not p.name.endswith("_res.json")], "temporary files left behind"


def test_concurrent_callers_get_their_own_correct_results(tmp_path):
    from imgcls_onnx import Classifier

    model = tiny_bundle(tmp_path / "m", num_classes=8, seed=2)
    groups = [[structured_image(40 + g, 50 + i, seed=100 * g + i)[:, :, ::-1].copy() for i in range(25)]
              for g in range(4)]
    with Classifier.from_dir(model, device="cpu", threads=1) as clf:
        expected = [[(r.class_ids, r.scores) for r in clf.predict(g, batch_size=3)] for g in groups]
        got = [None] * len(groups)
        errors = []

        def worker(k):
            try:
                for _ in range(3):
                    got[k] = [(r.class_ids, r.scores) for r in clf.predict(groups[k], batch_size=3)]
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(len(groups))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    assert not errors
    assert got == expected
