"""The zoo: PaddleX's 80 image-classification models and its 4 PP-LCNet classifiers of other modules (document
and text-line orientation, table type), parsed into frozen dataclasses."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from .cache import ENV_HOME, model_dir, models_home  # noqa: F401 - re-exported: the zoo names resolve there
from .errors import BundleError, ModelNotConvertedError, UnknownModelError
from .fsutil import atomic_write_text
from .transforms import PreprocessSpec


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
        import difflib

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
    from .bundle import read_label_file

    if label_id != "imagenet1k":
        raise BundleError(f"unknown label set {label_id!r}")
    with resources.as_file(resources.files("imgcls_onnx.data").joinpath("imagenet1k_label_list.txt")) as p:
        return read_label_file(p)


def resolve_model(name_or_dir: "str | os.PathLike[str]") -> Path:
    """Where a ``--model`` value points, in this order:

    * ``http(s)://.../FILE.tar.gz[#sha256=HEX]``: a bundle archive, downloaded once, verified, installed in the cache;
    * ``FILE.tar.gz`` / ``.tgz`` / ``.tar`` [``#sha256=HEX``]: a local bundle archive, verified and installed;
    * a folder: used as is;
    * a name: ``$IMGCLS_ONNX_HOME/models/NAME``, which must exist (``ModelNotConvertedError`` for a zoo model that
      has no bundle yet: the CLI and ``create_model`` then fetch and convert it when the converter is installed).
    """
    from .archive import install_archive, is_archive_name
    from .download import is_url, split_sha256

    text = os.fspath(name_or_dir)
    base, sha = split_sha256(text) if "#" in text else (text, None)
    if is_url(base):
        return _model_from_url(base, sha)
    p = Path(base).expanduser()
    if p.is_file() and is_archive_name(p.name):
        return install_archive(p, expected_sha256=sha).bundle_dir
    if sha is not None:
        raise UnknownModelError(f"{text!r}: '#sha256=' applies to a bundle archive (.tar.gz, .tgz, .tar) only")
    if p.is_dir():
        return p
    if is_archive_name(base):
        raise UnknownModelError(f"bundle archive {base!r} does not exist")
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
    raise ModelNotConvertedError(
        spec.name,
        f"zoo model {spec.name!r} has no bundle on this machine (looked in {str(local)!r}). Either:\n"
        f"  pip install 'imgcls-onnx[convert]'   then `imgcls-onnx convert {spec.name}` (or just use it: PaddleX's "
        f"official weights are fetched and converted once), or\n"
        f"  --model {spec.name}.tar.gz           a bundle archive made with `imgcls-onnx pack {spec.name}` on a machine "
        f"that has the converter (a local file or an http(s) URL, optionally with #sha256=...)",
    )


def _model_from_url(url: str, sha: str | None) -> Path:
    """Download a bundle archive once. With #sha256 the cache is keyed by it (no request when present); without, by
    the URL (a second use makes no request either; delete the cache entry to fetch it again)."""
    import hashlib

    from .archive import archives_home, cached_archive, install_archive
    from .download import download

    if sha is not None:
        hit = cached_archive(sha)
        if hit is not None:
            return hit
    index = archives_home() / "by-url" / (hashlib.sha256(url.encode("utf-8")).hexdigest() + ".json")
    if sha is None and index.is_file():
        try:
            hit = cached_archive(json.loads(index.read_text(encoding="utf-8"))["sha256"])
        except (OSError, ValueError, KeyError, TypeError):
            hit = None
        if hit is not None:
            return hit
    import tempfile

    with tempfile.TemporaryDirectory(prefix="imgcls-download-") as tmp_root:
        got = download(url, tmp_root, expected_sha256=sha,
                       manual_hint="Download it by hand and pass the file: --model FILE.tar.gz")
        installed = install_archive(got.path, expected_sha256=sha, origin=url, sha256=got.sha256)
    atomic_write_text(index, json.dumps({"url": url, "sha256": installed.sha256}) + "\n")
    return installed.bundle_dir
