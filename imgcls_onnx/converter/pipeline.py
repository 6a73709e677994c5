"""One conversion, from any source to a verified bundle. Verification is part of conversion, not a step after it."""
from __future__ import annotations

import copy
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..runtime.bundle import BundleConfig, read_label_file, read_yml, write_bundle
from ..runtime.errors import ImgclsError
from ..runtime.postprocess import softmax
from ..store.cache import model_dir
from ..store.catalogue import load_zoo
from .architectures import build_architecture, load_weights, randomize_for_parity
from .deps import import_onnx, versions
from .errors import ConversionError
from .export import (
    append_softmax,
    drop_unused_initializers,
    jit_save,
    logits_module,
    output_ends_in_softmax,
    paddle_to_onnx,
    repair_scalar_concat,
    set_dynamic_batch,
)
from .verify import (
    DEFAULT_TOLERANCE,
    compare,
    onnxruntime_outputs,
    paddle_dygraph_fp64_outputs,
    paddle_dygraph_outputs,
    paddle_inference_outputs,
    verification_batch,
)


@dataclass
class ConvertRequest:
    source: str | None = None  # zoo name or Paddle inference folder
    onnx_file: str | None = None
    preset: str | None = None  # zoo model whose preprocessing to use
    yml_file: str | None = None
    weights: str | None = None
    random_init: bool = False
    seed: int = 0
    class_num: int | None = None
    labels_file: str | None = None
    model_name: str | None = None
    opset: int = 17
    out_dir: str | None = None
    overwrite: bool = False
    tolerance: float | None = None
    verify_images: Sequence[str] = field(default_factory=tuple)
    fuse_preprocess: bool = False
    precision: str = "fp32"  # fp32 | fp16 | int8
    calibration_images: str | None = None
    official_source: str | None = None  # --source: mirror URL, archive or folder for the official weights


def _labels(request: ConvertRequest, default: tuple[str, ...] | None, class_num: int | None) -> tuple[str, ...] | None:
    labels = read_label_file(request.labels_file) if request.labels_file else default
    if labels is not None and class_num is not None and len(labels) != class_num:
        raise ConversionError(f"the label list has {len(labels)} names but the model has {class_num} classes")
    return labels


def _config_from_options(request: ConvertRequest, name: str, class_num: int | None) -> BundleConfig:
    """inference.yml from --yml, or preprocessing from --preset (a zoo model) plus --labels."""
    if request.yml_file:
        config = read_yml(Path(request.yml_file))
        labels = _labels(request, config.label_list, class_num)
        return BundleConfig(request.model_name or config.model_name or name, config.preprocess, config.topk, labels)
    if request.preset:
        spec = load_zoo().get(request.preset)
        default = spec.label_names() if (class_num or spec.class_num) == spec.class_num else None
        return BundleConfig(request.model_name or name, spec.preprocess, spec.topk, _labels(request, default, class_num))
    raise ConversionError(
        "no preprocessing known for this model: pass --yml inference.yml, or --preset ZOO_MODEL (its resize/crop/"
        "normalize) with --labels FILE"
    )


def _target(request: ConvertRequest, name: str) -> Path:
    target = Path(request.out_dir) if request.out_dir else model_dir(name)
    if target.exists() and not request.overwrite:
        raise ConversionError(f"{str(target)!r} already exists; pass --overwrite to replace it")
    return target


def _finish_onnx(onnx_path: Path, log: Callable[[str], None]):
    onnx = import_onnx()
    model = onnx.load(str(onnx_path))
    repairs = repair_scalar_concat(model)
    if repairs:
        log(f"repaired {repairs} Concat input(s) that paddle2onnx left 0-D (legacy Paddle program)")
    set_dynamic_batch(model)
    drop_unused_initializers(model)
    try:
        onnx.checker.check_model(model)
    except Exception as e:
        raise ConversionError(f"onnx.checker rejects the converted model: {str(e).strip()[:300]}") from e
    return model, repairs


#: each step of a conversion, one line (``hub.convert_quietly`` shows them on stderr)
LOG = logging.getLogger(__name__)


def run_convert(request: ConvertRequest, log: Callable[[str], None] | None = None) -> dict:
    """Convert ``request`` into a verified bundle; returns the report (the bundle folder and its manifest). Each step
    is told to ``log``, by default the ``imgcls_onnx.converter.pipeline`` logger at INFO."""
    log = log or LOG.info
    started = time.perf_counter()
    if request.onnx_file:
        return _convert_onnx(request, log, started)
    if not request.source:
        raise ConversionError("nothing to convert: give a zoo model name, a Paddle inference folder, or --onnx FILE")
    if Path(request.source).is_dir():
        return _convert_paddle_dir(request, log, started)
    return _convert_zoo(request, log, started)


