"""PaddleX's Python API on onnxruntime: ``create_model``, ``create_predictor`` and ``create_pipeline``.

Switching from PaddleX is one import::

    # from paddlex import create_model
    from imgcls_onnx import create_model

    model = create_model("PP-LCNet_x1_0")          # a zoo name, a model folder or a bundle archive
    for res in model.predict("photo.jpg", batch_size=1):
        res.print(); res.save_to_json("out/"); res.save_to_img("out/")

The signatures are PaddleX 3.7.2's. What maps is applied (``device``, ``batch_size``, ``engine_config`` threads,
``topk``); what cannot apply here (``use_hpip``, ``hpi_config``, ``pp_option``, ``genai_config``, an ``engine`` other
than onnxruntime) is accepted with one warning each, so PaddleX scripts run unchanged.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

from . import datasets
from .hub import obtain_model
from .runtime.bundle import load_yaml
from .runtime.classifier import Classifier
from .runtime.errors import warn
from .runtime.results import Prediction
from .store.archive import pack_bundle

_WARNED: set = set()
PIPELINE_NAME = "image_classification"
DEFAULT_PIPELINE_MODEL = "PP-LCNet_x0_5"  # what PaddleX 3.7.2's image_classification pipeline config names


def _warn_once(key: str, message: str) -> None:
    if key not in _WARNED:
        _WARNED.add(key)
        warn(message)


def _engine_settings(engine, engine_config, use_hpip, hpi_config, pp_option, genai_config, kwargs) -> dict:
    """PaddleX's engine switches -> Classifier keyword arguments, with a warning for what does not apply."""
    settings: dict[str, Any] = {}
    if engine not in (None, "onnxruntime"):
        _warn_once(f"engine:{engine}", f"engine={engine!r} is not available here: imgcls-onnx always runs on "
                                       "onnxruntime (same preprocessing and results as PaddleX)")
    if use_hpip or hpi_config:
        _warn_once("hpip", "use_hpip/hpi_config are PaddleX's high-performance plugin; ignored (onnxruntime runs "
                           "with tuned settings already; see docs/performance.md)")
    if pp_option is not None:
        _warn_once("pp_option", "pp_option configures Paddle Inference; ignored (no Paddle here)")
    if genai_config is not None:
        _warn_once("genai", "genai_config applies to PaddleX's generative models; ignored")
    config = dict(engine_config or {})
    threads = config.pop("intra_op_num_threads", None) or config.pop("cpu_threads", None)
    if threads:
        settings["threads"] = int(threads)
    if config:
        _warn_once("engine_config:" + ",".join(sorted(config)),
                   f"engine_config keys {sorted(config)} do not apply here; intra_op_num_threads does")
    for key in ("fast_decode", "parallel_batches", "workers", "limits", "session_options"):
        if key in kwargs:
            settings[key] = kwargs.pop(key)
    for key in list(kwargs):
        _warn_once(f"kw:{key}", f"create_model: {key}={kwargs.pop(key)!r} does not apply here; ignored")
    return settings


