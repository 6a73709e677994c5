"""The model bundle: a PaddleX model folder with ONNX weights.

    MODEL_DIR/
      inference.onnx      the network (float32 NCHW input, dynamic batch; ends in Softmax for our bundles)
      inference.yml       PaddleX's config: Global.model_name, PreProcess.transform_ops, PostProcess.Topk
      manifest.json       optional, ours: sha256 of the ONNX, producer versions, measured parity

The runtime reads any folder of this form, including PaddlePaddle's own ``*_onnx`` bundles.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping

import yaml

from .errors import BundleError, ChecksumError
from .fsutil import sha256_file
from .transforms import PreprocessSpec

ONNX_FILE = "inference.onnx"
YML_FILE = "inference.yml"
MANIFEST_FILE = "manifest.json"
BUNDLE_FORMAT = "imgcls-onnx-bundle/1"


@dataclass(frozen=True)
class BundleConfig:
    """What inference.yml says."""

    model_name: str
    preprocess: PreprocessSpec
    topk: int = 5
    label_list: tuple[str, ...] | None = None

    @classmethod
    def from_yml_dict(cls, data: Any, source: str = YML_FILE) -> "BundleConfig":
        if not isinstance(data, dict):
            raise BundleError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
        glob = data.get("Global") or {}
        model_name = str(glob.get("model_name") or "")
        pre = data.get("PreProcess")
        if not isinstance(pre, dict) or "transform_ops" not in pre:
            raise BundleError(f"{source}: missing PreProcess.transform_ops (the preprocessing op list)")
        try:
            spec = PreprocessSpec.from_yml_ops(pre["transform_ops"])
        except BundleError as e:
            raise BundleError(f"{source}: {e}") from e
        post = data.get("PostProcess") or {}
        topk_cfg = post.get("Topk") or {}
        if not isinstance(topk_cfg, dict):
            raise BundleError(f"{source}: PostProcess.Topk must be a mapping")
        try:
            topk = int(topk_cfg.get("topk", 5) or 5)
        except (TypeError, ValueError) as e:
            raise BundleError(f"{source}: PostProcess.Topk.topk must be an integer") from e
        labels = topk_cfg.get("label_list")
        if labels is not None:
            if not isinstance(labels, (list, tuple)):
                raise BundleError(f"{source}: PostProcess.Topk.label_list must be a list")
            labels = tuple(str(x) for x in labels)
        return cls(model_name=model_name, preprocess=spec, topk=topk, label_list=labels)

    def to_yml_dict(self) -> dict[str, Any]:
        topk: dict[str, Any] = {"topk": int(self.topk)}
        if self.label_list is not None:
            topk["label_list"] = list(self.label_list)
        return {
            "Global": {"model_name": self.model_name},
            "PreProcess": {"transform_ops": self.preprocess.to_yml_ops()},
            "PostProcess": {"Topk": topk},
        }


@dataclass(frozen=True)
class BundleManifest:
    """What manifest.json says, typed; the format version is checked when a bundle is loaded."""

    format: str | None = None
    model_name: str | None = None
    weights: str | None = None  # official | user | random
    output: str | None = None  # probabilities | logits
    onnx_sha256: str | None = None
    source: Mapping[str, Any] = field(default_factory=dict)
    variant: Mapping[str, Any] = field(default_factory=dict)  # precision, quantisation, vs_float32, measured_on

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = MANIFEST_FILE) -> "BundleManifest":
        fmt = d.get("format")
        if fmt is not None:
            kind, _, version = str(fmt).partition("/")
            if kind != BUNDLE_FORMAT.split("/")[0] or not version.isdigit():
                raise BundleError(f"{where}: unknown format {fmt!r} (expected {BUNDLE_FORMAT!r})")
            if int(version) > int(BUNDLE_FORMAT.split("/")[1]):
                raise BundleError(f"{where}: format {fmt!r} was written by a newer imgcls-onnx; this one reads "
                                    f"{BUNDLE_FORMAT!r}. Upgrade imgcls-onnx.")
        output = d.get("output")
        if output is not None and output not in ("probabilities", "logits"):
            raise BundleError(f"{where}: 'output' must be 'probabilities' or 'logits', not {output!r}")
        weights = d.get("weights")
        if weights is not None and weights not in ("official", "user", "random"):
            raise BundleError(f"{where}: 'weights' must be 'official', 'user' or 'random', not {weights!r}")
        source = d.get("source") or {}
        if not isinstance(source, Mapping):
            raise BundleError(f"{where}: 'source' must be an object")
        onnx_info = d.get("onnx") or {}
        if not isinstance(onnx_info, Mapping):
            raise BundleError(f"{where}: 'onnx' must be an object")
        if weights is None:  # bundles written before 'weights' existed
            weights = "random" if "random_init_seed" in source else ("user" if source else None)
        variant = d.get("variant") or {}
        if not isinstance(variant, Mapping):
            raise BundleError(f"{where}: 'variant' must be an object")
        return cls(fmt, d.get("model_name"), weights, output, onnx_info.get("sha256"), source, variant)


@dataclass(frozen=True)
class Bundle:
    directory: Path
    config: BundleConfig
    manifest: Mapping[str, Any] | None = field(default=None, compare=False)

    @property
    def onnx_path(self) -> Path:
        return self.directory / ONNX_FILE

    @property
    def name(self) -> str:
        return self.config.model_name or self.directory.name

    @cached_property
    def info(self) -> BundleManifest:
        return BundleManifest.from_dict(self.manifest or {})

    @property
    def weights(self) -> str | None:
        """Where the weights came from: 'official' (PaddleX's), 'user' (a file or folder the user gave) or 'random'
        (``convert --random-init``: predictions mean nothing); None when manifest.json does not say."""
        return self.info.weights

    @property
    def output_is_probabilities(self) -> bool | None:
        """What manifest.json records about the output (None when it does not say)."""
        output = self.info.output
        return None if output is None else output == "probabilities"


# libyaml's scanner and parser where PyYAML was built with them (its wheels are, on x86-64 and aarch64), under the same
# Python constructor and resolver as yaml.SafeLoader, so the same values: a 1000-label inference.yml parses in 3 ms
# instead of 30, paid by every command at start-up. The pure-Python loader where libyaml is missing.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """yaml.safe_load, with libyaml's parser when PyYAML has it (the same values; tests/runtime/test_bundle.py)."""
    return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader: SafeLoader or its C twin


def read_yml(path: Path) -> BundleConfig:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as e:
        raise BundleError(
            f"{str(path)!r} not found: a model folder needs inference.yml (PaddleX's preprocessing and labels) "
            f"beside {ONNX_FILE}"
        ) from e
    except (OSError, UnicodeDecodeError) as e:
        raise BundleError(f"cannot read {str(path)!r}: {e}") from e
    try:
        data = load_yaml(text)
    except yaml.YAMLError as e:
        raise BundleError(f"{str(path)!r} is not valid YAML: {e}") from e
    return BundleConfig.from_yml_dict(data, source=str(path))


def load_bundle(directory: "str | os.PathLike[str]", verify_checksum: bool = True) -> Bundle:
    directory = Path(directory)
    if not directory.is_dir():
        raise BundleError(f"model folder {str(directory)!r} does not exist or is not a folder")
    onnx_path = directory / ONNX_FILE
    if not onnx_path.is_file():
        others = sorted(p.name for p in directory.glob("*.onnx"))
        hint = f" (found {', '.join(others)}: rename it to {ONNX_FILE})" if others else ""
        paddle = [p for p in ("inference.json", "inference.pdmodel") if (directory / p).exists()]
        if paddle:
            hint = f" (this is a Paddle model folder: convert it with `imgcls-onnx convert {directory}`)"
        raise BundleError(f"{str(directory)!r} has no {ONNX_FILE}{hint}")
    config = read_yml(directory / YML_FILE)
    manifest = None
    manifest_path = directory / MANIFEST_FILE
    if manifest_path.exists():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as e:
            raise BundleError(f"{str(manifest_path)!r} is not valid JSON: {e}") from e
        if not isinstance(manifest, dict):
            raise BundleError(f"{str(manifest_path)!r}: expected a JSON object")
        expected = BundleManifest.from_dict(manifest, str(manifest_path)).onnx_sha256
        if verify_checksum and expected:
            actual = sha256_file(onnx_path)
            if actual != expected:
                raise ChecksumError(
                    f"{str(onnx_path)!r} does not match manifest.json: sha256 is {actual}, expected {expected}. "
                    "The file is damaged or was replaced; re-create the bundle with `imgcls-onnx convert` "
                    "(or delete manifest.json if you changed the model on purpose)."
                )
    return Bundle(directory=directory, config=config, manifest=manifest)


def write_bundle(
    directory: "str | os.PathLike[str]",
    onnx_bytes_or_path: "bytes | os.PathLike[str] | str",
    config: BundleConfig,
    manifest: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a bundle atomically: everything goes into a temporary sibling folder that is renamed into place.

    An interrupted write leaves no half-written bundle at ``directory``.
    """
    directory = Path(directory)
    if directory.exists() and not overwrite:
        raise BundleError(f"{str(directory)!r} already exists; pass overwrite=True (--overwrite) to replace it")
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".tmp", dir=directory.parent))
    try:
        onnx_target = tmp / ONNX_FILE
        if isinstance(onnx_bytes_or_path, (bytes, bytearray)):
            onnx_target.write_bytes(onnx_bytes_or_path)
        else:
            shutil.copyfile(os.fspath(onnx_bytes_or_path), onnx_target)
        (tmp / YML_FILE).write_text(
            yaml.safe_dump(config.to_yml_dict(), sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
        full_manifest = {"format": BUNDLE_FORMAT, "model_name": config.model_name}
        full_manifest.update(dict(manifest or {}))
        onnx_info = dict(full_manifest.get("onnx") or {})
        onnx_info.update({"file": ONNX_FILE, "sha256": sha256_file(onnx_target), "bytes": onnx_target.stat().st_size})
        full_manifest["onnx"] = onnx_info
        (tmp / MANIFEST_FILE).write_text(json.dumps(full_manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        if directory.exists():
            old = directory.with_name(f".{directory.name}.old")
            if old.exists():
                shutil.rmtree(old)
            directory.rename(old)
            tmp.rename(directory)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def read_label_file(path: "str | os.PathLike[str]") -> tuple[str, ...]:
    """Read a label file: PaddleClas's "index name" lines, or one name per line (UTF-8, with or without a BOM)."""
    lines = [ln.rstrip("\r\n") for ln in Path(path).read_text(encoding="utf-8-sig").splitlines()]
    lines = [ln for ln in lines if ln.strip()]
    indexed = []
    for i, ln in enumerate(lines):
        head, _, rest = ln.partition(" ")
        if head.isdigit() and int(head) == i and rest:
            indexed.append(rest)
        else:
            return tuple(ln.strip() for ln in lines)
    return tuple(indexed)
