"""Making and listing models: ``convert``, ``pack``, ``models``."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..runtime.errors import ImgclsError
from ..store.cache import model_dir
from . import options
from .common import EXIT_SOME_FAILED, fail


@click.command(context_settings={"ignore_unknown_options": False})
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
@options.save_path("out_dir", "Bundle folder [default: $IMGCLS_ONNX_HOME/models/NAME].")
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
    # start-up time: the converter's request and the hub load numpy (the converter imports paddle only when a step
    # needs it, and says then what to install)
    from ..converter.pipeline import ConvertRequest
    from ..hub import convert_quietly

    request = ConvertRequest(
        source=source, onnx_file=onnx_file, preset=preset, yml_file=yml_file, weights=weights,
        random_init=random_init, seed=seed, class_num=class_num, labels_file=labels_file, model_name=model_name,
        opset=opset, out_dir=out_dir, overwrite=overwrite, tolerance=tolerance, verify_images=tuple(verify_images),
        fuse_preprocess=fuse_preprocess, precision=precision, calibration_images=calibration_images,
        official_source=official_source,
    )
    try:
        report = convert_quietly(request)  # stdout carries only the JSON report; the steps go to stderr
    except ImgclsError as e:
        raise fail(str(e), code=EXIT_SOME_FAILED) from None
    click.echo(json.dumps(report, indent=1))


@click.command()
@click.argument("model")
@click.option("--output", "-o", "out_file", required=True, type=click.Path(dir_okay=False),
              help="The archive to write (FILE.tar.gz).")
def pack(model: str, out_file: str) -> None:
    """Write MODEL (a zoo name, a bundle folder or archive) as one deterministic .tar.gz for machines without Paddle.

    The same bundle always gives the same bytes; the sha256 printed goes after '#sha256=' in --model FILE_OR_URL."""
    # start-up time: the hub and the bundle reader load numpy
    from ..hub import obtain_model
    from ..runtime.fsutil import sha256_file
    from ..store.archive import pack_bundle

    try:
        folder = obtain_model(model)
        out = pack_bundle(folder, out_file)
    except ImgclsError as e:
        raise fail(str(e)) from None
    click.echo(json.dumps({"archive": str(out), "sha256": sha256_file(out), "bytes": out.stat().st_size,
                           "bundle": str(folder)}, indent=1))


def _norm(text: str) -> str:
    return text.lower().replace("-", "").replace("_", "")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--family", default=None, help="Only this family (e.g. PP-LCNet).")
def models(as_json: bool, family: str | None) -> None:
    """List the zoo models: name, family, input size, PaddleX's top-1, and the local bundle's weights
    (official, user, random) or '-' when there is none."""
    # start-up time: the catalogue loads numpy
    from ..store.catalogue import load_zoo

    families = sorted({m.family for m in load_zoo().models})
    if family and _norm(family) not in {_norm(f) for f in families}:
        raise fail(f"no family {family!r}; the families are: {', '.join(families)}")
    rows = []
    for m in load_zoo().models:
        if family and _norm(m.family) != _norm(family):
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
    _print_table(rows)


def _print_table(rows: list) -> None:
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
    # start-up time: the bundle reader loads numpy
    from ..runtime.bundle import load_bundle

    for folder in (model_dir(name), model_dir(f"{name}_random")):
        if (folder / "inference.onnx").is_file():
            try:
                return load_bundle(folder, verify_checksum=False).weights, str(folder)
            except ImgclsError:
                return "unreadable", str(folder)
    return None, None