class Model:
    """What ``create_model`` returns: PaddleX's predictor interface over a Classifier."""

    def __init__(self, classifier: Classifier, batch_size: int = 1, topk: int | None = None):
        self.classifier = classifier
        self.model_name = classifier.bundle.name
        self.model_dir = str(classifier.bundle.directory)
        self.batch_size = int(batch_size)
        self.topk = topk

    def predict(self, input: Any, batch_size: int | None = None, topk: int | None = None,
                **kwargs: Any) -> Iterator[Prediction]:
        """Yield one result per input (path, folder, glob, http(s) URL, list, bytes, BGR array, PIL image)."""
        return self.classifier.predict(input, batch_size=batch_size or self.batch_size, topk=topk or self.topk,
                                       keep_images=True, **kwargs)

    __call__ = predict

    def evaluate(self, dataset: "str | os.PathLike[str]", split: str = "val", batch_size: int | None = None,
                 force: bool = False):
        """Accuracy on a PaddleX ClsDataset split: an EvalResult (top1, top5, per-class, confusion matrix)."""
        return datasets.evaluate(self.classifier, dataset, split, batch_size or self.classifier.batch_size, force=force).metrics

    def check_dataset(self, dataset: "str | os.PathLike[str]", output: "str | os.PathLike[str]" = "output"):
        """PaddleX's dataset check (every problem with file and line); returns the check result."""
        return datasets.check_dataset(dataset, output)

    def export(self, save_dir: "str | os.PathLike[str]") -> Path:
        """The model as a deterministic bundle archive (``imgcls-onnx pack``): ``save_dir/<name>.tar.gz``."""
        return pack_bundle(self.classifier.bundle.directory, Path(save_dir) / f"{self.model_name}.tar.gz")

    def train(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(
            "training stays in PaddleX (paddlex -c CONFIG.yaml -o Global.mode=train); bring its output back with "
            "`imgcls-onnx convert output/best_model/inference --name NAME`")

    def close(self) -> None:
        self.classifier.close()

    def __enter__(self) -> "Model":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def create_model(
    model_name: "str | os.PathLike[str] | None" = None,
    model_dir: "str | os.PathLike[str] | None" = None,
    device: str | None = None,
    engine: str | None = None,
    engine_config: dict | None = None,
    batch_size: int = 1,
    pp_option: Any = None,
    use_hpip: bool = False,
    hpi_config: Any = None,
    genai_config: Any = None,
    *,
    topk: int | None = None,
    **kwargs: Any,
) -> Model:
    """Load a zoo model, a model folder or a bundle archive (file or URL). A zoo model with no bundle in the cache is
    fetched from PaddleX and converted once when the converter is installed (a notice goes to stderr), as PaddleX's
    ``create_model`` downloads it. ``device``: 'cpu', 'gpu', 'gpu:N' or None (auto)."""
    if model_name is None and model_dir is None:
        raise TypeError("create_model needs model_name or model_dir")
    settings = _engine_settings(engine, engine_config, use_hpip, hpi_config, pp_option, genai_config, kwargs)
    directory = obtain_model(model_dir if model_dir is not None else model_name)
    clf = Classifier.from_dir(directory, device=device or "auto", topk=topk, batch_size=max(1, int(batch_size)),
                              **settings)
    return Model(clf, batch_size=batch_size, topk=topk)


def create_predictor(model_name: "str | os.PathLike[str]", *, model_dir=None, device=None, engine=None,
                     engine_config=None, batch_size: int = 1, pp_option=None, use_hpip: bool = False,
                     hpi_config=None, genai_config=None, **kwargs: Any) -> Model:
    """PaddleX's ``create_predictor``: the same object as ``create_model``."""
    return create_model(model_name, model_dir, device, engine, engine_config, batch_size, pp_option, use_hpip,
                        hpi_config, genai_config, **kwargs)


class Pipeline:
    """PaddleX's image_classification pipeline: ``predict(input, topk=None)`` gives the model's results."""

    def __init__(self, model: Model, config: dict):
        self.model = model
        self.config = config

    def predict(self, input: Any, topk: int | None = None, **kwargs: Any) -> Iterator[Prediction]:
        return self.model.predict(input, topk=topk, **kwargs)

    __call__ = predict

    def close(self) -> None:
        self.model.close()


def load_pipeline_config(pipeline: "str | os.PathLike[str] | None", config: dict | None) -> dict:
    """PaddleX's pipeline config: a dict, a YAML file, or the name image_classification (its default config)."""
    if config is not None:
        data = dict(config)
    elif pipeline is not None and str(pipeline) != PIPELINE_NAME:
        path = Path(pipeline)
        if not path.is_file():
            raise ValueError(f"unknown pipeline {str(pipeline)!r}: imgcls-onnx runs {PIPELINE_NAME!r} (or a PaddleX "
                             "pipeline YAML file for it)")
        data = load_yaml(path.read_text(encoding="utf-8-sig")) or {}
    else:
        data = {"pipeline_name": PIPELINE_NAME, "SubModules": {"ImageClassification": {
            "module_name": "image_classification", "model_name": DEFAULT_PIPELINE_MODEL, "model_dir": None,
            "batch_size": 4, "topk": 5}}}
    name = data.get("pipeline_name", PIPELINE_NAME)
    if name != PIPELINE_NAME:
        raise ValueError(f"pipeline {name!r} is not an image-classification pipeline; imgcls-onnx runs {PIPELINE_NAME!r}")
    if not isinstance((data.get("SubModules") or {}).get("ImageClassification"), dict):
        raise ValueError("the pipeline config needs SubModules.ImageClassification (model_name / model_dir)")
    return data


def create_pipeline(pipeline: "str | os.PathLike[str] | None" = None, *, config: dict | None = None,
                    device: str | None = None, engine: str | None = None, engine_config: dict | None = None,
                    pp_option: Any = None, use_hpip: bool | None = None, hpi_config: Any = None,
                    **kwargs: Any) -> Pipeline:
    """PaddleX's ``create_pipeline("image_classification")`` or ``create_pipeline(config=...)`` / a YAML path."""
    data = load_pipeline_config(pipeline, config)
    sub = data["SubModules"]["ImageClassification"]
    model = create_model(sub.get("model_name"), sub.get("model_dir"), device=device or data.get("device"),
                         engine=engine or data.get("engine"), engine_config=engine_config or data.get("engine_config"),
                         batch_size=int(sub.get("batch_size") or 1), pp_option=pp_option,
                         use_hpip=bool(use_hpip if use_hpip is not None else data.get("use_hpip")),
                         hpi_config=hpi_config or data.get("hpi_config"), topk=sub.get("topk"), **kwargs)
    return Pipeline(model, data)
