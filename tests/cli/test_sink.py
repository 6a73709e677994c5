"""The command line's one result sink (cli/sink.py): predict, --pipeline and -c report results the same way, and a
resumed run's progress bar counts only what is left, so it reaches its total."""
from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys

from helpers import ROOT, structured_image, tiny_bundle, write_jpeg


def _images(folder, n):
    folder.mkdir()
    return [write_jpeg(folder / f"img_{i}.jpg", structured_image(48, 64, seed=i)) for i in range(n)]


def _predict_on_a_terminal(*args):
    """`imgcls-onnx predict ARGS` with stderr on a pseudo-terminal (the bar is drawn) and stdout on a pipe: (stdout,
    everything the terminal showed). POSIX only (the test command runs on Linux), imported here so the file's other
    tests import anywhere."""
    import fcntl
    import pty
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a 0-column terminal gets no bar
    proc = subprocess.Popen([sys.executable, "-m", "imgcls_onnx.cli", "predict", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=slave, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    os.close(slave)
    shown = b""
    while True:  # read until the child closes the terminal (EIO on Linux once the last writer is gone)
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    out = proc.stdout.read().decode("utf-8")
    proc.stdout.close()
    assert proc.wait() == 0, shown.decode("utf-8", "replace")
    os.close(master)
    return out, shown.decode("utf-8", "replace")


def test_resumed_bar_reaches_its_total(tmp_path):
    bundle = tiny_bundle(tmp_path / "bundle")
    images = _images(tmp_path / "imgs", 5)
    out = tmp_path / "out"
    first = subprocess.run([sys.executable, "-m", "imgcls_onnx.cli", "predict", "-m", str(bundle), *map(str, images[:2]),
                            "--save-path", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    stdout, shown = _predict_on_a_terminal("-m", str(bundle), str(tmp_path / "imgs"), "--save-path", str(out), "--resume")
    assert [json.loads(line)["input_path"] for line in stdout.splitlines()] == [str(p) for p in images[2:]]
    counts = re.findall(r"(\d+)/(\d+) ", shown)
    assert counts, shown  # the bar was drawn
    assert counts[-1] == ("3", "3"), shown  # 3 left of 5: the total is what this run sees, and it is reached
    assert "skipped 2 inputs" in shown
    assert sorted(p.name for p in out.glob("*_res.json")) == [f"img_{i}_res.json" for i in range(5)]


def test_failures_are_one_line_each_and_counted_the_same_in_predict_pipeline_and_config(tmp_path):
    bundle = tiny_bundle(tmp_path / "bundle")
    folder = tmp_path / "imgs"
    _images(folder, 2)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(f"pipeline_name: image_classification\nSubModules:\n  ImageClassification:\n"
                        f"    module_name: image_classification\n    model_name: tiny\n    model_dir: {bundle}\n"
                        f"    batch_size: 4\n    topk: 5\n", encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(f"Global:\n  model: tiny\n  mode: predict\n  output: {tmp_path / 'cout'}\nPredict:\n"
                      f"  model_dir: {bundle}\n  input: {folder}\n", encoding="utf-8")
    runs = {  # command -> JSON lines expected on stdout (PaddleX's -c prints nothing for a failure)
        ("predict", "-m", str(bundle), str(folder)): 3,
        ("--pipeline", str(pipeline), "--input", str(folder)): 3,
        ("-c", str(config)): 2,
    }
    for args, lines in runs.items():
        proc = subprocess.run([sys.executable, "-m", "imgcls_onnx.cli", *args], cwd=ROOT, capture_output=True,
                              text=True, env=dict(os.environ, PYTHONWARNINGS="ignore"))
        assert proc.returncode == 1, (args, proc.stderr)
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "broken.jpg" in errors[0], (args, proc.stderr)
        objects = list(json.JSONDecoder().raw_decode(chunk)[0] for chunk in _json_chunks(proc.stdout))
        assert len(objects) == lines, (args, proc.stdout)
    assert sorted(p.name for p in (tmp_path / "cout").glob("*_res.json")) == ["img_0_res.json", "img_1_res.json"]


def _json_chunks(text):
    """Top-level JSON texts printed one after another (one per line, or indented over several lines)."""
    chunks, depth, start = [], 0, None
    for i, ch in enumerate(text):
        if ch == "{":
            depth += 1
            start = i if depth == 1 else start
        elif ch == "}":
            depth -= 1
            if depth == 0:
                chunks.append(text[start:i + 1])
    return chunks
