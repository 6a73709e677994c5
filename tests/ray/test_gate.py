"""The test hook itself (imgcls_onnx.ray.gate): a call with the held input waits until the gate is opened, and only
that call; the wait is an event (a FIFO), never a clock."""
from __future__ import annotations

import threading
import time

from imgcls_onnx.ray.gate import Gate, make_gate, open_gate


def wait_for_file(path, limit_s: float = 60):
    deadline = time.monotonic() + limit_s  # guards against a hang only: the file's appearance is the event
    while not path.exists():
        assert time.monotonic() < deadline, f"no {path.name} within {limit_s} s"
        time.sleep(0.01)


def test_the_gate_holds_the_call_with_the_held_input_until_it_is_opened(tmp_path):
    folder = make_gate(tmp_path / "gate", hold="b.jpg")
    gate = Gate(folder)
    gate.wait(["a.jpg", "c.jpg"])  # not held: returns at once, leaves no mark
    assert not (tmp_path / "gate" / "held-0").exists()
    passed = threading.Event()
    held = threading.Thread(target=lambda: (gate.wait(["a.jpg", "b.jpg"]), passed.set()), daemon=True)
    held.start()
    try:
        wait_for_file(tmp_path / "gate" / "held-0")  # the call says it is held ...
        assert not passed.is_set()  # ... and cannot pass: opening the FIFO blocks until a writer opens it
    finally:
        open_gate(folder)
    held.join(60)
    assert passed.is_set()
    gate.wait(["b.jpg"])  # a retried call after the opening passes too, and leaves its own mark
    assert (tmp_path / "gate" / "held-1").exists()
