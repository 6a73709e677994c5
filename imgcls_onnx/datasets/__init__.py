"""PaddleX image-classification datasets (ClsDataset), without Paddle: check, split, evaluate.

Format: a folder with ``label.txt`` (``index name`` lines, indices from 0), ``train.txt`` and ``val.txt``
(``relative/path.jpg index`` lines), optional ``test.txt``; images anywhere below the folder.

Unlike PaddleX, which stops at the first problem and never decodes the images, ``check_dataset`` reports every
problem with its file and line number, and decodes every image through the runtime's loader.

One module per job: ``read`` (the format), ``check``, ``split``, ``evaluation`` (not ``evaluate``: that name is the function), ``report`` (the files and plots
written for people; matplotlib optional), ``errors``. Every public name is importable from here.
"""
from __future__ import annotations

from .check import CheckResult, check_dataset, iter_problem_lines
from .errors import DatasetError
from .evaluation import DENSE_JSON_CLASSES, EvalResult, EvaluationResult, evaluate
from .read import SPLITS, Dataset, Problem, Sample, read_dataset
from .report import MAX_PLOT_CLASSES, matplotlib_available, write_evaluation
from .split import split_dataset

__all__ = [
    "DENSE_JSON_CLASSES",
    "MAX_PLOT_CLASSES",
    "SPLITS",
    "CheckResult",
    "Dataset",
    "DatasetError",
    "EvalResult",
    "EvaluationResult",
    "Problem",
    "Sample",
    "check_dataset",
    "evaluate",
    "iter_problem_lines",
    "matplotlib_available",
    "read_dataset",
    "split_dataset",
    "write_evaluation",
]
