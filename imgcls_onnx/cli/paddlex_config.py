"""`imgcls-onnx -c CONFIG.yaml -o KEY=VALUE ...`: PaddleX's module config runs, mapped onto our commands.

Reads PaddleX's own module YAML (``paddlex/configs/modules/image_classification/<MODEL>.yaml`` in the pip package):
``Global.model``, ``Global.mode``, ``Global.dataset_dir``, ``Global.device``, ``Global.output``, ``Predict.model_dir``
(a bundle folder, archive or zoo name here), ``Predict.input``, ``Predict.batch_size``, ``Evaluate.weight_path``,
``Export.weight_path``. Modes: predict, evaluate, check_dataset, export; train says where training happens.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Sequence

import yaml

from ..api import create_model
from ..datasets import check_dataset, evaluate, iter_problem_lines, write_evaluation
from ..errors import ConfigRunError
from ..hub import convert_quietly
from ..runtime.bundle import load_yaml
from ..runtime.defaults import BATCH_SIZE
from ..runtime.net import is_url
from ..store.converter_modules import converter_available
from .sink import ResultSink, paddlex_print, walk_inputs


def apply_overrides(config: dict, overrides: Sequence[str]) -> dict:
    """PaddleX's ``-o Section.key=value`` (values parsed as YAML scalars: numbers, booleans, null, lists)."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigRunError(f"-o {item!r}: expected KEY=VALUE (e.g. -o Global.mode=predict)")
        node = config
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigRunError(f"-o {item!r}: {part!r} is not a section")
        try:
            node[parts[-1]] = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            node[parts[-1]] = value
    return config


def _device(global_cfg: dict) -> str:
    device = str(global_cfg.get("device") or "auto")
    # PaddleX lists several cards for training ("gpu:0,1,2,3"): inference uses the first
    return device.split(",")[0]


def _model_ref(config: dict, section: str, key: str) -> str:
    glob = config.get("Global") or {}
    ref = (config.get(section) or {}).get(key)
    if ref and str(ref).endswith(".pdparams"):
        raise ConfigRunError(
            f"{section}.{key} is a Paddle weights file ({ref}); convert it once with `imgcls-onnx convert "
            f"{glob.get('model')} --weights {ref}` (or convert PaddleX's exported inference folder) and point "
            f"{section}.{key} at the bundle")
    if ref and (Path(str(ref)).exists() or is_url(str(ref))):
        return str(ref)
    if ref and str(ref) != "output/best_model/inference":
        raise ConfigRunError(f"{section}.{key} = {ref!r} does not exist")
    name = glob.get("model")
    if not name:
        raise ConfigRunError("Global.model is missing")
    return str(name)


def run_config(path: "str | Path", overrides: Sequence[str] = ()) -> int:
    try:
        config = load_yaml(Path(path).read_text(encoding="utf-8-sig")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ConfigRunError(f"cannot read {path}: {e}") from None
    if not isinstance(config, dict):
        raise ConfigRunError(f"{path}: expected a PaddleX module config (a mapping with Global, Predict, ...)")
    config = apply_overrides(config, overrides)
    glob = config.get("Global") or {}
    mode = str(glob.get("mode") or "")
    output = Path(str(glob.get("output") or "output"))
    if mode == "predict":
        return _predict(config, output)
    if mode == "evaluate":
        return _evaluate(config, output)
    if mode == "check_dataset":
        return _check(config, output)
    if mode == "export":
        return _export(config, output)
    if mode == "train":
        raise ConfigRunError(
            "training stays in PaddleX: run `paddlex -c CONFIG -o Global.mode=train` there, then bring its output "
            "back with `imgcls-onnx convert output/best_model/inference --name NAME`")
    raise ConfigRunError(f"Global.mode must be predict, evaluate, check_dataset, export or train, not {mode!r}")


def _predict(config: dict, output: Path) -> int:
    pred = config.get("Predict") or {}
    inputs = pred.get("input")
    if not inputs:
        raise ConfigRunError("Predict.input is missing (-o Predict.input=IMAGE_OR_FOLDER)")
    model = create_model(_model_ref(config, "Predict", "model_dir"), device=_device(config.get("Global") or {}),
                         batch_size=int(pred.get("batch_size") or 1))
    sink = ResultSink(paddlex_print, output, save_img=True, print_failures=False)
    with model:
        try:
            sink.drain(model.predict(walk_inputs([inputs]).items,
                                     topk=pred.get("topk")))
        finally:
            sink.close()
    return 1 if sink.failed else 0


def _evaluate(config: dict, output: Path) -> int:
    glob = config.get("Global") or {}
    dataset = glob.get("dataset_dir")
    if not dataset:
        raise ConfigRunError("Global.dataset_dir is missing")
    model = create_model(_model_ref(config, "Evaluate", "weight_path"), device=_device(glob),
                         batch_size=int((config.get("Evaluate") or {}).get("batch_size") or BATCH_SIZE))
    with model:
        evaluation = evaluate(model.classifier, dataset, "val", model.batch_size)
    result, ds = evaluation.metrics, evaluation.dataset
    write_evaluation(result, ds, output)
    print(json.dumps({**result.to_json(ds.labels)["metric"], "num_images": result.num_images}, indent=1))
    return 0


def _check(config: dict, output: Path) -> int:
    dataset = (config.get("Global") or {}).get("dataset_dir")
    if not dataset:
        raise ConfigRunError("Global.dataset_dir is missing")
    result = check_dataset(dataset, output)
    for line in iter_problem_lines(result.problems):
        print(line)
    for warning in result.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    return 0 if result.check_pass else 1


def _export(config: dict, output: Path) -> int:
    """Export.weight_path (.pdparams) -> a bundle under Global.output (what PaddleX's export makes for inference)."""
    glob = config.get("Global") or {}
    weights = (config.get("Export") or {}).get("weight_path")
    if not converter_available():
        raise ConfigRunError("export converts Paddle weights: it needs the converter (pip install 'imgcls-onnx[convert]')")
    from ..converter.pipeline import ConvertRequest  # noqa: PLC0415 - start-up time: the converter loads only to convert

    name = str(glob.get("model") or "")
    request: dict[str, Any] = {"source": name, "out_dir": str(output / "inference"), "overwrite": True}
    if weights and is_url(str(weights)):
        raise ConfigRunError(f"Export.weight_path is a URL ({weights}); download it and pass the file, or drop it "
                             f"to use PaddleX's official inference model")
    if weights:
        request["weights"] = str(weights)
    report = convert_quietly(ConvertRequest(**request))
    print(json.dumps(report, indent=1))
    return 0
