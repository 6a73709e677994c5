"""Ctrl-C on the Ray engine stops the command within a bounded time, whatever Ray is doing.

Policy: the first SIGINT raises KeyboardInterrupt in the main thread as Python's own handler does. The driver shuts
its Ray down, the CLI prints ``interrupted; ...`` and exits 130. It also starts a watchdog. If the process is still
alive ``grace_s`` later, the watchdog does three things:
- prints one ``warning:`` line and the same ``interrupted; ...`` line;
- exits 130 at once (``os._exit``), without waiting for Ray.

Either exit loses nothing:
- every shard in ``--save-path`` is written under a temporary name and renamed only when whole;
- a later ``--resume`` removes the stale temporary files and redoes only the inputs without a row.

Why a watchdog: Ray Data's executor and Ray's own shutdown run in threads and processes beyond our reach. In one full
suite run out of several, a job interrupted while an actor call was held did not exit within 120 s of the signal.
A second Ctrl-C gets Python's default handler back (an immediate KeyboardInterrupt wherever the main thread is).
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

#: after the first Ctrl-C, how long the Ray driver gets to stop before the process exits without it (a clean stop
#: takes 1-2 s, also on a loaded 2-core machine)
GRACE_S = 20.0


@contextmanager
def bounded_interrupt(message: str, exit_code: int = 130, grace_s: float | None = None) -> Iterator[None]:
    """Within this block (main thread only), the first SIGINT raises KeyboardInterrupt and arms a watchdog that ends
    the process with ``message`` and ``exit_code`` if it is still alive ``grace_s`` (default GRACE_S) later."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    grace = GRACE_S if grace_s is None else grace_s
    previous = signal.getsignal(signal.SIGINT)

    def on_sigint(signum, frame):
        signal.signal(signal.SIGINT, previous)  # a second Ctrl-C: the handler that was there before
        threading.Thread(target=_exit_after, args=(grace, message, exit_code), daemon=True,
                         name="imgcls-interrupt-watchdog").start()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGINT) is on_sigint:
            signal.signal(signal.SIGINT, previous)


def _exit_after(grace_s: float, message: str, exit_code: int) -> None:
    threading.Event().wait(grace_s)  # the process ends first when the interrupt path finishes
    try:
        sys.stderr.write(f"warning: Ray did not stop within {grace_s:g} s of the interrupt; exiting without it\n"
                         f"{message}\n")
        sys.stderr.flush()
    finally:
        os._exit(exit_code)
