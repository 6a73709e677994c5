"""The zoo manifest: the 80 PaddleX image-classification models, parsed into frozen dataclasses."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ManifestError, UnknownModelError
from .transforms import PreprocessSpec

ENV_HOME = "IMGCLS_ONNX_HOME"


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
    labels: str  # label set id, e.g. "imagenet1k"
    reference: ReferenceFigures

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
                labels=str(d["labels"]),
                reference=ReferenceFigures(
                    top1=ref.get("top1"),
                    gpu_ms_t4_fp32=ref.get("gpu_ms_t4_fp32"),
                    cpu_ms_xeon5117_8t_fp32=ref.get("cpu_ms_xeon5117_8t_fp32"),
                    size=ref.get("size"),
                ),
            )
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise ManifestError(f"zoo manifest entry {d.get('name', '?')!r} is invalid: {e!r}") from e

    def label_names(self) -> tuple[str, ...]:
        return label_set(self.labels)


@dataclass(frozen=True)
class Manifest:
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
        import difflib

        close = difflib.get_close_matches(name, self.names(), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `imgcls-onnx models` lists them"
        raise UnknownModelError(f"{name!r} is not a model of the zoo{hint}")


@lru_cache(maxsize=1)
def load_zoo() -> Manifest:
    text = resources.files("imgcls_onnx").joinpath("zoo_manifest.json").read_text(encoding="utf-8")
    data = json.loads(text)
    models = tuple(ModelSpec.from_dict(d) for d in data["models"])
    names = [m.name for m in models]
    if len(set(names)) != len(names):
        raise ManifestError("zoo manifest has duplicate model names")
    return Manifest(models)


@lru_cache(maxsize=4)
def label_set(label_id: str) -> tuple[str, ...]:
    from .bundle import read_label_file

    if label_id != "imagenet1k":
        raise ManifestError(f"unknown label set {label_id!r}")
    with resources.as_file(resources.files("imgcls_onnx.data").joinpath("imagenet1k_label_list.txt")) as p:
        return read_label_file(p)


def models_home() -> Path:
    """$IMGCLS_ONNX_HOME, else the user cache dir (XDG_CACHE_HOME or ~/.cache on Linux/macOS, LOCALAPPDATA on Windows)."""
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    if os.name == "nt" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "imgcls-onnx"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "imgcls-onnx"


def model_dir(name: str) -> Path:
    return models_home() / "models" / name


def resolve_model(name_or_dir: "str | os.PathLike[str]") -> Path:
    """A folder path is used as is; a zoo name resolves to $IMGCLS_ONNX_HOME/models/NAME, which must exist."""
    p = Path(os.fspath(name_or_dir)).expanduser()
    if p.is_dir():
        return p
    text = os.fspath(name_or_dir)
    if os.sep in text or (os.altsep and os.altsep in text) or text.startswith("."):
        raise UnknownModelError(f"model folder {text!r} does not exist")
    local = model_dir(text)
    if local.is_dir():
        return local
    try:
        spec = load_zoo().get(text)
    except UnknownModelError:
        raise UnknownModelError(f"{text!r} is neither a model folder nor a model of the zoo; `imgcls-onnx models` lists them") from None
    local = model_dir(spec.name)
    if local.is_dir():
        return local
    raise UnknownModelError(
        f"zoo model {spec.name!r} has not been converted on this machine (looked in {str(local)!r}). Make it with:\n"
        f"  imgcls-onnx convert {spec.name} --weights {spec.name}_pretrained.pdparams\n"
        f"(needs `pip install 'imgcls-onnx[convert]'`; use --random-init instead of --weights for a test model)"
    )
