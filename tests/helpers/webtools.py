"""What the browser and Node tests need, found or explained: node, web/node_modules (npm ci), Debian's chromium.
Under ./scripts/test these are installed first; a missing one is a skip with the install command (a failure there)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from helpers import ROOT

WEB = ROOT / "web"
NODE_MODULES = WEB / "node_modules"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def need_node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is missing; run: apt-get install -y nodejs npm (./scripts/test does this)")
    return node


def need_npm_packages(*names: str) -> Path:
    need_node()
    for name in names:
        if not (NODE_MODULES / name / "package.json").is_file():
            pytest.skip(f"{name} is not installed in web/node_modules; run: npm ci --prefix web (./scripts/test does this)")
    return NODE_MODULES


def need_chromium() -> str:
    need_npm_packages("playwright-core")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} is missing; run: apt-get install -y chromium (./scripts/test does this)")
    return CHROMIUM


def run_node(script: str, *args: str, timeout: int = 300, input: bytes | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([need_node(), str(WEB / "test" / script), *args], capture_output=True, timeout=timeout,
                          input=input, cwd=WEB)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-2000:]!r}\n{proc.stderr.decode()[-4000:]}"
    return proc


def browser(job: dict, timeout: int = 300) -> dict:
    need_chromium()
    return json.loads(run_node("browser_check.mjs", json.dumps(job), timeout=timeout).stdout)


@contextmanager
def serving(site: Path):
    """The site on 127.0.0.1 (a free port), cross-origin isolated; yields its base URL."""
    from imgcls_onnx.web_export import site_server

    server = site_server(site, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
