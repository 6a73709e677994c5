"""PaddleX image-classification datasets (ClsDataset), without Paddle: check, split, evaluate.

Format: a folder with ``label.txt`` (``index name`` lines, indices from 0), ``train.txt`` and ``val.txt``
(``relative/path.jpg index`` lines), optional ``test.txt``; images anywhere below the folder.

Unlike PaddleX, which stops at the first problem and never decodes the images, ``check_dataset`` reports every
problem with its file and line number, and decodes every image through the runtime's loader.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
from PIL import Image

from .runtime.errors import ImgclsError
from .runtime.images import load_image
from .runtime.results import atomic_write_bytes

SPLITS = ("train", "val", "test")


class DatasetError(ImgclsError):
    """The dataset folder cannot be used at all (no label.txt, no list files)."""


@dataclass(frozen=True)
class Problem:
    kind: str  # missing_file | undecodable | label_out_of_range | label_not_integer | malformed_line |
    #            duplicate_entry | train_val_overlap | empty_class | bad_label_file | missing_list
    file: str  # the list or label file the problem is in (relative to the dataset)
    line: int | None
    message: str
    image: str | None = None


@dataclass(frozen=True)
class Sample:
    split: str
    line: int
    rel_path: str
    label: int


@dataclass
class Dataset:
    root: Path
    labels: dict[int, str]
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def image_path(self, sample: Sample) -> Path:
        return self.root / sample.rel_path


def read_dataset(root: "str | os.PathLike[str]") -> Dataset:
    """Parse label.txt and the split lists, collecting (not raising) every problem found in the text."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder {str(root)!r} does not exist")
    label_file = root / "label.txt"
    problems: list[Problem] = []
    labels: dict[int, str] = {}
    if not label_file.is_file():
        raise DatasetError(f"{str(label_file)!r} is missing: a ClsDataset needs label.txt with 'index name' lines")
    for n, raw in enumerate(label_file.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        head, _, name = line.partition(" ")
        if not head.isdigit() or not name.strip():
            problems.append(Problem("bad_label_file", "label.txt", n, f"expected 'index name', got {raw!r}"))
            continue
        idx = int(head)
        if idx in labels:
            problems.append(Problem("bad_label_file", "label.txt", n, f"index {idx} defined twice"))
        labels[idx] = name.strip()
    if labels and sorted(labels) != list(range(len(labels))):
        problems.append(Problem("bad_label_file", "label.txt", None,
                                f"indices must run from 0 to {len(labels) - 1} without gaps; got {sorted(labels)[:10]}..."))
    samples: dict[str, list[Sample]] = {}
    for split in SPLITS:
        list_file = root / f"{split}.txt"
        if not list_file.is_file():
            if split != "test":
                problems.append(Problem("missing_list", f"{split}.txt", None, f"{split}.txt is missing"))
            continue
        seen: dict[str, int] = {}
        rows = []
        for n, raw in enumerate(list_file.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if not raw.strip():
                continue
            parts = raw.strip().rsplit(" ", 1)
            if len(parts) != 2 or not parts[0].strip():
                problems.append(Problem("malformed_line", list_file.name, n,
                                        f"expected 'relative/path.jpg index', got {raw!r}"))
                continue
            rel, lab = parts[0].strip(), parts[1].strip()
            try:
                label = int(lab)
            except ValueError:
                problems.append(Problem("label_not_integer", list_file.name, n, f"label {lab!r} is not an integer",
                                        rel))
                continue
            if label not in labels:
                problems.append(Problem("label_out_of_range", list_file.name, n,
                                        f"label {label} is not in label.txt (0..{len(labels) - 1})", rel))
                continue
            if rel in seen:
                problems.append(Problem("duplicate_entry", list_file.name, n,
                                        f"{rel!r} is listed again (first on line {seen[rel]})", rel))
                continue
            seen[rel] = n
            rows.append(Sample(split, n, rel, label))
        samples[split] = rows
    return Dataset(root, labels, samples, problems)


def _hash_file(path: Path) -> str:
    from .runtime.bundle import sha256_file

    return sha256_file(path)


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
            hashes.setdefault(split, {})[s.rel_path] = _hash_file(path)
            ok_rows.append(s)
        good[split] = ok_rows
    train_hashes = {h: rel for rel, h in hashes.get("train", {}).items()}
    for s in good.get("val", []):
        h = hashes["val"][s.rel_path]
        if h in train_hashes:
            problems.append(Problem("train_val_overlap", "val.txt", s.line,
                                    f"{s.rel_path!r} has the same content as train image {train_hashes[h]!r}",
                                    s.rel_path))
    counts = {split: Counter(s.label for s in rows) for split, rows in good.items()}
    # classes without samples are normal (a small labelled subset of an ImageNet model's 1000 classes): one warning
    empty = [(idx, name) for idx, name in sorted(ds.labels.items())
             if not counts.get("train", Counter())[idx] and not counts.get("val", Counter())[idx]]
    warnings = []
    if empty:
        shown = ", ".join(f"{i} ({n!r})" for i, n in empty[:5]) + (", ..." if len(empty) > 5 else "")
        warnings.append(f"{len(empty)} of {len(ds.labels)} classes in label.txt have no samples: {shown}")
    check_pass = not problems
    result: dict[str, Any] = {
        "check_pass": check_pass,
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
    if output is not None:
        out = Path(output)
        sample_dir = out / "check_dataset" / "demo_img"
        sample_dir.mkdir(parents=True, exist_ok=True)
        for split in ("train", "val"):
            paths = []
            for s in good.get(split, [])[:samples_per_split]:
                target = sample_dir / f"{split}_{Path(s.rel_path).stem}.jpg"
                _save_labelled_sample(ds.image_path(s), f"{s.label} {ds.labels.get(s.label, '')}", target)
                paths.append(str(target.relative_to(out)))
            result["attributes"][f"{split}_sample_paths"] = paths
        hist = out / "check_dataset" / "histogram.png"
        if _plot_histogram(ds, counts, hist):
            result["analysis"]["histogram"] = str(hist.relative_to(out))
        atomic_write_bytes(out / "check_dataset_result.json",
                           (json.dumps(result, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    return CheckResult(check_pass, ds, problems, result, warnings)


def _save_labelled_sample(src: Path, text: str, target: Path) -> None:
    from .runtime.visualize import draw_top1

    image = load_image(src)
    h, w = image.shape[:2]
    if max(h, w) > 640:  # a picture for people (not a model input): Pillow's box filter averages like INTER_AREA
        s = 640 / max(h, w)
        image = np.asarray(Image.fromarray(image).resize((max(1, int(w * s)), max(1, int(h * s))), Image.BOX))
    draw_top1(image, text).save(target, format="JPEG", quality=90)


def matplotlib_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def _plot_histogram(ds: Dataset, counts: dict[str, Counter], target: Path) -> bool:
    if not matplotlib_available():
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    idx = sorted(ds.labels)
    x = np.arange(len(idx))
    fig, ax = plt.subplots(figsize=(min(16, max(6, len(idx) * 0.25)), 4))  # bounded for any class count
    ax.bar(x - 0.2, [counts.get("train", Counter())[i] for i in idx], 0.4, label="train")
    ax.bar(x + 0.2, [counts.get("val", Counter())[i] for i in idx], 0.4, label="val")
    ax.set_xlabel("class")
    ax.set_ylabel("images")
    if len(idx) <= 40:
        ax.set_xticks(x, [ds.labels[i] for i in idx], rotation=60, ha="right", fontsize=7)
    ax.legend()
    fig.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=100)
    plt.close(fig)
    return True


def split_dataset(root: "str | os.PathLike[str]", val_percent: float, seed: int = 0) -> dict[str, int]:
    """Re-split train+val into new lists, stratified by class, deterministic for a seed. The old lists are kept
    as ``train.txt.bak`` / ``val.txt.bak`` (numbered when those exist)."""
    if not 0 < val_percent < 100:
        raise DatasetError(f"--val-percent must be between 0 and 100, got {val_percent}")
    root = Path(root)
    ds = read_dataset(root)
    by_class: dict[int, list[Sample]] = defaultdict(list)
    for split in ("train", "val"):
        for s in ds.samples.get(split, []):
            by_class[s.label].append(s)
    rng = random.Random(seed)
    train, val = [], []
    for label in sorted(by_class):
        rows = sorted(by_class[label], key=lambda s: s.rel_path)
        rng.shuffle(rows)
        n_val = int(round(len(rows) * val_percent / 100))
        if len(rows) >= 2:
            n_val = min(max(n_val, 1), len(rows) - 1)
        val.extend(rows[:n_val])
        train.extend(rows[n_val:])
    stamp = ""
    for name in ("train.txt", "val.txt"):
        src = root / name
        if src.exists():
            backup = root / f"{name}.bak"
            k = 1
            while backup.exists():
                backup = root / f"{name}.bak{k}"
                k += 1
            shutil.copy2(src, backup)
            stamp = stamp or str(backup.name)
    for name, rows in (("train.txt", train), ("val.txt", val)):
        text = "".join(f"{s.rel_path} {s.label}\n" for s in sorted(rows, key=lambda s: (s.label, s.rel_path)))
        atomic_write_bytes(root / name, text.encode("utf-8"))
    return {"train": len(train), "val": len(val)}


DENSE_JSON_CLASSES = 100  # evaluate_result.json keeps the dense confusion matrix up to this many classes


@dataclass
class EvalResult:
    split: str
    num_images: int
    num_unreadable: int
    top1: float
    top5: float
    per_class_accuracy: dict[str, float | None]
    confusion_matrix: list[list[int]]
    misclassified: list[dict[str, Any]]
    unreadable: list[dict[str, Any]]
    seconds: float

    def to_json(self, labels: dict[int, str]) -> dict[str, Any]:
        return {
            "metric": {f"{self.split}.top1": self.top1, f"{self.split}.top5": self.top5},
            "split": self.split,
            "num_images": self.num_images,
            "num_unreadable": self.num_unreadable,
            "per_class_accuracy": self.per_class_accuracy,
            "labels": {str(k): v for k, v in sorted(labels.items())},
            **({"confusion_matrix": self.confusion_matrix} if len(self.confusion_matrix) <= DENSE_JSON_CLASSES
               else {}),
            "confusion_sparse": [[i, j, int(c)] for i, row in enumerate(self.confusion_matrix)
                                 for j, c in enumerate(row) if c],
            "misclassified": self.misclassified,
            "unreadable": self.unreadable,
            "seconds": round(self.seconds, 3),
        }


def evaluate(classifier, root: "str | os.PathLike[str]", split: str = "val", batch_size: int = 8,
             progress: Callable[[int, int], None] | None = None,
             force: bool = False) -> tuple[EvalResult, Dataset, list]:
    """Top-1/top-5, per-class accuracy, confusion matrix, misclassified and unreadable files.

    Refuses (DatasetError) a model whose class count differs from the label list unless ``force``.
    Returns the result, the dataset, and the per-image predictions (for --compare-paddle)."""
    ds = read_dataset(root)
    model_classes = getattr(classifier, "num_classes", None)
    if model_classes is not None and model_classes != ds.num_classes and not force:
        raise DatasetError(
            f"the model has {model_classes} classes but {root}/label.txt lists {ds.num_classes}: its class ids would "
            f"not mean the dataset's labels (an ImageNet model on a 4-class dataset scores 0). Evaluate a model "
            f"trained on this label list, or pass --force if the ids do match")
    rows = ds.samples.get(split)
    if rows is None:
        raise DatasetError(f"{split}.txt is missing in {str(root)!r}")
    n = ds.num_classes
    confusion = np.zeros((n, n), dtype=np.int64)
    top1 = top5 = evaluated = 0
    misclassified, unreadable, predictions = [], [], []
    start = time.perf_counter()
    paths = [str(ds.image_path(s)) for s in rows]
    for i, (s, res) in enumerate(zip(rows, classifier.predict(paths, batch_size=batch_size, topk=min(5, n))), 1):
        if progress:
            progress(i, len(rows))
        predictions.append(res)
        if not res.ok:
            unreadable.append({"image": s.rel_path, "line": s.line, "error": str(res.error)})
            continue
        evaluated += 1
        pred = res.class_ids[0]
        if 0 <= pred < n:
            confusion[s.label, pred] += 1
        top1 += pred == s.label
        top5 += s.label in res.class_ids[:5]
        if pred != s.label:
            misclassified.append({"image": s.rel_path, "label": s.label, "predicted": pred,
                                  "score": res.scores[0], "label_name": ds.labels.get(s.label),
                                  "predicted_name": res.label_names[0]})
    per_class = {}
    for idx, name in sorted(ds.labels.items()):
        total = int(confusion[idx].sum())
        per_class[f"{idx} {name}"] = round(float(confusion[idx, idx]) / total, 6) if total else None
    result = EvalResult(split, len(rows), len(unreadable), round(top1 / evaluated, 6) if evaluated else 0.0,
                        round(top5 / evaluated, 6) if evaluated else 0.0, per_class, confusion.tolist(),
                        misclassified, unreadable, time.perf_counter() - start)
    return result, ds, predictions


def write_evaluation(result: EvalResult, ds: Dataset, output: "str | os.PathLike[str]",
                     extra: dict[str, Any] | None = None) -> list[Path]:
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    data = result.to_json(ds.labels)
    if extra:
        data.update(extra)
    written = [out / "evaluate_result.json"]
    atomic_write_bytes(written[0], (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    # the dense matrix is n x n (8 MB of JSON text for 1000 classes): its own file; the result JSON keeps it only for
    # small label sets and always has the sparse form (non-zero cells)
    cm = out / "confusion_matrix.json"
    atomic_write_bytes(cm, json.dumps({"labels": data["labels"], "matrix": result.confusion_matrix}).encode("utf-8"))
    written.append(cm)
    if matplotlib_available():
        png = out / "confusion_matrix.png"
        _plot_confusion(np.array(result.confusion_matrix), ds.labels, png)
        written.append(png)
    return written


MAX_PLOT_CLASSES = 30


def _plot_confusion(m: np.ndarray, labels: dict[int, str], target: Path) -> None:
    """At most MAX_PLOT_CLASSES rows and columns (the classes with the most true or predicted images) in a figure of
    at most 10 x 10 inches: memory and time stay bounded for any class count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(m)
    keep = np.arange(n)
    if n > MAX_PLOT_CLASSES:
        weight = m.sum(axis=0) + m.sum(axis=1)
        keep = np.sort(np.argsort(-weight, kind="stable")[:MAX_PLOT_CLASSES])
    sub = m[np.ix_(keep, keep)]
    side = min(10.0, max(4.0, len(keep) * 0.35))
    fig, ax = plt.subplots(figsize=(side, side))
    ax.imshow(sub, cmap="Blues")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    names = [str(labels.get(int(i), int(i)))[:18] for i in keep]
    ax.set_xticks(range(len(keep)), names, rotation=90, fontsize=6)
    ax.set_yticks(range(len(keep)), names, fontsize=6)
    if n > MAX_PLOT_CLASSES:
        ax.set_title(f"{len(keep)} of {n} classes (most images); full matrix in confusion_matrix.json", fontsize=8)
    for i in range(len(keep)):
        for j in range(len(keep)):
            if sub[i, j]:
                ax.text(j, i, str(sub[i, j]), ha="center", va="center", fontsize=6)
    fig.tight_layout()
    fig.savefig(target, dpi=100)
    plt.close(fig)


def iter_problem_lines(problems: Iterable[Problem]) -> Iterable[str]:
    for p in problems:
        where = f"{p.file}:{p.line}" if p.line else p.file
        yield f"{where}: {p.kind}: {p.message}"
