"""Read a PaddleX ClsDataset folder: label.txt and the split lists, collecting every problem in the text."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import DatasetError

SPLITS = ("train", "val", "test")



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
    if not label_file.is_file():
        raise DatasetError(f"{str(label_file)!r} is missing: a ClsDataset needs label.txt with 'index name' lines")
    problems: list[Problem] = []
    labels = _read_labels(label_file, problems)
    samples: dict[str, list[Sample]] = {}
    for split in SPLITS:
        list_file = root / f"{split}.txt"
        if list_file.is_file():
            samples[split] = _read_list(split, list_file, labels, problems)
        elif split != "test":
            problems.append(Problem("missing_list", f"{split}.txt", None, f"{split}.txt is missing"))
    return Dataset(root, labels, samples, problems)


def _read_labels(label_file: Path, problems: list[Problem]) -> dict[int, str]:
    """label.txt's 'index name' lines; indices must run from 0 without gaps."""
    labels: dict[int, str] = {}
    for n, raw in enumerate(label_file.read_text(encoding="utf-8-sig", errors="replace").splitlines(), 1):
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
    return labels


def _read_list(split: str, list_file: Path, labels: dict[int, str], problems: list[Problem]) -> list[Sample]:
    """One split's 'relative/path.jpg index' lines; each bad line is a problem with its line number."""
    seen: dict[str, int] = {}
    rows = []
    for n, raw in enumerate(list_file.read_text(encoding="utf-8-sig", errors="replace").splitlines(), 1):
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
            problems.append(Problem("label_not_integer", list_file.name, n, f"label {lab!r} is not an integer", rel))
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
    return rows