def _variant(request, onnx_model, config, manifest, log):
    """Apply --precision and --fuse-preprocess, measured against the float32 model on the verification inputs."""
    if request.precision == "fp32" and not request.fuse_preprocess:
        return onnx_model
    from .variants import (
        INT8_QUANTISATION,
        calibration_list,
        fuse_preprocess,
        measure_variant,
        measured_on,
        split_preprocess,
        to_fp16,
        to_int8,
        uint8_batch,
    )
    from .verify import verification_images

    images = verification_images(request.verify_images, n=8, seed=request.seed)
    float_batch = config.preprocess.batch(images)
    variant = copy.deepcopy(onnx_model)
    if request.precision == "fp16":
        log("converting weights to float16 (inputs and outputs stay float32)")
        variant = to_fp16(variant)
    elif request.precision == "int8":
        calib = calibration_list(request.calibration_images)
        log(f"int8 static quantisation calibrated on {len(calib)} image(s)")
        variant = to_int8(variant, config.preprocess, calib)
    elif request.precision != "fp32":
        raise ConversionError(f"--precision must be fp32, fp16 or int8, not {request.precision!r}")
    var_batch = float_batch
    if request.fuse_preprocess:
        head, norm = split_preprocess(config.preprocess)
        variant = fuse_preprocess(variant, norm)
        var_batch = uint8_batch(head, images)
    measured = measure_variant(onnx_model, variant, float_batch, var_batch)
    manifest["variant"] = {"precision": request.precision, "preprocess_fused": bool(request.fuse_preprocess),
                           "vs_float32": measured, "measured_on": measured_on(variant)}
    if request.precision == "int8":
        manifest["variant"]["quantisation"] = dict(INT8_QUANTISATION)
    log(f"variant vs float32: {measured}")
    if request.fuse_preprocess and request.precision == "fp32":
        rel = measured.get("relative_logit_difference")
        if rel is None:
            rel = measured["max_abs_output_difference"]
        if rel > 1e-5:
            raise ConversionError(f"fused preprocessing differs from the float path by {rel:.3g} (> 1e-5 of the "
                                  f"logit range): {measured}")
    return variant


def _write(request, target, onnx_model, config, manifest, log) -> dict:
    onnx_model = _variant(request, onnx_model, config, manifest, log)
    with tempfile.TemporaryDirectory(prefix="imgcls-final-") as tmp:
        path = Path(tmp) / "inference.onnx"
        path.write_bytes(onnx_model.SerializeToString())
        out = write_bundle(target, path, config, manifest, overwrite=request.overwrite)
    log(f"wrote {out}")
    return {"bundle": str(out), **json.loads((out / "manifest.json").read_text(encoding="utf-8"))}


def _convert_official(request: ConvertRequest, spec, log, started: float) -> dict:
    """PaddleX's official inference model: fetched (or taken from --source), converted as a Paddle folder; the
    archive's own inference.yml decides preprocessing and labels, as in PaddleX."""
    from .official import open_official

    if request.class_num or request.labels_file:
        raise ConversionError("--class-num and --labels apply to --weights or --random-init; an official model "
                              "brings its own classes and labels")
    name = request.model_name or spec.name
    target = Path(request.out_dir) if request.out_dir else model_dir(name)
    if target.exists() and not request.overwrite:
        from ..runtime.bundle import load_bundle

        try:
            existing = load_bundle(target)
        except ImgclsError:
            existing = None
        if existing is not None and existing.weights == "official":
            log(f"{name}: the official model is already converted in {target} (no download; --overwrite redoes it)")
            return {"bundle": str(target), "cached": True, **dict(existing.manifest or {})}
    _target(request, name)  # refuse an existing bundle before downloading anything
    with open_official(spec.name, request.official_source, log) as official:
        inner = replace(request, source=str(official.folder), model_name=name)
        if inner.out_dir is None:
            inner = replace(inner, out_dir=str(model_dir(name)))
        return _convert_paddle_dir(inner, log, started, provenance={**official.provenance, "zoo_name": spec.name})


