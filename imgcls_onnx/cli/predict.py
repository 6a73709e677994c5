"""``predict``: classify images here (the local engine) or on a Ray cluster (``--engine ray``)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..runtime.errors import ImgclsError
from . import options
from .common import EXIT_SOME_FAILED, fail
from .interrupt import bounded_interrupt
from .progress import Progress
from .sink import ResultSink, ours, walk_inputs

INTERRUPTED = "interrupted; results written so far are complete (use --resume to continue)"


@click.command()
@options.model
@options.device
@options.batch_size
@options.topk()
@options.threads
@options.save_path("save_path", "Write <stem>_res.json per image here (atomically).")
@click.option("--save-img", is_flag=True, help="With --save-path: also write the image with the top-1 label drawn.")
@click.option("--resume", is_flag=True, help="With --save-path: skip inputs whose <stem>_res.json already exists.")
@options.quiet
@options.fast_decode
@click.option("--engine", default="local", show_default=True, type=click.Choice(["local", "ray"]),
              help="local: this process; ray: a Ray cluster (the ray extra), results as Parquet shards in --save-path "
                   "(a folder, or s3://bucket/prefix/ and any other pyarrow filesystem, as the inputs may be).")
@click.option("--ray-address", default=None,
              help="With --engine ray: the cluster to join (e.g. ray://head:10001, auto) [default: start a local one].")
@click.option("--ray-actors", default=None, type=click.IntRange(min=1),
              help="With --engine ray: model actors [default: the cluster's CPUs / --ray-threads-per-actor].")
@click.option("--ray-threads-per-actor", default=None, type=click.IntRange(min=1),
              help="With --engine ray: CPU threads (and reserved CPUs) per actor [default: a node's CPUs, at most 4].")
@click.argument("inputs", nargs=-1, required=True)
def predict(model, device, batch_size, topk, threads, save_path, save_img, resume, quiet, fast_decode, engine,
            ray_address, ray_actors, ray_threads_per_actor, inputs) -> None:
    """Classify INPUTS (files, folders, glob patterns, http(s) URLs) and print one JSON line per image.

    On the CPU up to 4 batches run at once (sharing --threads)."""
    if engine == "ray":
        _predict_on_ray(model, batch_size, topk, save_path, resume, quiet, ray_address, ray_actors,
                        ray_threads_per_actor, inputs)
        return
    # start-up time: numpy/OpenCV/onnxruntime load only when a command runs, not for --help
    from ..hub import obtain_model
    from ..runtime.classifier import Classifier

    if (save_img or resume) and not save_path:
        raise click.UsageError("--save-img and --resume need --save-path")
    try:
        clf = Classifier.from_dir(obtain_model(model), device=device, threads=threads, batch_size=batch_size, topk=topk,
                                  fast_decode=fast_decode)
    except ImgclsError as e:
        raise fail(str(e)) from None
    out_dir = Path(save_path) if save_path else None
    walked = walk_inputs(inputs, out_dir if resume else None)
    sink = ResultSink(ours, out_dir, save_img, quiet,
                      progress=Progress(total=len(walked.items) if sys.stderr.isatty() else None))
    try:
        sink.drain(clf.predict(walked.items, batch_size=batch_size, topk=topk, keep_images=save_img))
    except KeyboardInterrupt:
        sink.close()
        click.echo(INTERRUPTED, err=True)
        raise click.exceptions.Exit(130) from None
    finally:
        clf.close()
    sink.close()
    if walked.skipped:
        click.echo(f"resumed: skipped {walked.skipped} inputs that already had results", err=True)
    if sink.failed:
        click.echo(f"{sink.failed} of {sink.count} inputs failed", err=True)
        raise click.exceptions.Exit(EXIT_SOME_FAILED)


def _predict_on_ray(model, batch_size, topk, save_path, resume, quiet, address, actors, threads_per_actor,
                    inputs) -> None:
    if resume and not save_path:
        raise click.UsageError("--resume needs --save-path")
    try:
        # optional dependency: the ray extra
        from .. import ray as ray_jobs

        ray_jobs.ray_module()
    except ImgclsError as e:
        raise fail(f"{e}; or pip install 'imgcls-onnx[ray]'") from None
    ray_jobs.quiet_ray_data()
    try:
        with bounded_interrupt(INTERRUPTED):  # Ctrl-C stops the command within a bounded time (cli/interrupt.py)
            rows = ray_jobs.run(list(inputs), model, save_path=save_path, address=address, actors=actors,
                                threads_per_actor=threads_per_actor, batch_size=batch_size, topk=topk,
                                resume=resume)
    except ImgclsError as e:
        raise fail(str(e)) from None
    except KeyboardInterrupt:
        # run() has shut its Ray down; every shard in --save-path is whole (written under a temporary name)
        click.echo(INTERRUPTED, err=True)
        raise click.exceptions.Exit(130) from None
    failed = _report_ray_shards(ray_jobs, save_path) if save_path else _print_ray_rows(ray_jobs, rows, quiet)
    if failed:
        raise click.exceptions.Exit(EXIT_SOME_FAILED)


def _report_ray_shards(ray_jobs, save_path) -> int:
    """Each failure in the Parquet shards at SAVE_PATH (a folder or a URI) on stderr, as the local engine does."""
    try:
        rows = ray_jobs.read_results(save_path, columns=["input_path", "error"])
    except ImgclsError as e:
        raise fail(str(e)) from None
    failed = 0
    for row in rows:
        if row["error"]:
            failed += 1
            click.echo(f"error: {row['error']}", err=True)
    click.echo(f"{len(rows)} results in {save_path} (Parquet), {failed} failed", err=True)
    return failed


def _print_ray_rows(ray_jobs, rows, quiet) -> int:
    failed = 0
    for row in rows:
        res = ray_jobs.row_to_json(row)
        if "error" in res:
            failed += 1
            click.echo(f"error: {res['error']['message']}", err=True)
        if not quiet:
            click.echo(json.dumps(res, ensure_ascii=False))
    return failed

