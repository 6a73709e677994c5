"""The one progress helper of the command line: a tqdm bar on stderr, drawn only when stderr is a terminal, so
stdout stays pure JSON lines and logs stay free of bar redraws."""
from __future__ import annotations

import sys

import click


class Progress:
    """Counts results (and failures) and draws them as a tqdm bar with rate, total and ETA.

    Two ways to feed it: ``update(ok)`` per result (predict), or ``step(i, n)`` as a library progress callback
    (check-dataset, evaluate), which learns the total from its first call and closes the bar at ``i == n``."""

    def __init__(self, total: int | None = None, label: str | None = None, unit: str = "img", lazy: bool = False):
        self.count = 0
        self.failed = 0
        self.label = label
        self.unit = unit
        self.bar = None
        self.finished = False
        if not lazy:
            self._open(total)

    def _open(self, total: int | None) -> None:
        if self.bar is None and sys.stderr.isatty():
            # start-up time: tqdm loads only when a bar is drawn
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.label, unit=self.unit, file=sys.stderr, dynamic_ncols=True,
                            leave=True)

    def update(self, ok: bool = True) -> None:
        self.count += 1
        self.failed += 0 if ok else 1
        if self.bar is not None:
            self.bar.update(1)
            if not ok:
                self.bar.set_postfix(failed=self.failed, refresh=False)

    def step(self, i: int, n: int) -> None:
        """A library callback: I of N done."""
        if self.finished or not sys.stderr.isatty():
            return
        self._open(n)
        if self.bar is None:
            return
        self.bar.update(i - self.bar.n)
        if i >= n:
            self.finished = True
            self.close()

    def write(self, message: str) -> None:
        """A line on stderr that does not break the bar."""
        if self.bar is not None:
            self.bar.write(message, file=sys.stderr)
        else:
            click.echo(message, err=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def callback(label: str):
    """A progress callback (i, n) for the library's long loops (check_dataset, evaluate)."""
    return Progress(label=label, lazy=True).step
