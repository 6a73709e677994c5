"""check_dataset: every problem of a ClsDataset, with its file and line, every image decoded; PaddleX's
check_dataset_result.json."""
from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from ..runtime.errors import ImgclsError
from ..runtime.fsutil import atomic_write_text, sha256_file
from ..runtime.images import load_image
from .read import Dataset, Problem, Sample, read_dataset
from .report import plot_histogram, save_labelled_sample


@dataclass
class CheckResult:
    check_pass: bool
    dataset: Dataset
    problems: list[Problem]
    result: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def check_dataset(root: "str | os.PathLike[str]", output: "str | os.PathLike[str] | None" = None,
                  progress: Callable[[int, int], None] | None = None, samples_per_split: int = 10) -> CheckResult:
    """Validate everything; write ``output/check_dataset_result.json`` (PaddleX's shape plus ``problems``), the class
    histogram (PNG when matplotlib is installed) and up to ``samples_per_split`` labelled samples per split."""
    ds = read_dataset(root)
    problems = list(ds.problems)
    good, hashes = _decode_all(ds, problems, progress)
    problems += _overlap_problems(good, hashes)
    counts = {split: Counter(s.label for s in rows) for split, rows in good.items()}
    # classes without samples are normal (a small labelled subset of an ImageNet model's 1000 classes): one warning
    empty = [(idx, name) for idx, name in sorted(ds.labels.items())
             if not counts.get("train", Counter())[idx] and not counts.get("val", Counter())[idx]]
    warnings = []
    if empty:
        shown = ", ".join(f"{i} ({n!r})" for i, n in empty[:5]) + (", ..." if len(empty) > 5 else "")
        warnings.append(f"{len(empty)} of {len(ds.labels)} classes in label.txt have no samples: {shown}")
    result = _result_json(root, ds, good, problems, warnings, empty, counts)
    if output is not None:
        _write_outputs(Path(output), ds, good, counts, result, samples_per_split)
    return CheckResult(not problems, ds, problems, result, warnings)


def _decode_all(ds: Dataset, problems: list[Problem], progress) -> tuple[dict[str, list[Sample]], dict]:
    """Every listed image opened and decoded: the good rows per split and their content hashes; a missing or
    undecodable file is a problem (with its list file and line)."""
    hashes: dict[str, dict[str, str]] = {}
    total = sum(len(v) for v in ds.samples.values())
    done = 0
    good: dict[str, list[Sample]] = {}
    for split, rows in ds.samples.items():
        ok_rows = []
        for s in rows:
            done += 1
            if progress:
                progress(done, total)
            path = ds.image_path(s)
            if not path.is_file():
                problems.append(Problem("missing_file", f"{split}.txt", s.line, f"{s.rel_path!r} does not exist",
                                        s.rel_path))
                continue
            try:
                load_image(path)
            except ImgclsError as e:
                problems.append(Problem("undecodable", f"{split}.txt", s.line, str(e), s.rel_path))
                continue
            hashes.setdefault(split, {})[s.rel_path] = sha256_file(path)
            ok_rows.append(s)
        good[split] = ok_rows
    return good, hashes


def _overlap_problems(good: dict[str, list[Sample]], hashes: dict) -> list[Problem]:
    """A val image with the same bytes as a train image."""
    train_hashes = {h: rel for rel, h in hashes.get("train", {}).items()}
    return [Problem("train_val_overlap", "val.txt", s.line,
                    f"{s.rel_path!r} has the same content as train image {train_hashes[hashes['val'][s.rel_path]]!r}",
                    s.rel_path)
            for s in good.get("val", []) if hashes["val"][s.rel_path] in train_hashes]


def _result_json(root, ds: Dataset, good, problems, warnings, empty, counts) -> dict[str, Any]:
    """PaddleX's check_dataset_result.json, plus problems, warnings, empty classes and class counts."""
    return {
        "check_pass": not problems,
        "attributes": {
            "label_file": str(Path(root) / "label.txt"),
            "num_classes": ds.num_classes,
            "train_samples": len(good.get("train", [])),
            "train_sample_paths": [],
            "val_samples": len(good.get("val", [])),
            "val_sample_paths": [],
        },
        "analysis": {"histogram": None},
        "dataset_path": str(root),
        "show_type": "image",
        "dataset_type": "ClsDataset",
        "problems": [asdict(p) for p in problems],
        "warnings": warnings,
        "empty_classes": [i for i, _ in empty],
        "class_counts": {split: {str(k): int(v) for k, v in sorted(c.items())} for split, c in counts.items()},
    }


def _write_outputs(out: Path, ds: Dataset, good, counts, result: dict, samples_per_split: int) -> None:
    """Labelled samples, the histogram and the JSON under OUT (the JSON last, with the paths of the others)."""
    sample_dir = out / "check_dataset" / "demo_img"
    sample_dir.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        paths = []
        for s in good.get(split, [])[:samples_per_split]:
            target = sample_dir / f"{split}_{Path(s.rel_path).stem}.jpg"
            save_labelled_sample(ds.image_path(s), f"{s.label} {ds.labels.get(s.label, '')}", target)
            paths.append(str(target.relative_to(out)))
        result["attributes"][f"{split}_sample_paths"] = paths
    hist = out / "check_dataset" / "histogram.png"
    if plot_histogram(ds, counts, hist):
        result["analysis"]["histogram"] = str(hist.relative_to(out))
    atomic_write_text(out / "check_dataset_result.json", json.dumps(result, indent=2, ensure_ascii=False) + "\n")


def iter_problem_lines(problems: Iterable[Problem]) -> Iterable[str]:
    for p in problems:
        where = f"{p.file}:{p.line}" if p.line else p.file
        yield f"{where}: {p.kind}: {p.message}"
