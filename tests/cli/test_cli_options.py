"""The CLI's shared options are declared once (imgcls_onnx/cli/options.py): the same names, type and help text on
every command that takes them, and every alias any command ever accepted still works everywhere."""
from __future__ import annotations

import ast
import subprocess
import sys

import pytest
from helpers import ROOT, structured_image, tiny_bundle, write_jpeg

from imgcls_onnx.cli import cli

SHARED = {
    "model": ("predict", "evaluate", "serve", "export-triton", "export-web"),
    "device": ("predict", "evaluate", "serve"),
    "threads": ("predict", "evaluate", "serve"),
    "batch_size": ("predict", "evaluate"),
    "fast_decode": ("predict", "evaluate"),
}
SAVE_PATH = {"predict": "save_path", "evaluate": "output", "check-dataset": "output", "convert": "out_dir",
             "export-triton": "repo", "export-web": "out"}
SAVE_PATH_ALIASES = {"--save-path", "--save_path", "--out", "--output", "-o"}


def _param(command: str, name: str):
    return next(p for p in cli.commands[command].params if p.name == name)


@pytest.mark.parametrize("name", sorted(SHARED))
def test_a_shared_option_reads_the_same_on_every_command(name):
    seen = {(tuple(_param(c, name).opts), _param(c, name).help, repr(_param(c, name).type), _param(c, name).default)
            for c in SHARED[name]}
    assert len(seen) == 1, seen


def test_threads_help_is_one_text():
    helps = {_param(c, "threads").help for c in ("predict", "evaluate", "serve")}
    assert helps == {"CPU threads [default: all cores]."}


@pytest.mark.parametrize("command", sorted(SAVE_PATH))
def test_every_save_path_alias_is_accepted_by_every_command_that_takes_one(command):
    param = _param(command, SAVE_PATH[command])
    assert set(param.opts) | set(param.secondary_opts) == SAVE_PATH_ALIASES
    for alias in SAVE_PATH_ALIASES:  # each alias lands in the command's parameter
        ctx = cli.commands[command].make_context(command, [alias, "somewhere"], resilient_parsing=True)
        assert ctx.params[SAVE_PATH[command]] == "somewhere", alias


def _cli_loading(args: list, modules: tuple) -> tuple[list, list]:
    """Run `imgcls-onnx ARGS` in a fresh interpreter: (its stdout lines, the names of ``modules`` it had loaded)."""
    code = ("import sys\nfrom imgcls_onnx.cli import main\nsys.argv = ['imgcls-onnx', *sys.argv[1:]]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            f"print([m for m in {modules!r} if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          encoding="utf-8", timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    return lines[:-1], ast.literal_eval(lines[-1])


def test_help_loads_no_numpy_opencv_or_onnxruntime():
    """The CLI's start-up: `imgcls-onnx --help` and `predict --help` import click, not the runtime's heavy modules
    (nor importlib.metadata, 30 ms that only --version needs)."""
    for args in (["--help"], ["predict", "--help"], ["serve", "--help"]):
        _, loaded = _cli_loading(args, ("numpy", "cv2", "onnxruntime", "importlib.metadata"))
        assert loaded == [], args


def test_predict_on_local_files_loads_no_http_client(tmp_path):
    """Start-up: a run over local files never loads the HTTP client behind image URLs (http.client, ssl, certifi:
    runtime/fetch.py, 24 ms) nor importlib.metadata; it still classifies."""
    model = tiny_bundle(tmp_path / "m")
    photo = write_jpeg(tmp_path / "a.jpg", structured_image(64, 48))
    out, loaded = _cli_loading(["predict", photo, "-m", model], ("http.client", "ssl", "certifi", "importlib.metadata"))
    assert '"class_ids"' in out[0], out
    assert loaded == []
