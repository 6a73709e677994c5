"""``hub.convert_quietly``, the one way the library runs a conversion (``convert``, auto-convert, ``-c ... Export``):
stdout carries nothing of the conversion (Paddle's prints included), and the converter's steps reach stderr as plain
lines, through its logger, only while it runs."""
from __future__ import annotations

import json
import logging
import os

import pytest
from helpers import run_cli, tiny_onnx_model

from imgcls_onnx import hub
from imgcls_onnx.converter import pipeline
from imgcls_onnx.converter.pipeline import ConvertRequest


def test_steps_go_to_stderr_and_stdout_stays_clean(monkeypatch, capfd):
    def fake_run_convert(request):
        pipeline.LOG.info("step one of %s", request.source)
        logging.getLogger("imgcls_onnx.converter.official").info("step two")
        os.write(1, b"what paddle prints on file descriptor 1\n")
        return {"bundle": "/somewhere"}

    monkeypatch.setattr(pipeline, "run_convert", fake_run_convert)
    report = hub.convert_quietly(ConvertRequest(source="NAME"), notice="why it converts")
    assert report == {"bundle": "/somewhere"}
    out, err = capfd.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[:3] == ["why it converts", "step one of NAME", "step two"]  # no level, no logger name
    assert "what paddle prints on file descriptor 1" in lines


def test_the_log_is_shown_only_while_converting(monkeypatch, capfd):
    def failing_run_convert(request):
        pipeline.LOG.info("started")
        raise RuntimeError("conversion failed")

    monkeypatch.setattr(pipeline, "run_convert", failing_run_convert)
    for _ in range(2):
        with pytest.raises(RuntimeError, match="conversion failed"):
            hub.convert_quietly(ConvertRequest(source="NAME"))
        # the logger is as the library leaves it: no handler, no level, propagating to the application's logging
        log = hub.CONVERTER_LOG
        assert (log.level, log.propagate, log.handlers) == (logging.NOTSET, True, [])
    pipeline.LOG.info("after the conversion")
    out, err = capfd.readouterr()
    assert out == "" and err.splitlines() == ["started", "started"]


@pytest.mark.convert
def test_cli_convert_prints_the_report_on_stdout_and_its_steps_on_stderr(tmp_path):
    """What `convert` prints: stdout is the JSON report alone; each step is one plain line on stderr."""
    src = tiny_onnx_model(tmp_path / "m.onnx", num_classes=1000, size=224, seed=3)
    out = tmp_path / "bundle"
    proc = run_cli("convert", "--onnx", str(src), "--preset", "PP-LCNet_x1_0", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout)["bundle"] == str(out)
    assert f"wrote {out}" in proc.stderr.splitlines()
