"""PaddleX ClsDataset work: ``check-dataset``, ``split-dataset``, ``evaluate``."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..runtime.errors import ImgclsError
from ..store.converter_modules import missing_converter_modules
from . import options
from .common import EXIT_SOME_FAILED, fail
from .progress import callback


@click.command("check-dataset")
@click.argument("dataset", type=click.Path(exists=True, file_okay=False))
@options.save_path("output", "Write check_dataset_result.json, the histogram and samples here (PaddleX's output "
                             "folder).", default="output")
def check_dataset_cmd(dataset: str, output: str | None) -> None:
    """Check a PaddleX ClsDataset and report every problem with file and line. Exit 0 when it passes, 1 if not."""
    # start-up time: the datasets package loads numpy and OpenCV
    from ..datasets import DatasetError, check_dataset, iter_problem_lines
    from ..datasets.report import matplotlib_available

    try:
        result = check_dataset(dataset, output, progress=callback("checking"))
    except DatasetError as e:
        raise fail(str(e), code=EXIT_SOME_FAILED) from None
    for line in iter_problem_lines(result.problems):
        click.echo(line)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    attrs = result.result["attributes"]
    click.echo(f"{attrs['num_classes']} classes, {attrs['train_samples']} train and {attrs['val_samples']} val "
               f"images usable; {len(result.problems)} problem(s); wrote {Path(output) / 'check_dataset_result.json'}",
               err=True)
    if not matplotlib_available():
        click.echo("note: matplotlib is not installed, so no histogram PNG (pip install 'imgcls-onnx[plots]')",
                   err=True)
    if not result.check_pass:
        raise click.exceptions.Exit(EXIT_SOME_FAILED)


@click.command("split-dataset")
@click.argument("dataset", type=click.Path(exists=True, file_okay=False))
@click.option("--val-percent", required=True, type=float, help="Share of each class that goes to val.txt.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the shuffle (same seed, same split).")
def split_dataset_cmd(dataset: str, val_percent: float, seed: int) -> None:
    """Re-split train+val, stratified by class and deterministic; the old lists are kept as *.bak."""
    # start-up time: the datasets package loads numpy and OpenCV
    from ..datasets import DatasetError, split_dataset

    try:
        counts = split_dataset(dataset, val_percent, seed)
    except DatasetError as e:
        raise fail(str(e)) from None
    click.echo(json.dumps(counts))


@click.command()
@options.model
@click.option("--dataset", "-d", required=True, type=click.Path(exists=True, file_okay=False),
              help="A PaddleX ClsDataset folder (label.txt, train.txt, val.txt).")
@click.option("--split", default="val", show_default=True, type=click.Choice(["train", "val", "test"]),
              help="Which list to evaluate.")
@options.batch_size
@options.device
@options.threads
@options.save_path("output", "Write evaluate_result.json, the confusion matrix JSON and PNG here.")
@click.option("--force", is_flag=True,
              help="Evaluate even when the model's class count differs from the dataset's label list.")
@click.option("--compare-paddle", "paddle_dir", default=None, type=click.Path(exists=True, file_okay=False),
              help="The source Paddle inference folder: also report per-image agreement with Paddle (convert extra).")
@options.fast_decode
def evaluate(model, dataset, split, batch_size, device, threads, output, force, paddle_dir, fast_decode) -> None:
    """Top-1/top-5, per-class accuracy and a confusion matrix of MODEL on a PaddleX ClsDataset split."""
    # start-up time: numpy/OpenCV/onnxruntime load only when a command runs
    from ..datasets import DatasetError, write_evaluation
    from ..datasets import evaluate as run_evaluate
    from ..hub import obtain_model
    from ..runtime.classifier import Classifier

    try:
        clf = Classifier.from_dir(obtain_model(model), device=device, threads=threads, batch_size=batch_size,
                                  fast_decode=fast_decode)
    except ImgclsError as e:
        raise fail(str(e)) from None
    try:
        evaluation = run_evaluate(clf, dataset, split, batch_size, progress=callback("evaluating"), force=force)
    except DatasetError as e:
        raise fail(str(e)) from None
    result, ds = evaluation.metrics, evaluation.dataset
    extra = {"model": str(clf.bundle.directory)}
    if paddle_dir:
        extra["compare_paddle"] = _compare_paddle(paddle_dir, clf, ds, split, evaluation, batch_size)
    summary = {**result.to_json(ds.labels)["metric"], "num_images": result.num_images,
               "num_unreadable": result.num_unreadable, "misclassified": len(result.misclassified)}
    if "compare_paddle" in extra:
        cp = extra["compare_paddle"]
        summary["paddle_top1_agreement"] = cp["top1_agreement"]
        summary["paddle_max_score_difference"] = cp["max_score_difference"]
    for u in result.unreadable:
        click.echo(f"error: {u['error']}", err=True)
    if output:
        for p in write_evaluation(result, ds, output, extra):
            click.echo(f"wrote {p}", err=True)
    click.echo(json.dumps(summary, indent=1))


def _compare_paddle(paddle_dir, clf, ds, split, evaluation, batch_size) -> dict:
    """--compare-paddle: per-image agreement of the evaluation's predictions with Paddle's."""
    missing = missing_converter_modules()
    if missing:
        raise fail(f"--compare-paddle runs Paddle: it needs the convert extra ({', '.join(missing)} missing; "
                   f"pip install 'imgcls-onnx[convert]')")
    # start-up time: the comparison and the hub load numpy
    from ..converter.compare import compare_with_paddle
    from ..hub import stdout_to_stderr

    paths = [str(ds.image_path(s)) for s in ds.samples[split]]
    with stdout_to_stderr():
        return compare_with_paddle(Path(paddle_dir), clf, paths, evaluation.predictions, batch_size)