def _convert_zoo(request: ConvertRequest, log, started: float) -> dict:
    spec = load_zoo().get(request.source)
    if request.official_source and (request.weights or request.random_init):
        raise ConversionError("--source names where the official model comes from; it does not go with --weights "
                              "or --random-init")
    if not request.weights and not request.random_init:
        return _convert_official(request, spec, log, started)
    class_num = request.class_num or spec.class_num
    default_labels = spec.label_names() if class_num == spec.class_num else None
    if class_num != spec.class_num and not request.labels_file:
        log(f"note: class_num {class_num} differs from the zoo's; labels will be class ids (pass --labels)")
    name = request.model_name or spec.name
    if request.random_init and not request.model_name and not request.out_dir:
        # random weights never take the official name unless the user says so (--name or --out)
        name = f"{spec.name}_random"
        log(f"random weights: the bundle is named {name} (pass --name {spec.name} to use the official name)")
    config = BundleConfig(name, spec.preprocess, min(spec.topk, class_num),
                          _labels(request, default_labels, class_num))
    target = _target(request, config.model_name)
    tolerance = request.tolerance or DEFAULT_TOLERANCE
    log(f"building {spec.arch} (class_num={class_num})")
    import_paddle_seed(request.seed)
    model = build_architecture(spec, class_num)
    batch, names = verification_batch(spec.preprocess, request.verify_images, n=8, seed=request.seed)
    if request.weights:
        info = load_weights(model, request.weights)
        source = {"kind": "zoo", "zoo_name": spec.name, "arch": spec.arch,
                  "weights": os.path.abspath(request.weights), **info}
    else:
        info = randomize_for_parity(model, request.seed, batch)
        source = {"kind": "zoo", "zoo_name": spec.name, "arch": spec.arch, "weights": None,
                  "random_init_seed": request.seed, **info}
    net = logits_module(model)
    reference = paddle_dygraph_outputs(net, batch)
    with tempfile.TemporaryDirectory(prefix="imgcls-convert-") as tmp:
        model_file, params_file = jit_save(net, Path(tmp) / "paddle", spec.input_hw)
        log(f"paddle2onnx (opset {request.opset})")
        paddle_to_onnx(model_file, params_file, Path(tmp) / "logits.onnx", request.opset)
        onnx_model, repairs = _finish_onnx(Path(tmp) / "logits.onnx", log)
    logits = onnxruntime_outputs(onnx_model.SerializeToString(), batch)
    reference64 = paddle_dygraph_fp64_outputs(net, batch)  # casts net to float64: it is not used after this
    parity = compare(reference, logits, "logits", "paddle-dygraph", tolerance, require_spread=True,
                     reference_fp64=reference64)
    _check(parity, spec.name)
    if not output_ends_in_softmax(onnx_model):
        append_softmax(onnx_model)
    probs = onnxruntime_outputs(onnx_model.SerializeToString(), batch)
    if float(np.abs(probs - softmax(logits)).max()) > 1e-6:
        raise ConversionError("the Softmax appended to the graph does not reproduce softmax(logits)")
    manifest = _manifest(source, onnx_model, parity, repairs, names, request, started, "probabilities")
    return _write(request, target, onnx_model, config, manifest, log)


def import_paddle_seed(seed: int) -> None:
    from .deps import import_paddle

    import_paddle().seed(int(seed))


def _find_paddle_files(folder: Path) -> tuple[Path, Path]:
    params = folder / "inference.pdiparams"
    for name in ("inference.json", "inference.pdmodel"):
        if (folder / name).is_file():
            if not params.is_file():
                raise ConversionError(f"{folder} has {name} but no inference.pdiparams")
            return folder / name, params
    raise ConversionError(
        f"{folder} is not a Paddle inference folder: expected inference.json (Paddle 3) or inference.pdmodel "
        "(legacy) with inference.pdiparams"
    )


def _convert_paddle_dir(request: ConvertRequest, log, started: float, provenance: dict | None = None) -> dict:
    folder = Path(request.source)
    model_file, params_file = _find_paddle_files(folder)
    yml = folder / "inference.yml"
    if yml.is_file() and not request.yml_file:
        config = read_yml(yml)
        config = BundleConfig(request.model_name or config.model_name or folder.name, config.preprocess, config.topk,
                              _labels(request, config.label_list, None))
    else:
        config = _config_from_options(request, request.model_name or folder.name, request.class_num)
    target = _target(request, config.model_name)
    tolerance = request.tolerance or DEFAULT_TOLERANCE
    batch, names = verification_batch(config.preprocess, request.verify_images, n=8, seed=request.seed)
    log(f"Paddle Inference reference ({model_file.name}, oneDNN off)")
    reference = paddle_inference_outputs(model_file, params_file, batch)
    with tempfile.TemporaryDirectory(prefix="imgcls-convert-") as tmp:
        log(f"paddle2onnx (opset {request.opset})")
        paddle_to_onnx(model_file, params_file, Path(tmp) / "model.onnx", request.opset)
        onnx_model, repairs = _finish_onnx(Path(tmp) / "model.onnx", log)
    got = onnxruntime_outputs(onnx_model.SerializeToString(), batch)
    ends_in_softmax = output_ends_in_softmax(onnx_model)
    kind = "probabilities" if ends_in_softmax else "logits"
    parity = compare(reference, got, kind, "paddle-inference (oneDNN off)", tolerance, require_spread=False)
    _check(parity, config.model_name)
    if config.label_list is not None and len(config.label_list) != got.shape[1]:
        raise ConversionError(f"label_list has {len(config.label_list)} names, the model outputs {got.shape[1]} classes")
    source = {"kind": "paddle-inference-folder", "folder": str(folder.resolve()), "model_file": model_file.name,
              "format": "pir-json" if model_file.suffix == ".json" else "legacy-pdmodel"}
    if provenance is not None:  # official weights: where they came from, not the temporary folder
        source = {**provenance, "model_file": model_file.name, "format": source["format"]}
    manifest = _manifest(source, onnx_model, parity, repairs, names, request, started, kind)
    return _write(request, target, onnx_model, config, manifest, log)


