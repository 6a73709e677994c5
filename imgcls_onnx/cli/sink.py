"""The one result sink of the command line: ``predict``, ``--pipeline`` and ``-c`` hand it every result.

Policy, in the order a result meets it:
- progress: the bar (drawn only when stderr is a terminal) counts every result; its total is the number of inputs
  this run will see, so a resumed run's skipped inputs are not in it and the bar reaches its end;
- a failure: one ``error: ...`` line on stderr (through the bar), counted; nothing is saved for it;
- a JSON line on stdout in the caller's format (ours, PaddleX's ``res.json``, or PaddleX's ``print``), flushed at
  once, unless quiet (failures print theirs too, except where PaddleX prints none: ``print_failures=False``);
- files for a successful result under ``out_dir``: ``<stem>_res.json``, and the drawn image when asked.

The inputs are walked once (``walk_inputs``): ``--resume`` is a filter in that walk, and the bar's total is the
length of what is left.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from .progress import Progress


def ours(res: Any) -> str:
    """predict's line: the result as ``Prediction.to_dict()``."""
    return json.dumps(res.to_dict(), ensure_ascii=False)


def paddlex_res(res: Any) -> str:
    """--pipeline's line: PaddleX's ``res.json`` (the pipeline's own shape)."""
    return json.dumps(res.json, ensure_ascii=False)


def paddlex_print(res: Any) -> str:
    """-c's line: what PaddleX's ``res.print(json_format=True)`` prints."""
    return json.dumps(res.json, indent=4, ensure_ascii=False)


@dataclass
class ResultSink:
    line: Callable[[Any], str]
    out_dir: Path | None = None
    save_img: bool = False
    quiet: bool = False
    print_failures: bool = True
    progress: Progress = field(default_factory=Progress)
    failed: int = 0

    def take(self, res: Any) -> None:
        self.progress.update(res.ok)
        if not res.ok:
            self.failed += 1
            self.progress.write(f"error: {res.error}")
        if not self.quiet and (res.ok or self.print_failures):
            sys.stdout.write(self.line(res) + "\n")
            sys.stdout.flush()
        if self.out_dir is not None and res.ok:
            res.save_to_json(self.out_dir)
            if self.save_img:
                res.save_to_img(self.out_dir)

    def drain(self, results) -> int:
        """Take every result of an iterable; the number that failed."""
        for res in results:
            self.take(res)
        return self.failed

    def close(self) -> None:
        self.progress.close()

    @property
    def count(self) -> int:
        return self.progress.count


@dataclass
class Walked:
    """The inputs of one run, walked once: what is left to do and how many a resume skipped."""

    items: list
    skipped: int = 0


def walk_inputs(inputs: Sequence[str], resume_dir: Path | None = None) -> Walked:
    """Expand INPUTS once (files, folders, globs, URLs; names only, nothing decoded). With RESUME_DIR, the inputs
    that already have a ``<stem>_res.json`` there are left out (and counted), and the temporary files a killed run
    left are removed (a result is written under a temporary name, then renamed: never partial)."""
    # start-up time: the input walker loads numpy and Pillow, which --help does not need
    from ..runtime.inputs import iter_inputs  # noqa: PLC0415 - start-up time
    from ..runtime.results import result_stem  # noqa: PLC0415 - start-up time

    items = list(iter_inputs(list(inputs)))
    if resume_dir is None or not resume_dir.is_dir():
        return Walked(items)
    for stale in resume_dir.glob(".*_res.json.*.tmp"):
        stale.unlink(missing_ok=True)
    left = [it for it in items
            if not (it.input_path and (resume_dir / f"{result_stem(it.input_path, it.index)}_res.json").exists())]
    return Walked(left, len(items) - len(left))
