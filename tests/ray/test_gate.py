"""The test hook itself (imgcls_onnx.ray.gate): a call with the held input waits until the gate is opened, and only
that call; the wait is an event (a FIFO), never a clock (the limits below only turn a hang into a failure)."""
from __future__ import annotations

import threading
import time

from imgcls_onnx.ray.gate import Gate, make_gate, open_gate


def wait_for_file(path, limit_s: float = 60):
    deadline = time.monotonic() + limit_s
    while not path.exists():
        assert time.monotonic() < deadline, f"no {path.name} within {limit_s} s"
        time.sleep(0.01)


def call(gate: Gate, paths: list[str]) -> threading.Event:
    """``gate.wait(paths)`` in a thread; the event is set once it has returned."""
    passed = threading.Event()
    threading.Thread(target=lambda: (gate.wait(paths), passed.set()), daemon=True).start()
    return passed


def test_the_gate_holds_the_call_with_the_held_input_until_it_is_opened(tmp_path):
    folder = make_gate(tmp_path / "gate", hold="b.jpg")
    gate = Gate(folder)
    try:
        assert call(gate, ["a.jpg", "c.jpg"]).wait(60)  # not held: passes at once ...
        assert not (tmp_path / "gate" / "held-0").exists()  # ... and leaves no mark
        held = call(gate, ["a.jpg", "b.jpg"])
        wait_for_file(tmp_path / "gate" / "held-0")  # the call says it is held ...
        # ... and cannot pass: opening the FIFO blocks until a writer opens it (with a gate that holds, this wait
        # always runs out; a gate that let the call through would be seen in this second)
        assert not held.wait(1)
    finally:
        open_gate(folder)
    assert held.wait(60)
    assert call(gate, ["b.jpg"]).wait(60)  # a retried call after the opening passes too, and leaves its own mark
    assert (tmp_path / "gate" / "held-1").exists()
