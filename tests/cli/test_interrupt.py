"""Ctrl-C on the Ray engine stops `predict` within a bounded time even when Ray swallows the interrupt or hangs in
its shutdown (cli/interrupt.py): exit 130, the `interrupted; ...` line last, a `warning:` line saying Ray did not
stop. The stand-in for the stuck driver is `ray.run` replaced by a loop that catches every KeyboardInterrupt."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

from helpers import ROOT

GUARD_S = 120  # only so that a missing watchdog fails instead of hanging; a passing run exits 0.5 s after the signal

STUCK_DRIVER = """
import sys, threading
from pathlib import Path
import imgcls_onnx.ray as ray_jobs
from imgcls_onnx.cli import interrupt, main

marker, out = sys.argv[1:3]

def stuck_run(*args, **kwargs):  # a Ray driver that swallows the interrupt and never returns
    Path(marker).write_text("running", encoding="utf-8")
    while True:
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass

ray_jobs.run = stuck_run
interrupt.GRACE_S = 0.5
sys.argv = ["imgcls-onnx", "predict", "--engine", "ray", "-m", "unused", "--save-path", out, "x.jpg"]
main()
"""


def test_ctrl_c_on_a_stuck_ray_driver_still_exits_130(tmp_path):
    marker = tmp_path / "running"
    proc = subprocess.Popen([sys.executable, "-c", STUCK_DRIVER, str(marker), str(tmp_path / "out")], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
    try:
        deadline = time.monotonic() + GUARD_S
        while not marker.exists():  # the event: the driver is running
            assert proc.poll() is None and time.monotonic() < deadline, "the stand-in driver never started"
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=GUARD_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    lines = err.rstrip().splitlines()
    assert proc.returncode == 130, err[-2000:]
    assert lines[-1] == "interrupted; results written so far are complete (use --resume to continue)", err[-2000:]
    assert lines[-2] == "warning: Ray did not stop within 0.5 s of the interrupt; exiting without it", err[-2000:]
    assert "Traceback" not in err, err[-2000:]
