"""The ``imgcls-onnx`` command line: the click group ``cli`` and ``main``; commands live in modules by job.

Exit codes: 0 every input succeeded, 1 some input failed (each failure is one line on stderr, the others are still
processed), 2 usage or model errors (bad option, unknown model, unreadable bundle).

Layout: ``options`` (options shared by several commands, declared once), ``progress`` (the one tqdm helper),
``common`` (exit codes, the one-line error), and the commands: ``predict``; ``models`` (convert, pack, models);
``datasets`` (check-dataset, split-dataset, evaluate); ``serve`` (serve, serve-web, export-triton, export-web).
Importing this package loads click and no numpy, OpenCV or onnxruntime: commands import those when they run.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from ..runtime.errors import ImgclsError
from . import datasets, models, predict, serve
from .common import EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, check_settings, fail, print_version, show_warnings_as_lines
from .sink import ResultSink, paddlex_res, walk_inputs

__all__ = ["cli", "main", "EXIT_OK", "EXIT_SOME_FAILED", "EXIT_USAGE"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, invoke_without_command=True)
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=print_version,
              help="Show the version and the preprocessing kernel in force (compiled or numpy), and exit.")
@click.option("-c", "--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              help="A PaddleX module config (e.g. PP-LCNet_x1_0.yaml): runs Global.mode (predict, evaluate, "
                   "check_dataset, export) as `paddlex -c` does.")
@click.option("-o", "--override", "overrides", multiple=True, metavar="KEY=VALUE",
              help="With -c: override a config key, PaddleX style (-o Global.mode=predict -o Predict.input=x.jpg).")
@click.option("--pipeline", default=None,
              help="PaddleX's pipeline CLI: image_classification or a pipeline YAML (with --input, --save_path).")
@click.option("--input", "pipeline_input", default=None, help="With --pipeline: the image(s), folder or URL.")
@click.option("--save_path", "--save-path", "pipeline_save", default=None, type=click.Path(file_okay=False),
              help="With --pipeline: write <stem>_res.json and the labelled image here.")
@click.option("--device", "pipeline_device", default=None, help="With --pipeline: cpu, gpu or gpu:N.")
@click.option("--topk", "pipeline_topk", default=None, type=click.IntRange(min=1), help="With --pipeline: top-k.")
@click.pass_context
def cli(ctx, config_file, overrides, pipeline, pipeline_input, pipeline_save, pipeline_device, pipeline_topk) -> None:
    """Run PaddlePaddle / PaddleX image-classification models on onnxruntime, without Paddle."""
    check_settings()
    if ctx.invoked_subcommand is not None:
        if config_file or pipeline:
            raise click.UsageError("-c/--pipeline run on their own, not with a command")
        return
    if config_file:
        _run_config(config_file, overrides)
    if pipeline:
        if not pipeline_input:
            raise click.UsageError("--pipeline needs --input")
        _run_pipeline(pipeline, pipeline_input, pipeline_save, pipeline_device, pipeline_topk)
        return
    click.echo(ctx.get_help())


def _run_config(config_file, overrides) -> None:
    """-c CONFIG: PaddleX's module CLI; always exits with the run's code."""
    # start-up time: the config runner loads the runtime (numpy, Pillow)
    from .paddlex_config import ConfigRunError, run_config

    try:
        code = run_config(config_file, overrides)
    except (ConfigRunError, ImgclsError) as e:
        raise fail(str(e)) from None
    raise click.exceptions.Exit(code)


def _run_pipeline(pipeline, inputs, save_path, device, topk) -> None:
    # start-up time: the pipeline loads the runtime (numpy, Pillow, onnxruntime)
    from ..api import create_pipeline

    try:
        pipe = create_pipeline(pipeline, device=device)
    except (ImgclsError, ValueError) as e:
        raise fail(str(e)) from None
    sink = ResultSink(paddlex_res, Path(save_path) if save_path else None, save_img=True)
    try:
        sink.drain(pipe.predict(walk_inputs([inputs]).items, topk=topk))
    finally:
        sink.close()
        pipe.close()
    if sink.failed:
        raise click.exceptions.Exit(EXIT_SOME_FAILED)


for _command in (predict.predict, models.convert, models.pack, models.models, datasets.check_dataset_cmd,
                 datasets.split_dataset_cmd, datasets.evaluate, serve.serve, serve.export_triton_cmd,
                 serve.export_web_cmd, serve.serve_web_cmd):
    cli.add_command(_command)


def utf8_stream(stream) -> None:
    """Make a text stream write UTF-8 with "\\n" line ends, whatever the locale: Windows gives a redirected stdout its
    ANSI code page (cp1252, gbk, ...), where `predict > out.jsonl` would fail at the first CJK label, and turns "\\n"
    into "\\r\\n". The error handler stays the stream's own. Streams that cannot be reconfigured are left as they are."""
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is None:
        return
    try:
        reconfigure(encoding="utf-8", errors=stream.errors, newline="\n")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - a stream already read from, or closed
        pass


def main() -> None:
    # JSON lines on stdout, messages on stderr: the same UTF-8 bytes on every OS (docs/platforms.md)
    utf8_stream(sys.stdout)
    utf8_stream(sys.stderr)
    show_warnings_as_lines()
    cli(prog_name="imgcls-onnx")
