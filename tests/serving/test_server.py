"""run_server: the policy of `imgcls-onnx serve` (malloc arenas first, the latency session's choice, the draining
uvicorn server) applied for a library user too, and its decisions on hand-written inputs."""
from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from helpers import ROOT, tiny_onnx_model

httpx = pytest.importorskip("httpx", reason="serving tests need httpx (test extra)")
pytest.importorskip("fastapi", reason="serving needs the serve extra")
pytest.importorskip("uvicorn", reason="serving needs the serve extra")


def test_arena_limit_decision():
    """0 leaves glibc's default without asking; otherwise the limit is asked for, and reported only when it took."""
    from imgcls_onnx.serving.server import arenas_in_force

    asked = []

    def limit(ok):
        return lambda n: asked.append(n) or ok

    assert arenas_in_force(0, limit(True)) is None and asked == []
    assert arenas_in_force(2, limit(True)) == 2 and asked == [2]
    assert arenas_in_force(3, limit(False)) is None and asked == [2, 3]  # not glibc


@pytest.mark.realdata
@pytest.mark.parametrize("arenas", [2, 0])
def test_run_server_applies_the_serve_policy_for_a_library_user(orientation_bundle, monkeypatch, arenas):
    """A library user's run_server: the arena limit is asked for first (before the model is even located), the
    latency session is chosen by latency_session_wanted and added, and the app runs on the draining uvicorn server
    with serve's settings, /health reporting the stack as `serve`'s does. uvicorn's run is replaced by a /health
    request to the app it was given."""
    from imgcls_onnx.serving import server, uvicorn_server

    calls = []
    monkeypatch.setattr(server, "limit_malloc_arenas", lambda n: calls.append(("arenas", n)) or True)
    wanted = server.latency_session_wanted
    monkeypatch.setattr(server, "latency_session_wanted",
                        lambda choice, size: calls.append(("latency", choice)) or wanted(choice, size))
    ran = {}

    async def health(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return (await client.get("/health")).json()["result"]

    def run(self):
        ran["server"], ran["health"] = self, asyncio.run(health(self.config.app))
        self.config.app.state.serving.decode_pool.shutdown()

    monkeypatch.setattr(uvicorn_server.DrainingServer, "run", run)
    server.run_server(lambda: calls.append(("locate",)) or orientation_bundle, host="127.0.0.1", port=1,
                      device="cpu", threads=2, malloc_arenas=arenas)
    assert calls == [*([("arenas", arenas)] if arenas else []), ("locate",), ("latency", "auto")]
    config = ran["server"].config
    assert (config.host, config.port, config.timeout_graceful_shutdown, config.access_log) == ("127.0.0.1", 1, 30,
                                                                                                False)
    assert ran["health"]["server"] == {"http": "HttpToolsProtocol", "malloc_arenas": arenas or None,
                                       "loop": "asyncio", "latency_session": True,  # asyncio: this test's loop
                                       "preprocessing_kernel": "compiled"}  # built by ./scripts/test
    assert ran["health"]["batching"] == {"max_batch_size": 4, "max_wait_ms": 0.0}
    model = config.app.state.serving.model  # an OnnxModel: every thread to its one session, arena shrinking on
    assert model.latency_session is not None and model.options.intra_op_num_threads == 2
    assert model._run_options is not None and model._latency_run_options is not None


def test_serve_limits_the_arenas_before_numpy_loads():
    """`imgcls-onnx serve` reaches the arena limit with numpy, OpenCV and onnxruntime not yet imported (set after
    them, the limit left RSS at 1.27x fresh in one of two runs). The limit is replaced by a probe that exits."""
    probe = """
import sys
from imgcls_onnx import cli
from imgcls_onnx.serving import server

def probe(n):
    loaded = [m for m in ("numpy", "cv2", "onnxruntime") if m in sys.modules]
    print(n, loaded)
    raise SystemExit(0)

server.limit_malloc_arenas = probe
sys.argv = ["imgcls-onnx", "serve", "-m", "no-such-model", "--malloc-arenas", "3"]
cli.main()
"""
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "3 []\n"), done.stderr


def test_load_for_serving_warns_as_a_classifier_does_and_gives_every_core(tmp_path, capsys, monkeypatch):
    """The server's OnnxModel is loaded without a Classifier, but with its load-time warnings (here: random weights,
    once, as an ImgclsWarning), every usable core on its one session, arena shrinking, and (a tiny model) the latency
    session."""
    from imgcls_onnx.runtime.bundle import BundleConfig, write_bundle
    from imgcls_onnx.runtime.model import OnnxModel
    from imgcls_onnx.runtime.transforms import PreprocessSpec
    from imgcls_onnx.serving import server

    onnx = tiny_onnx_model(tmp_path / "src.onnx", 5, True, 32)
    config = BundleConfig("tiny", PreprocessSpec.imagenet(resize_short=36, crop=32), 5, None)
    bundle = write_bundle(tmp_path / "tiny_random", onnx, config, manifest={"weights": "random"})
    monkeypatch.setattr(server, "usable_cores", lambda: 3)
    with pytest.warns(UserWarning, match="RANDOM weights") as caught:
        model = server.load_for_serving(bundle, device="cpu")
    assert sum("RANDOM weights" in str(w.message) for w in caught) == 1
    assert isinstance(model, OnnxModel) and model.options.intra_op_num_threads == 3
    assert model._run_options is not None and model.latency_session is not None
    assert server.load_for_serving(bundle, device="cpu", threads=1).latency_session is None  # nothing would spin
    with pytest.raises(ValueError, match="threads must be >= 1"):
        server.load_for_serving(bundle, device="cpu", threads=0)
