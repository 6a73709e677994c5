"""Model downloads that redirect, served by loopback servers: every hop is checked (runtime/net.check_redirect) before
anything connects to it. A refused hop is one clear error, one request (no retries), and nothing left in the cache
nor in the temporary folder. No Paddle: the bundle installer (``predict --model URL``) and store.download alone.

The refused-address cases stand in a "public" origin: the loopback origin server is declared public (``net`` asks
``_is_public_host``), so a hop into 127.0.0.1, 10/8 or 169.254/16 is what a public host bouncing a download into
the local network looks like. The targets are literal addresses (no DNS), refused before any connection; were the
check gone, tests/netguard.py would still block any connect outside 127.0.0.0/8 (and fail the test).
"""
from __future__ import annotations

import tempfile

import pytest
from helpers import run_cli, tiny_bundle
from helpers.cachecheck import tree
from helpers.loopback import LoopbackServer

from imgcls_onnx.hub import obtain_model
from imgcls_onnx.runtime import net
from imgcls_onnx.runtime.net import ENV_ALLOW_PRIVATE, MODEL_DOWNLOAD
from imgcls_onnx.store.download import download
from imgcls_onnx.store.errors import DownloadError


@pytest.fixture(scope="module")
def bundle_archive(tmp_path_factory) -> bytes:
    from imgcls_onnx.store.archive import pack_bundle

    folder = tmp_path_factory.mktemp("redirect-bundle")
    return pack_bundle(tiny_bundle(folder / "tiny"), folder / "tiny.tar.gz").read_bytes()


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """An empty model cache and temporary folder, checked to be as empty after the test."""
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    monkeypatch.setenv("IMGCLS_ONNX_HOME", str(home))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))  # download() stages under tempfile's folder
    monkeypatch.delenv(ENV_ALLOW_PRIVATE, raising=False)
    yield home, tmp
    assert tree(home) == [], "the cache must hold nothing, not even an empty folder"
    assert tree(tmp) == [], "no temporary files or folders may be left"


def _public_origin(monkeypatch, server: LoopbackServer) -> None:
    """Treat ``server`` (and only it) as a public host: the redirect rule then applies to where it sends us."""
    host, port = server.httpd.server_address[:2]
    monkeypatch.setattr(net, "_is_public_host", lambda h, p: (h, p) == (host, port))


@pytest.mark.parametrize("where", ["loopback", "link-local", "private"])
def test_a_public_origin_cannot_redirect_into_the_local_network(empty_cache, monkeypatch, bundle_archive, where):
    with LoopbackServer() as origin, LoopbackServer() as inside:
        _public_origin(monkeypatch, origin)
        target = {"loopback": inside.add("/tiny.tar.gz", bundle_archive),  # would install a model if followed
                  "link-local": "http://169.254.169.254/latest/meta-data/tiny.tar.gz",  # cloud metadata
                  "private": "http://10.0.0.1/tiny.tar.gz"}[where]
        url = origin.redirect("/tiny.tar.gz", target)
        with pytest.raises(DownloadError) as e:
            obtain_model(url)  # predict --model URL
        assert f"cannot download {url}: it redirects to {target}, refused" in str(e.value)
        assert "non-public address" in str(e.value) and ENV_ALLOW_PRIVATE in str(e.value)
        assert len(origin.gets("/tiny.tar.gz")) == 1, "a refused hop is final: no retry"
        assert inside.served.log == [], "the refused target must never be contacted"


@pytest.mark.parametrize("target", ["ftp://127.0.0.1/tiny.tar.gz", "file:///etc/passwd", "gopher://127.0.0.1:70/x"])
def test_a_redirect_to_another_scheme_is_refused(empty_cache, target):
    """Refused whatever the origin (a loopback mirror here, which may otherwise redirect anywhere on the network)."""
    with LoopbackServer() as origin:
        url = origin.redirect("/tiny.tar.gz", target)
        with pytest.raises(DownloadError) as e:
            obtain_model(url)
        assert f"it redirects to {target}, refused: only http(s) URLs" in str(e.value)
        assert "--model FILE.tar.gz" in str(e.value)  # the manual route
        assert len(origin.gets("/tiny.tar.gz")) == 1, "a refused hop is final: no retry"


def test_redirect_hops_up_to_the_limit_and_no_further(tmp_path, bundle_archive):
    """A chain of exactly max_redirects hops (relative and absolute Locations) downloads; one more hop, or a loop,
    is refused after max_redirects + 1 requests, leaving nothing."""
    limit = MODEL_DOWNLOAD.max_redirects
    with LoopbackServer() as server:
        data = server.add("/file.bin", bundle_archive)
        for i in range(limit):  # /hop0 -> /hop1 -> ... -> /hop{limit-1} -> /file.bin: `limit` redirects
            nxt = data if i == limit - 1 else (f"/hop{i + 1}" if i % 2 else server.base + f"/hop{i + 1}")
            server.redirect(f"/hop{i}", nxt)
        got = download(server.base + "/hop0", tmp_path, progress=False)
        assert got.path.read_bytes() == bundle_archive
        got.path.unlink()

        server.redirect("/longer", "/hop0")  # limit + 1 redirects
        server.redirect("/a", "/b")
        server.redirect("/b", server.base + "/a")  # a loop
        for start in ("/longer", "/a"):
            before = len(server.served.log)
            with pytest.raises(DownloadError, match=rf"cannot download {server.base}{start}: more than {limit} "
                                                    "redirects"):
                download(server.base + start, tmp_path, progress=False)
            assert len(server.served.log) - before == limit + 1, "each hop is requested once, and no retry"
    assert list(tmp_path.iterdir()) == []


def test_the_cli_names_the_refused_redirect_and_exits_2(tmp_path, monkeypatch):
    """`predict --model URL` whose URL redirects to ftp://: one error line, exit 2, an untouched cache."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("IMGCLS_ONNX_HOME", str(home))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    img = tmp_path / "x.png"
    img.write_bytes(b"")  # never read: the model is refused first
    with LoopbackServer() as origin:
        url = origin.redirect("/tiny.tar.gz", "ftp://127.0.0.1/tiny.tar.gz")
        proc = run_cli("predict", "--model", url, str(img), timeout=120)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert proc.returncode == 2 and len(errors) == 1, proc.stderr[-2000:]
    assert "redirects to ftp://127.0.0.1/tiny.tar.gz, refused" in errors[0]
    assert tree(home) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["home", "x.png"]