def _convert_onnx(request: ConvertRequest, log, started: float) -> dict:
    onnx = import_onnx()
    path = Path(request.onnx_file)
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as e:
        raise ConversionError(f"{path} is not a valid ONNX model: {str(e).strip()[:300]}") from e
    repairs = repair_scalar_concat(model)
    out_dim = model.graph.output[0].type.tensor_type.shape.dim[-1]
    class_num = request.class_num or (out_dim.dim_value or None)
    config = _config_from_options(request, request.model_name or path.stem, class_num)
    target = _target(request, config.model_name)
    batch, names = verification_batch(config.preprocess, request.verify_images, n=8, seed=request.seed)
    got = onnxruntime_outputs(model.SerializeToString(), batch)
    if not np.isfinite(got).all():
        raise ConversionError(f"{path} gives non-finite outputs on the verification batch")
    kind = "probabilities" if output_ends_in_softmax(model) else "logits"
    source = {"kind": "onnx", "file": str(path.resolve())}
    manifest = _manifest(source, model, None, repairs, names, request, started, kind)
    manifest["parity"] = {"note": "wrapped ONNX: no Paddle model to compare with; loaded and run on the batch"}
    return _write(request, target, model, config, manifest, log)


def _check(parity, name: str) -> None:
    # flat logits (std ~0 across classes) prove nothing; for probabilities the spread test is in compare()'s
    # passed flag only when asked, since a real 1000-class softmax has a small std too
    flat_logits = parity.compared == "logits" and parity.reference_std < 1e-2
    flat_probs = parity.compared == "probabilities" and parity.reference_range < 1e-3
    if (flat_logits or flat_probs) and parity.tolerance > 0 and parity.relative_error <= parity.tolerance:
        raise ConversionError(
            f"{name}: parity cannot be proven: the reference logits do not spread (mean std across classes "
            f"{parity.reference_std:.3g}); these weights give a flat output, on which any conversion would look "
            f"equal. Use trained weights, or --random-init (which re-draws BatchNorm statistics and the head). "
            f"Report: {json.dumps(parity.as_dict())}"
        )
    if not parity.depends_on_input:
        why = ("the graph ends in Softmax and its probabilities are saturated (one-hot) on the verification inputs"
               if parity.compared == "probabilities" else "the logits barely change from input to input")
        raise ConversionError(
            f"{name}: parity cannot be proven: the reference outputs do not depend on the input (input dependence "
            f"{parity.input_dependence:.3g}, max error {parity.max_abs_error:.3g}, {parity.distinct_top1} distinct "
            f"top-1 class(es) over {parity.batch} inputs): {why}, so a conversion that ignored its input would "
            f"compare equal. Pass real images with --verify-images (photos of the classes the model knows), or check "
            f"the weights. Report: {json.dumps(parity.as_dict())}"
        )
    if not parity.passed:
        raise ConversionError(
            f"{name}: parity check FAILED: relative logit error {parity.relative_error:.3g} (tolerance "
            f"{parity.tolerance:g}; vs float64: Paddle-fp32 {_g(parity.paddle_fp32_vs_fp64)}, onnxruntime "
            f"{_g(parity.onnxruntime_vs_fp64)}), top-1 agreement {parity.top1_agreement:.2f}, reference std "
            f"{parity.reference_std:.3g}, input dependence {parity.input_dependence:.3g} (must be >= 100 x the max error). Report: {json.dumps(parity.as_dict())}"
        )


def _g(v) -> str:
    return "n/a" if v is None else f"{v:.3g}"


def _manifest(source, onnx_model, parity, repairs, names, request, started, output_kind) -> dict:
    opset = next((o.version for o in onnx_model.opset_import if o.domain in ("", "ai.onnx")), None)
    return {
        "weights": "official" if source.get("kind") == "official" else (
            "random" if "random_init_seed" in source else "user"),
        "output": output_kind,
        "opset": opset,
        "source": source,
        "producer": versions(),
        "repairs": repairs,
        "parity": parity.as_dict() if parity is not None else None,
        "verification_inputs": list(names),
        "conversion_seconds": round(time.perf_counter() - started, 2),
    }
