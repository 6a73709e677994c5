"""ImageNet-size label sets (1000 classes, the common case) on a few labelled images: bounded memory, a valid check.

Defects: evaluate drew a 400 x 400 inch confusion-matrix figure and was killed at 24 GB; check-dataset failed a valid
subset with 996 'empty_class' problems."""
from __future__ import annotations

import json
import subprocess
import sys

from helpers import ROOT, structured_image, tiny_bundle, write_jpeg
from helpers.material import write_dataset

CLASSES = 1000


def subset(root):
    rows = [(f"im/{k}.jpg", label) for k, label in enumerate((42, 3, 500, 999))]
    for k, (rel, _) in enumerate(rows):
        write_jpeg(root / rel, structured_image(60, 70, seed=k))
    return write_dataset(root, [f"class_{i}" for i in range(CLASSES)], rows[:1], rows[1:])


def run(*args):
    """The CLI in a child process; returns (proc, the child's peak RSS in MB)."""
    code = ("import resource, subprocess, sys\n"
            "p = subprocess.run([sys.executable, '-m', 'imgcls_onnx.cli', *sys.argv[1:]], capture_output=True, text=True)\n"
            "sys.stdout.write(p.stdout); sys.stderr.write(p.stderr)\n"
            "print('PEAK_RSS_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
            "sys.exit(p.returncode)\n")
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=600, cwd=ROOT)
    peak = int(proc.stderr.rsplit("PEAK_RSS_KB", 1)[1].split()[0]) / 1024
    return proc, peak


def test_evaluate_1000_classes_stays_small(tmp_path):
    model = tiny_bundle(tmp_path / "m", num_classes=CLASSES, size=32)
    root = subset(tmp_path / "ds")
    proc, peak_mb = run("evaluate", "--model", str(model), "--dataset", str(root), "--device", "cpu",
                        "-o", str(tmp_path / "eval"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert peak_mb < 500, f"peak RSS {peak_mb:.0f} MB"
    result = json.loads((tmp_path / "eval" / "evaluate_result.json").read_text())
    assert result["num_images"] == 3 and "confusion_matrix" not in result
    assert sum(c for _, _, c in result["confusion_sparse"]) == 3
    dense = json.loads((tmp_path / "eval" / "confusion_matrix.json").read_text())["matrix"]
    assert len(dense) == CLASSES and sum(map(sum, dense)) == 3
    from PIL import Image

    with Image.open(tmp_path / "eval" / "confusion_matrix.png") as png:
        assert max(png.size) <= 1000  # at most 10 inches at 100 dpi


def test_check_dataset_subset_of_1000_classes_passes_with_one_warning(tmp_path):
    root = subset(tmp_path / "ds")
    proc, _ = run("check-dataset", str(root), "-o", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    warnings = [ln for ln in proc.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and "996 of 1000 classes in label.txt have no samples" in warnings[0]
    result = json.loads((tmp_path / "out" / "check_dataset_result.json").read_text())
    assert result["check_pass"] is True and result["problems"] == [] and len(result["empty_classes"]) == 996
