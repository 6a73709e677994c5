"""Options more than one command takes, each declared once: one name set, one type, one help text.

Where commands used to differ, the aliases are the union of what any of them accepted (so no invocation breaks):
``--save-path`` is also ``--save_path`` (PaddleX), ``--out``, ``--output`` and ``-o``.
"""
from __future__ import annotations

import click

from ..runtime.defaults import BATCH_SIZE

MODEL_HELP = ("A zoo name (fetched and converted once if needed), a model folder, or a bundle archive: FILE.tar.gz or "
              "an http(s) URL, optionally ending in #sha256=HEX.")
DEVICE_HELP = "auto, cpu, gpu or gpu:N."
THREADS_HELP = "CPU threads [default: all cores]."
BATCH_SIZE_HELP = "Images per model run."
TOPK_HELP = "Top-k classes per image"
QUIET_HELP = "No JSON lines on stdout (failures still go to stderr)."
FAST_DECODE_HELP = "Decode large JPEGs at 1/2-1/8 scale in the DCT domain (faster; NOT bit-exact to PaddleX)."
SAVE_PATH_NAMES = ("--save-path", "--save_path", "--out", "--output", "-o")

model = click.option("--model", "-m", "model", required=True, help=MODEL_HELP)
device = click.option("--device", default="auto", show_default=True, help=DEVICE_HELP)
threads = click.option("--threads", default=None, type=click.IntRange(min=1), help=THREADS_HELP)
batch_size = click.option("--batch-size", "-b", default=BATCH_SIZE, show_default=True, type=click.IntRange(min=1),
                          help=BATCH_SIZE_HELP)
quiet = click.option("--quiet", "-q", is_flag=True, help=QUIET_HELP)
fast_decode = click.option("--fast-decode", is_flag=True, help=FAST_DECODE_HELP)


def topk(default: int | None = None):
    """``--topk/-k``: the model's inference.yml decides unless a command has its own default."""
    help_text = f"{TOPK_HELP}." if default is not None else f"{TOPK_HELP} [default: the model's inference.yml]."
    extra = {"show_default": True} if default is not None else {}
    return click.option("--topk", "-k", default=default, type=click.IntRange(min=1), help=help_text, **extra)


def save_path(dest: str, writes: str, default: str | None = None, required: bool = False):
    """``--save-path`` and its aliases into parameter DEST; WRITES says what the command writes there."""
    extra = {"required": True} if required else {"default": default}
    if default is not None:
        extra["show_default"] = True
    return click.option(*SAVE_PATH_NAMES, dest, type=click.Path(file_okay=False), help=writes, **extra)
