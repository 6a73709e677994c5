"""The ``imgcls-onnx`` command line.

Exit codes: 0 every input succeeded, 1 some input failed (each failure is one line on stderr, the others are still
processed), 2 usage or model errors (bad option, unknown model, unreadable bundle).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .runtime.defaults import BATCH_SIZE
from .runtime.errors import ImgclsError

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2


def _fail(message: str, code: int = EXIT_USAGE) -> "click.exceptions.Exit":
    click.echo(f"error: {message}", err=True)
    return click.exceptions.Exit(code)


class _Progress:
    """A tqdm bar on stderr (terminals only): count, failures, rate, total and ETA; stdout stays pure JSON lines."""

    def __init__(self, enabled: bool, total: int | None = None, unit: str = "img"):
        self.count = 0
        self.failed = 0
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True, leave=True)

    def update(self, ok: bool) -> None:
        self.count += 1
        self.failed += 0 if ok else 1
        if self.bar is not None:
            self.bar.update(1)
            if not ok:
                self.bar.set_postfix(failed=self.failed, refresh=False)

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


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, invoke_without_command=True)
@click.version_option(package_name="imgcls-onnx", prog_name="imgcls-onnx")
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
    if ctx.invoked_subcommand is not None:
        if config_file or pipeline:
            raise click.UsageError("-c/--pipeline run on their own, not with a command")
        return
    if config_file:
        from .paddlex_config import ConfigRunError, run_config

        try:
            code = run_config(config_file, overrides)
        except (ConfigRunError, ImgclsError) as e:
            raise _fail(str(e)) from None
        raise click.exceptions.Exit(code)
    if pipeline:
        if not pipeline_input:
            raise click.UsageError("--pipeline needs --input")
        _run_pipeline(pipeline, pipeline_input, pipeline_save, pipeline_device, pipeline_topk)
        return
    click.echo(ctx.get_help())


def _run_pipeline(pipeline, inputs, save_path, device, topk) -> None:
    from .api import create_pipeline

    try:
        pipe = create_pipeline(pipeline, device=device)
    except (ImgclsError, ValueError) as e:
        raise _fail(str(e)) from None
    failed = 0
    for res in pipe.predict(inputs, topk=topk):
        if not res.ok:
            failed += 1
            click.echo(f"error: {res.error}", err=True)
        click.echo(json.dumps(res.json, ensure_ascii=False))
        if save_path and res.ok:
            res.save_to_json(save_path)
            res.save_to_img(save_path)
    pipe.close()
    if failed:
        raise click.exceptions.Exit(EXIT_SOME_FAILED)


@cli.command()
@click.option("--model", "-m", "model", required=True, help="A zoo name (fetched and converted once if needed), a model folder, or a bundle archive: FILE.tar.gz or an http(s) URL, optionally ending in #sha256=HEX.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, gpu or gpu:N.")
@click.option("--batch-size", "-b", default=BATCH_SIZE, show_default=True, type=click.IntRange(min=1),
              help="Images per model run.")
@click.option("--topk", "-k", default=None, type=click.IntRange(min=1), help="Top-k to return [default: the model's inference.yml].")
@click.option("--threads", default=None, type=click.IntRange(min=1), help="CPU threads [default: all cores]; on the CPU up to 4 batches run at once.")
@click.option("--save-path", "--save_path", "save_path", default=None, type=click.Path(file_okay=False), help="Write <stem>_res.json per image here (atomically).")
@click.option("--save-img", is_flag=True, help="With --save-path: also write the image with the top-1 label drawn.")
@click.option("--resume", is_flag=True, help="With --save-path: skip inputs whose <stem>_res.json already exists.")
@click.option("--quiet", "-q", is_flag=True, help="No JSON lines on stdout (failures still go to stderr).")
@click.option("--fast-decode", is_flag=True,
              help="Decode large JPEGs at 1/2-1/8 scale in the DCT domain (faster; NOT bit-exact to PaddleX).")
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
    """Classify INPUTS (files, folders, glob patterns, http(s) URLs) and print one JSON line per image."""
    if engine == "ray":
        _predict_on_ray(model, batch_size, topk, save_path, resume, quiet, ray_address, ray_actors,
                        ray_threads_per_actor, inputs)
        return
    from .hub import obtain_model
    from .runtime.classifier import Classifier
    from .runtime.inputs import iter_inputs
    from .runtime.results import result_stem

    if (save_img or resume) and not save_path:
        raise click.UsageError("--save-img and --resume need --save-path")
    _quiet_opencv()
    try:
        clf = Classifier.from_dir(obtain_model(model), device=device, threads=threads, batch_size=batch_size, topk=topk,
                                  fast_decode=fast_decode)
    except ImgclsError as e:
        raise _fail(str(e)) from None
    out_dir = Path(save_path) if save_path else None
    skipped = 0
    source = list(inputs)
    if resume and out_dir is not None and out_dir.is_dir():
        # a run killed mid-write leaves its temporary file (never a partial result): remove ours
        for stale in out_dir.glob(".*_res.json.*.tmp"):
            stale.unlink(missing_ok=True)

        def not_done(items):
            nonlocal skipped
            for item in items:
                if item.input_path and (out_dir / f"{result_stem(item.input_path, item.index)}_res.json").exists():
                    skipped += 1
                    continue
                yield item.source if item.error is None else item.input_path
        source = not_done(iter_inputs(source))
    total = None
    if sys.stderr.isatty():  # the bar's total: the inputs are walked once more (names only, no decoding)
        from .runtime.inputs import iter_inputs as _walk

        total = sum(1 for _ in _walk(list(inputs)))
    progress = _Progress(enabled=True, total=total)
    failed = 0
    stdout = sys.stdout
    try:
        for res in clf.predict(source, batch_size=batch_size, topk=topk, keep_images=save_img):
            progress.update(res.ok)
            if not res.ok:
                failed += 1
                progress.write(f"error: {res.error}")
            if not quiet:
                stdout.write(json.dumps(res.to_dict(), ensure_ascii=False) + "\n")
                stdout.flush()
            if out_dir is not None and res.ok:
                res.save_to_json(out_dir)
                if save_img:
                    res.save_to_img(out_dir)
    except KeyboardInterrupt:
        progress.close()
        click.echo("interrupted; results written so far are complete (use --resume to continue)", err=True)
        raise click.exceptions.Exit(130) from None
    finally:
        clf.close()
    progress.close()
    if skipped:
        click.echo(f"resumed: skipped {skipped} inputs that already had results", err=True)
    if failed:
        click.echo(f"{failed} of {progress.count} inputs failed", err=True)
        raise click.exceptions.Exit(EXIT_SOME_FAILED)


def _predict_on_ray(model, batch_size, topk, save_path, resume, quiet, address, actors, threads_per_actor,
                    inputs) -> None:
    if resume and not save_path:
        raise click.UsageError("--resume needs --save-path")
    try:
        from . import ray_batch

        ray_batch._ray()
    except ImgclsError as e:
        raise _fail(f"{e}; or pip install 'imgcls-onnx[ray]'") from None
    ray_batch.quiet_ray_data()
    try:
        rows = ray_batch.run(list(inputs), model, save_path=save_path, address=address, actors=actors,
                             threads_per_actor=threads_per_actor, batch_size=batch_size, topk=topk, resume=resume)
    except ImgclsError as e:
        raise _fail(str(e)) from None
    except KeyboardInterrupt:
        # run() has shut its Ray down; every shard in --save-path is whole (written under a temporary name)
        click.echo("interrupted; results written so far are complete (use --resume to continue)", err=True)
        raise click.exceptions.Exit(130) from None
    failed = 0
    if save_path:  # a folder or a URI (s3://bucket/results/): each failure on stderr, as the local engine does
        try:
            rows = ray_batch.read_results(save_path, columns=["input_path", "error"])
        except ImgclsError as e:
            raise _fail(str(e)) from None
        for row in rows:
            if row["error"]:
                failed += 1
                click.echo(f"error: {row['error']}", err=True)
        click.echo(f"{len(rows)} results in {save_path} (Parquet), {failed} failed", err=True)
    else:
        for row in rows:
            res = ray_batch.row_to_json(row)
            if "error" in res:
                failed += 1
                click.echo(f"error: {res['error']['message']}", err=True)
            if not quiet:
                click.echo(json.dumps(res, ensure_ascii=False))
    if failed:
        raise click.exceptions.Exit(EXIT_SOME_FAILED)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--family", default=None, help="Only this family (e.g. PP-LCNet).")
def models(as_json: bool, family: str | None) -> None:
    """List the zoo models: name, family, input size, PaddleX's top-1, and the local bundle's weights
    (official, user, random) or '-' when there is none."""
    from .store.catalogue import load_zoo

    def norm(text: str) -> str:
        return text.lower().replace("-", "").replace("_", "")

    families = sorted({m.family for m in load_zoo().models})
    if family and norm(family) not in {norm(f) for f in families}:
        raise _fail(f"no family {family!r}; the families are: {', '.join(families)}")
    rows = []
    for m in load_zoo().models:
        if family and norm(m.family) != norm(family):
            continue
        weights, bundle = _local_weights(m.name)
        rows.append({
            "name": m.name,
            "family": m.family,
            "module": m.module,
            "input": f"{m.input_hw[0]}x{m.input_hw[1]}",
            "top1": m.reference.top1,
            "converted": bundle is not None,
            "weights": weights,
            "bundle": bundle,
        })
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    w = max(len(r["name"]) for r in rows) if rows else 10
    click.echo(f"{'name':<{w}}  {'family':<18}  {'input':>7}  {'top1':>6}  local bundle")
    for r in rows:
        top1 = f"{r['top1']:.2f}" if r["top1"] is not None else "-"
        local = "-"
        if r["bundle"]:
            local = f"{r['weights'] or 'unknown'} weights"
            if Path(r["bundle"]).name != r["name"]:
                local += f" (as {Path(r['bundle']).name})"
        click.echo(f"{r['name']:<{w}}  {r['family']:<18}  {r['input']:>7}  {top1:>6}  {local}")


def _local_weights(name: str) -> "tuple[str | None, str | None]":
    """(official / user / random, bundle folder) of the local bundle for a zoo name, or its _random twin."""
    from .runtime.bundle import load_bundle
    from .store.cache import model_dir

    for folder in (model_dir(name), model_dir(f"{name}_random")):
        if (folder / "inference.onnx").is_file():
            try:
                return load_bundle(folder, verify_checksum=False).weights, str(folder)
            except ImgclsError:
                return "unreadable", str(folder)
    return None, None


@cli.command(context_settings={"ignore_unknown_options": False})
@click.argument("source", required=False)
@click.option("--onnx", "onnx_file", type=click.Path(exists=True, dir_okay=False), help="Wrap an existing ONNX file.")
@click.option("--preset", default=None, help="Preprocessing preset: a zoo model name whose preprocessing to use.")
@click.option("--yml", "yml_file", type=click.Path(exists=True, dir_okay=False), help="inference.yml to use.")
@click.option("--weights", type=click.Path(exists=True, dir_okay=False), help=".pdparams weights for a zoo architecture.")
@click.option("--random-init", is_flag=True,
              help="Random weights (for tests and benchmarks); the bundle is named NAME_random unless --name/--out.")
@click.option("--source", "official_source", default=None,
              help="Where PaddleX's official model comes from: a mirror base URL, one archive's URL, a downloaded "
                   "NAME_infer.tar, an extracted model folder, or a folder of archives [default: "
                   "$IMGCLS_ONNX_MODEL_SOURCE, else PaddleX's server].")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Seed of --random-init and of the synthetic parity images.")
@click.option("--class-num", type=click.IntRange(min=1), default=None, help="Number of classes (default: the zoo's).")
@click.option("--labels", "labels_file", type=click.Path(exists=True, dir_okay=False), help="Label file (one name per line, or 'index name').")
@click.option("--name", "model_name", default=None, help="Model name written to inference.yml.")
@click.option("--opset", default=17, show_default=True, type=int, help="ONNX opset paddle2onnx targets.")
@click.option("--save-path", "--save_path", "--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Bundle folder [default: $IMGCLS_ONNX_HOME/models/NAME].")
@click.option("--overwrite", is_flag=True, help="Replace an existing bundle (and fetch official weights again).")
@click.option("--tolerance", default=None, type=float, help="Max logit error relative to the logit range [default: 1e-4].")
@click.option("--verify-images", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Real images to include in the parity batch (repeatable); synthetic ones fill it up to 8.")
@click.option("--fuse-preprocess", is_flag=True,
              help="Model input becomes the resized, cropped uint8 NHWC batch; normalize + transpose run in the graph.")
@click.option("--precision", default="fp32", show_default=True, type=click.Choice(["fp32", "fp16", "int8"]),
              help="fp16 weights (for CUDA) or int8 static quantisation (CPU), measured against fp32.")
@click.option("--calibration-images", type=click.Path(exists=True, file_okay=False),
              help="Folder of images to calibrate int8 quantisation on.")
def convert(source, onnx_file, preset, yml_file, weights, random_init, official_source, seed, class_num, labels_file, model_name, opset,
            out_dir, overwrite, tolerance, verify_images, fuse_preprocess, precision, calibration_images) -> None:
    """Convert a model into a verified bundle (parity against Paddle is part of it). Needs the convert extra.

    \b
    Three forms:
      convert NAME                   PaddleX's official weights for a zoo model, fetched once (--source: a mirror)
      convert NAME --weights W.pdparams | --random-init
      convert PADDLE_DIR             a Paddle inference folder (e.g. PaddleX's output/best_model/inference)
      convert --onnx FILE (--yml FILE | --preset ZOO_MODEL)
    """
    try:
        from .converter.pipeline import ConvertRequest, run_convert
    except ImportError as e:
        raise _fail(f"the converter is not available ({e}); install it with: pip install 'imgcls-onnx[convert]'") from None
    request = ConvertRequest(
        source=source, onnx_file=onnx_file, preset=preset, yml_file=yml_file, weights=weights,
        random_init=random_init, seed=seed, class_num=class_num, labels_file=labels_file, model_name=model_name,
        opset=opset, out_dir=out_dir, overwrite=overwrite, tolerance=tolerance, verify_images=tuple(verify_images),
        fuse_preprocess=fuse_preprocess, precision=precision, calibration_images=calibration_images,
        official_source=official_source,
    )
    try:
        from .hub import stdout_to_stderr

        with stdout_to_stderr():  # paddle / ppcls log to stdout; stdout carries only the JSON report
            report = run_convert(request, log=lambda msg: click.echo(msg, err=True))
    except ImgclsError as e:
        raise _fail(str(e), code=EXIT_SOME_FAILED) from None
    click.echo(json.dumps(report, indent=1))


def _quiet_opencv() -> None:
    """OpenCV logs decoder warnings ("PNG input buffer is incomplete") on stderr; our one-line errors say it."""
    try:
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except Exception:
        pass


def _counter(label: str):
    """A progress callback (i, n) drawing a tqdm bar with total and ETA on stderr, when it is a terminal."""
    state: dict = {"bar": None}

    def update(i: int, n: int) -> None:
        if not sys.stderr.isatty():
            return
        if state["bar"] is None:
            from tqdm import tqdm

            state["bar"] = tqdm(total=n, desc=label, unit="img", file=sys.stderr, dynamic_ncols=True)
        state["bar"].update(i - state["bar"].n)
        if i >= n:
            state["bar"].close()

    return update


@cli.command("check-dataset")
@click.argument("dataset", type=click.Path(exists=True, file_okay=False))
@click.option("--save-path", "--save_path", "--output", "-o", "output", default="output", show_default=True,
              type=click.Path(file_okay=False),
              help="Write check_dataset_result.json, the histogram and samples here (PaddleX's output folder).")
def check_dataset_cmd(dataset: str, output: str | None) -> None:
    """Check a PaddleX ClsDataset and report every problem with file and line. Exit 0 when it passes, 1 if not."""
    from .datasets import DatasetError, check_dataset, iter_problem_lines
    from .datasets.report import matplotlib_available

    _quiet_opencv()
    out = output
    try:
        result = check_dataset(dataset, out, progress=_counter("checking"))
    except DatasetError as e:
        raise _fail(str(e), code=EXIT_SOME_FAILED) from None
    for line in iter_problem_lines(result.problems):
        click.echo(line)
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    attrs = result.result["attributes"]
    click.echo(f"{attrs['num_classes']} classes, {attrs['train_samples']} train and {attrs['val_samples']} val "
               f"images usable; {len(result.problems)} problem(s); wrote {Path(out) / 'check_dataset_result.json'}",
               err=True)
    if not matplotlib_available():
        click.echo("note: matplotlib is not installed, so no histogram PNG (pip install 'imgcls-onnx[plots]')",
                   err=True)
    if not result.check_pass:
        raise click.exceptions.Exit(EXIT_SOME_FAILED)


@cli.command("split-dataset")
@click.argument("dataset", type=click.Path(exists=True, file_okay=False))
@click.option("--val-percent", required=True, type=float, help="Share of each class that goes to val.txt.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the shuffle (same seed, same split).")
def split_dataset_cmd(dataset: str, val_percent: float, seed: int) -> None:
    """Re-split train+val, stratified by class and deterministic; the old lists are kept as *.bak."""
    from .datasets import DatasetError, split_dataset

    try:
        counts = split_dataset(dataset, val_percent, seed)
    except DatasetError as e:
        raise _fail(str(e)) from None
    click.echo(json.dumps(counts))


@cli.command()
@click.option("--model", "-m", "model", required=True, help="A zoo name (fetched and converted once if needed), a model folder, or a bundle archive: FILE.tar.gz or an http(s) URL, optionally ending in #sha256=HEX.")
@click.option("--dataset", "-d", required=True, type=click.Path(exists=True, file_okay=False),
              help="A PaddleX ClsDataset folder (label.txt, train.txt, val.txt).")
@click.option("--split", default="val", show_default=True, type=click.Choice(["train", "val", "test"]),
              help="Which list to evaluate.")
@click.option("--batch-size", "-b", default=BATCH_SIZE, show_default=True, type=click.IntRange(min=1),
              help="Images per model run.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, gpu or gpu:N.")
@click.option("--threads", default=None, type=click.IntRange(min=1), help="CPU threads [default: all cores].")
@click.option("--save-path", "--save_path", "--output", "-o", "output", default=None, type=click.Path(file_okay=False),
              help="Write evaluate_result.json, the confusion matrix JSON and PNG here.")
@click.option("--force", is_flag=True,
              help="Evaluate even when the model's class count differs from the dataset's label list.")
@click.option("--compare-paddle", "paddle_dir", default=None, type=click.Path(exists=True, file_okay=False),
              help="The source Paddle inference folder: also report per-image agreement with Paddle (convert extra).")
@click.option("--fast-decode", is_flag=True,
              help="Decode large JPEGs at 1/2-1/8 scale in the DCT domain (faster; NOT bit-exact to PaddleX).")
def evaluate(model, dataset, split, batch_size, device, threads, output, force, paddle_dir, fast_decode) -> None:
    """Top-1/top-5, per-class accuracy and a confusion matrix of MODEL on a PaddleX ClsDataset split."""
    from .datasets import DatasetError, write_evaluation
    from .datasets import evaluate as run_evaluate
    from .hub import obtain_model
    from .runtime.classifier import Classifier

    _quiet_opencv()
    try:
        clf = Classifier.from_dir(obtain_model(model), device=device, threads=threads, batch_size=batch_size,
                                  fast_decode=fast_decode)
    except ImgclsError as e:
        raise _fail(str(e)) from None
    try:
        evaluation = run_evaluate(clf, dataset, split, batch_size, progress=_counter("evaluating"), force=force)
    except DatasetError as e:
        raise _fail(str(e)) from None
    result, ds = evaluation.metrics, evaluation.dataset
    extra = {"model": str(clf.bundle.directory)}
    if paddle_dir:
        try:
            from .converter.compare import compare_with_paddle
        except ImportError as e:
            raise _fail(f"--compare-paddle needs the convert extra ({e})") from None
        paths = [str(ds.image_path(s)) for s in ds.samples[split]]
        from .hub import stdout_to_stderr

        with stdout_to_stderr():
            extra["compare_paddle"] = compare_with_paddle(Path(paddle_dir), clf, paths, evaluation.predictions,
                                                            batch_size)
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


@cli.command()
@click.option("--model", "-m", "model", required=True, help="A zoo name (fetched and converted once if needed), a model folder, or a bundle archive: FILE.tar.gz or an http(s) URL, optionally ending in #sha256=HEX.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, gpu or gpu:N.")
@click.option("--threads", default=None, type=click.IntRange(min=1), help="CPU threads [default: all cores].")
@click.option("--max-batch-size", default=None, type=click.IntRange(min=1),
              help="Most requests one model run may serve [default: 4 on CPU, 16 on GPU].")
@click.option("--max-wait-ms", default=None, type=click.FloatRange(min=0),
              help="Cap on how long a batch may wait to fill, used only under heavy load (half a batch already "
                   "queued); a request that finds the model free runs at once [default: 0 on CPU, 5 on GPU].")
@click.option("--max-queue", default=256, show_default=True, type=click.IntRange(min=1),
              help="Requests that may wait; more are answered 503 with Retry-After.")
@click.option("--max-body-mb", default=20.0, show_default=True, type=click.FloatRange(min=0.001),
              help="Largest request body (413 above it, chunked bodies included).")
@click.option("--allow-url-fetch", is_flag=True, help="Accept http(s) URLs in 'image' (never private addresses).")
@click.option("--decode-workers", default=None, type=click.IntRange(min=1),
              help="Threads that decode and preprocess requests [default: 4].")
@click.option("--malloc-arenas", default=2, show_default=True, type=click.IntRange(min=0),
              help="glibc malloc arenas for the server's threads (as MALLOC_ARENA_MAX): 2 keeps RSS flat after load "
                   "(at a few percent of throughput under load); 0 leaves glibc's default.")
@click.option("--latency-session", default="auto", show_default=True, type=click.Choice(["auto", "on", "off"]),
              help="On CPU, a second session whose threads spin within a run, for requests that find the model idle "
                   "(+10 % req/s for a lone client). It holds another copy of the weights (about 1.8x the model "
                   "file), so auto adds it for models up to 64 MB.")
@click.option("--log-level", default="info", show_default=True, help="debug, info, warning or error.")
def serve(model, host, port, device, threads, max_batch_size, max_wait_ms, max_queue, max_body_mb, allow_url_fetch,
          decode_workers, malloc_arenas, latency_session, log_level) -> None:
    """Serve MODEL over HTTP with PaddleX's image-classification API and dynamic batching (serve extra)."""
    from .serving.server import run_server
    from .serving.state import ServeSettings

    def bundle_dir():  # run_server calls this after it limits the malloc arenas (the hub loads numpy)
        from .hub import obtain_model

        return obtain_model(model)

    settings = ServeSettings(max_batch_size=max_batch_size, max_wait_ms=max_wait_ms, max_queue=max_queue,
                             max_body_mb=max_body_mb, allow_url_fetch=allow_url_fetch,
                             decode_workers=decode_workers or 4)
    try:
        run_server(bundle_dir, settings, host=host, port=port, device=device, threads=threads,
                   malloc_arenas=malloc_arenas, latency_session=latency_session, log_level=log_level)
    except ImgclsError as e:
        raise _fail(str(e)) from None


@cli.command()
@click.argument("model")
@click.option("--output", "-o", "out_file", required=True, type=click.Path(dir_okay=False),
              help="The archive to write (FILE.tar.gz).")
def pack(model: str, out_file: str) -> None:
    """Write MODEL (a zoo name, a bundle folder or archive) as one deterministic .tar.gz for machines without Paddle.

    The same bundle always gives the same bytes; the sha256 printed goes after '#sha256=' in --model FILE_OR_URL."""
    from .hub import obtain_model
    from .runtime.bundle import sha256_file
    from .store.archive import pack_bundle

    try:
        folder = obtain_model(model)
        out = pack_bundle(folder, out_file)
    except ImgclsError as e:
        raise _fail(str(e)) from None
    click.echo(json.dumps({"archive": str(out), "sha256": sha256_file(out), "bytes": out.stat().st_size,
                           "bundle": str(folder)}, indent=1))


@cli.command("export-triton")
@click.option("--model", "-m", "model", required=True, help="A zoo name (fetched and converted once if needed), a model folder, or a bundle archive: FILE.tar.gz or an http(s) URL, optionally ending in #sha256=HEX.")
@click.option("--save-path", "--save_path", "--out", "repo", required=True, type=click.Path(file_okay=False),
              help="Triton model repository.")
@click.option("--name", default=None, help="Model name in the repository [default: the bundle's].")
@click.option("--max-batch-size", default=32, show_default=True, type=click.IntRange(min=1),
              help="Triton's max_batch_size.")
@click.option("--instances", default=1, show_default=True, type=click.IntRange(min=1),
              help="Model instances (instance_group count).")
@click.option("--kind", default="KIND_CPU", show_default=True, type=click.Choice(["KIND_CPU", "KIND_GPU"]),
              help="Where Triton runs the instances.")
def export_triton_cmd(model, repo, name, max_batch_size, instances, kind) -> None:
    """Write a Triton model repository (REPO/NAME/1/model.onnx + config.pbtxt) and a client for it."""
    from .hub import obtain_model
    from .serving.triton import export_triton

    try:
        target = export_triton(obtain_model(model), Path(repo), name, max_batch_size, instances, kind)
    except (ImgclsError, ValueError) as e:
        raise _fail(str(e)) from None
    click.echo(str(target))


@cli.command("export-web")
@click.option("--model", "-m", "model", required=True, help="A zoo name (fetched and converted once if needed), a model folder, or a bundle archive: FILE.tar.gz or an http(s) URL, optionally ending in #sha256=HEX.")
@click.option("--save-path", "--save_path", "--out", "out", required=True, type=click.Path(file_okay=False),
              help="The folder to write the static site into (new or a previous export).")
@click.option("--ort-web", "ort", default="auto", show_default=True,
              help="Where the page gets onnxruntime-web 1.30.0: 'auto' (a local copy when one is found: "
                   "$IMGCLS_ONNX_ORT_WEB or this checkout's web/node_modules; else the CDN), 'cdn' (jsDelivr, "
                   "pinned, with an integrity hash), or a folder holding the npm package (offline site).")
@click.option("--jpeg-wasm", "jpeg", default="auto", show_default=True,
              help="Where the page gets its JPEG decoder, libjpeg-turbo compiled to WebAssembly (the Python runtime's "
                   "pixels in any browser): 'auto' (a local copy when one is found: $IMGCLS_ONNX_JPEG_WASM or this "
                   "checkout's web/node_modules; else the CDN), 'cdn' (jsDelivr, pinned, hash-checked), 'none' (the "
                   "browser's decoder), or the @cwasm/jpeg-turbo package folder.")
@click.option("--topk", default=5, show_default=True, type=click.IntRange(min=1), help="Classes shown per image.")
@click.option("--serve", "serve_after", is_flag=True,
              help="Serve the site on 127.0.0.1 afterwards (cross-origin isolated, so WASM uses threads).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port for --serve.")
def export_web_cmd(model, out, ort, jpeg, topk, serve_after, port) -> None:
    """Write a static web site that classifies images in the browser (onnxruntime-web; images stay local).

    Serve the folder with any static server; `imgcls-onnx serve-web SITE` adds the headers for threaded WASM."""
    from .hub import obtain_model
    from .web_export import export_web

    try:
        summary = export_web(obtain_model(model), out, ort=ort, topk=topk, jpeg=jpeg)
    except ImgclsError as e:
        raise _fail(str(e)) from None
    click.echo(json.dumps(summary, indent=1))
    if serve_after:
        _serve_site(out, "127.0.0.1", port)


@cli.command("serve-web")
@click.argument("site", type=click.Path(file_okay=False, exists=True))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
def serve_web_cmd(site, host, port) -> None:
    """Serve an export-web SITE with the cross-origin isolation headers threaded WebAssembly needs."""
    try:
        _serve_site(site, host, port)
    except ImgclsError as e:
        raise _fail(str(e)) from None


def _serve_site(site, host, port) -> None:
    from .web_export import site_server

    try:
        server = site_server(site, host, port)
    except OSError as e:
        raise _fail(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    h, p = server.server_address[:2]
    click.echo(f"serving {site} at http://{h}:{p}/ (Ctrl-C stops)", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main() -> None:
    cli(prog_name="imgcls-onnx")


if __name__ == "__main__":
    main()
