"""The catalogue (the zoo): PaddleX's 80 image-classification models and its 4 PP-LCNet classifiers of other modules
(document and text-line orientation, table type), parsed into frozen dataclasses, and where PaddleX publishes their
official inference archives. A leaf of the store: it names models, it fetches and resolves nothing."""
from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from ..runtime.bundle import read_label_file
from ..runtime.errors import BundleError
from ..runtime.transforms import PreprocessSpec
from .errors import UnknownModelError

#: where PaddleX 3.x downloads ``<NAME>_infer.tar`` from (a mirror replaces it: converter/official.py)
OFFICIAL_BASE = "https://paddle-model-ecology.bj.bcebos.com/paddlex/official_inference_model/paddle3.0.0"


def official_archive_name(name: str) -> str:
    """The file name of a model's official inference archive under ``OFFICIAL_BASE``."""
    return f"{name}_infer.tar"


@dataclass(frozen=True)
class ReferenceFigures:
    """PaddleX's published figures for the model (ImageNet-1k top-1 %, T4 GPU ms, Xeon 5117 CPU ms, size)."""

    top1: float | None
    gpu_ms_t4_fp32: float | None
    cpu_ms_xeon5117_8t_fp32: float | None
    size: str | None


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str
    arch: str  # ppcls.arch.backbone constructor
    class_num: int
    input_hw: tuple[int, int]
    preprocess: PreprocessSpec
    topk: int
    labels: "str | tuple[str, ...]"  # a label set id ("imagenet1k") or the names themselves
    reference: ReferenceFigures
    module: str = "image_classification"  # PaddleX's module (doc_text_orientation, table_classification, ...)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelSpec":
        try:
            ref = d.get("reference") or {}
            return cls(
                name=str(d["name"]),
                family=str(d["family"]),
                arch=str(d["arch"]),
                class_num=int(d["class_num"]),
                input_hw=(int(d["input_hw"][0]), int(d["input_hw"][1])),
                preprocess=PreprocessSpec.from_yml_ops(d["transform_ops"]),
                topk=int(d.get("topk", 5)),
                labels=tuple(str(x) for x in d["labels"]) if isinstance(d["labels"], list) else str(d["labels"]),
                reference=ReferenceFigures(
                    top1=ref.get("top1"),
                    gpu_ms_t4_fp32=ref.get("gpu_ms_t4_fp32"),
                    cpu_ms_xeon5117_8t_fp32=ref.get("cpu_ms_xeon5117_8t_fp32"),
                    size=ref.get("size"),
                ),
                module=str(d.get("module", "image_classification")),
            )
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise BundleError(f"zoo manifest entry {d.get('name', '?')!r} is invalid: {e!r}") from e

    def label_names(self) -> tuple[str, ...]:
        if isinstance(self.labels, tuple):
            return self.labels
        return label_set(self.labels)


@dataclass(frozen=True)
class Zoo:
    models: tuple[ModelSpec, ...]

    def names(self) -> list[str]:
        return [m.name for m in self.models]

    def get(self, name: str) -> ModelSpec:
        for m in self.models:
            if m.name == name:
                return m
        lowered = {m.name.lower().replace("-", "_"): m for m in self.models}
        key = name.lower().replace("-", "_")
        if key in lowered:
            return lowered[key]
        close = difflib.get_close_matches(name, self.names(), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `imgcls-onnx models` lists them"
        raise UnknownModelError(f"{name!r} is not a model of the zoo{hint}")


@lru_cache(maxsize=1)
def load_zoo() -> Zoo:
    text = resources.files("imgcls_onnx").joinpath("zoo_manifest.json").read_text(encoding="utf-8")
    data = json.loads(text)
    models = tuple(ModelSpec.from_dict(d) for d in data["models"])
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise BundleError("zoo manifest has duplicate model names")
    return Zoo(models)


@lru_cache(maxsize=4)
def label_set(label_id: str) -> tuple[str, ...]:
    if label_id != "imagenet1k":
        raise BundleError(f"unknown label set {label_id!r}")
    with resources.as_file(resources.files("imgcls_onnx.data").joinpath("imagenet1k_label_list.txt")) as p:
        return read_label_file(p)
