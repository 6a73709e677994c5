"""A test hook, outside every public signature: with ``$IMGCLS_ONNX_RAY_TEST_GATE`` naming a folder made by
:func:`make_gate`, the driver builds its actor pool of :class:`GatedPredictor` instead of ``BundlePredictor``
(:func:`actor_class`), and the folder travels to the actors as that class's constructor argument (actors of a
cluster that is joined do not see the driver's environment)."""
from __future__ import annotations

import os
from pathlib import Path

from .actor import BundlePredictor
from .job import RayJob

GATE_ENV = "IMGCLS_ONNX_RAY_TEST_GATE"


def make_gate(folder: "str | os.PathLike[str]", hold: str) -> str:
    """Make a :class:`Gate` folder that holds every actor call whose rows include the input ``hold`` until
    :func:`open_gate`. Returns its path (set it as ``$IMGCLS_ONNX_RAY_TEST_GATE`` for the driver)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hold").write_text(str(hold), encoding="utf-8")
    os.mkfifo(folder / "open")
    return str(folder)


def open_gate(folder: "str | os.PathLike[str]") -> int:
    """Let the held calls (and any retried later) through: opens the gate's FIFO for writing and keeps it open
    (returns the descriptor; the process's end closes it)."""
    return os.open(Path(folder) / "open", os.O_RDWR)  # O_RDWR: does not wait for a reader


class Gate:
    """Makes "the job is under way and cannot finish yet" an event instead of a race with the machine's speed: a
    call whose rows include the held input blocks opening the folder's FIFO for reading, which returns only once the
    test has opened it for writing (:func:`open_gate`); every other call runs, so the job writes its other shards
    and cannot finish. (Holding calls by count would not do: Ray Data may bundle several calls into one task, whose
    output appears only when all of them return.) Each held call leaves a ``held-N`` file, so a test can wait for
    it. Nothing waits on a clock."""

    def __init__(self, folder: str):
        self.folder = Path(folder)
        self.hold = (self.folder / "hold").read_text(encoding="utf-8")

    def wait(self, paths: list[str]) -> None:
        if self.hold not in paths:
            return
        n = 0
        while True:
            try:
                os.close(os.open(self.folder / f"held-{n}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                break
            except FileExistsError:
                n += 1
        with open(self.folder / "open", "rb"):
            pass


class GatedPredictor(BundlePredictor):
    """``BundlePredictor`` whose calls pass the gate first."""

    def __init__(self, job: RayJob, gate: str):
        super().__init__(job)
        self.gate = Gate(gate)

    def __call__(self, batch: dict) -> dict:
        self.gate.wait(self.paths(batch))
        return super().__call__(batch)


def actor_class(job: RayJob) -> tuple[type, dict]:
    """The pool's actor class and its constructor's keyword arguments: ``BundlePredictor(job)``, or under a test's
    gate (``$IMGCLS_ONNX_RAY_TEST_GATE``, read in the driver) ``GatedPredictor(job, gate)``."""
    gate = os.environ.get(GATE_ENV)
    if gate:
        return GatedPredictor, {"job": job, "gate": gate}
    return BundlePredictor, {"job": job}
