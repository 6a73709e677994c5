"""`serve`'s defaults have one source, serving.state's settings: the command, run_server and serve_app read them
from there, and `--help` still shows them. No server and no model: run_server is replaced by a recorder."""
from __future__ import annotations

import inspect
from dataclasses import asdict

import pytest
from click.testing import CliRunner

from imgcls_onnx.cli import cli
from imgcls_onnx.cli import serve as serve_cli
from imgcls_onnx.serving.state import DEFAULT_SETTINGS, PROCESS_DEFAULTS, ServeSettings

NOT_FLAGS = {"url_timeout_s"}  # settings a library user may set, with no flag
NOT_SETTINGS = {"model", "device", "threads"}  # shared options (cli/options.py), not serve's own


def test_the_serve_command_defaults_are_the_settings(monkeypatch):
    """With no flags, `serve` hands run_server exactly DEFAULT_SETTINGS and PROCESS_DEFAULTS (a default restated in
    click, or an `or 4` in the command, shows here), and every flag of its own is a settings field."""
    flags = {p.name: p.default for p in serve_cli.serve.params if p.name != "help"}
    settings_fields = {**asdict(DEFAULT_SETTINGS), **asdict(PROCESS_DEFAULTS)}
    assert set(flags) == (settings_fields.keys() - NOT_FLAGS) | NOT_SETTINGS
    assert {k: flags[k] for k in flags.keys() - NOT_SETTINGS} == {k: settings_fields[k] for k in flags.keys() - NOT_SETTINGS}

    calls = []
    monkeypatch.setattr(serve_cli, "run_server", lambda model, settings, **kw: calls.append((settings, kw)))
    result = CliRunner().invoke(cli, ["serve", "-m", "some-model"])
    assert result.exit_code == 0, result.output
    (settings, kw), = calls
    assert settings == DEFAULT_SETTINGS and isinstance(settings, ServeSettings)
    assert kw == {**asdict(PROCESS_DEFAULTS), "device": "auto", "threads": None}


def test_run_server_and_serve_app_take_the_same_defaults():
    """A library user's run_server (and serve_app under it) defaults to what `serve` does."""
    from imgcls_onnx.serving.server import run_server

    params = inspect.signature(run_server).parameters
    assert {k: params[k].default for k in asdict(PROCESS_DEFAULTS)} == asdict(PROCESS_DEFAULTS)
    assert params["settings"].default == DEFAULT_SETTINGS
    try:
        from imgcls_onnx.serving.uvicorn_server import serve_app
    except ImportError:  # the serve extra
        return
    app_params = inspect.signature(serve_app).parameters
    assert {k: app_params[k].default for k in ("host", "port", "log_level")} == {
        "host": PROCESS_DEFAULTS.host, "port": PROCESS_DEFAULTS.port, "log_level": PROCESS_DEFAULTS.log_level}


def test_help_still_shows_the_defaults():
    result = CliRunner().invoke(cli, ["serve", "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for shown in ("[default: 127.0.0.1]", "[default: 8080;", "[default: 256;", "[default: 20.0;", "[default: 4;",
                  "[default: 2;", "[default: auto]", "[default: info]", "[default: 4 on CPU, 16 on GPU]",
                  "[default: 0 on CPU, 5 on GPU]", "models up to 64 MB"):
        assert shown in text, (shown, text)


def test_the_body_cap_is_one_number():
    """The middleware's 413 and the largest image a request may carry are the same bytes (a fake model)."""
    pytest.importorskip("fastapi", reason="serving needs the serve extra")
    from imgcls_onnx.serving.app import create_app
    from imgcls_onnx.serving.guard import RequestGuard

    class Model:
        device, run = "cpu", None

    settings = ServeSettings(max_body_mb=0.25)
    assert settings.max_body_bytes == 262144 and DEFAULT_SETTINGS.max_body_bytes == 20 * 2**20
    app = create_app(Model(), settings)
    try:
        assert app.state.serving.limits.max_bytes == RequestGuard(app, settings, None).limit == 262144
    finally:
        app.state.serving.decode_pool.shutdown()
