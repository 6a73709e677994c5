"""Bundle archives from URLs (`predict --model URL`) and store.download itself, against loopback servers: resume,
giving up, a wrong sha256, unsafe members. One clear error and nothing left behind. No Paddle needed (the official
archives' hostile cases, which go through `convert`, are in test_hostile_downloads.py)."""
from __future__ import annotations

import hashlib
import os

import pytest
from helpers import run_cli
from helpers.cachecheck import refused
from helpers.loopback import Fault, LoopbackServer
from helpers.official_archive import tar_bytes


def test_wrong_sha256_on_a_bundle_url(sandbox, orientation_bundle, tmp_path):
    from imgcls_onnx.store.archive import pack_bundle

    server, _, _ = sandbox
    data = pack_bundle(orientation_bundle, tmp_path / "pulc.tar.gz").read_bytes()
    url = server.add("/bundles/pulc.tar.gz", data)
    wrong = hashlib.sha256(b"something else").hexdigest()
    img = tmp_path / "x.png"
    img.write_bytes(b"")  # never read: the model is refused first
    refused(run_cli("predict", "--model", f"{url}#sha256={wrong}", str(img)), wrong, "sha256")


@pytest.mark.parametrize("member, kind, payload, needle", [
    ("tiny/../../evil.txt", "file", b"x", "'..'"),
    ("tiny/inference.onnx", "symlink", "/etc/passwd", "is a link"),
])
def test_unsafe_bundle_archive_from_a_url(sandbox, tmp_path, member, kind, payload, needle):
    """The bundle installer (predict --model URL): it extracts into the cache itself, so a refusal must not leave
    its extraction folder (nor the archives folder it created) behind, even empty."""
    server, _, _ = sandbox
    url = server.add("/bundles/tiny.tar.gz", tar_bytes([("tiny/", "dir", None), (member, kind, payload)], gz=True))
    img = tmp_path / "x.png"
    img.write_bytes(b"")  # never read: the model is refused first
    refused(run_cli("predict", "--model", url, str(img)), needle, repr(member))
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path.parent / "evil.txt").exists()


def test_download_resumes_with_range_and_restarts_without(tmp_path):
    """The download function alone: a broken transfer resumes where the server allows ranges, restarts where not."""
    from imgcls_onnx.store.download import download

    data = os.urandom(300_000)
    for ranges in (True, False):
        with LoopbackServer() as server:
            server.served.ranges = ranges
            url = server.add("/f.bin", data)
            server.served.faults["/f.bin"] = Fault(drop_after=100_000)
            got = download(url, tmp_path, backoff_s=0.01, progress=False)
            assert got.sha256 == hashlib.sha256(data).hexdigest() and got.size == len(data)
            assert got.path.read_bytes() == data
            ranges_sent = [g[2] for g in server.gets("/f.bin")]
            assert len(ranges_sent) == 2 and ranges_sent[0] is None
            if ranges:  # resumed from what had arrived (whole chunks), not from zero
                assert 0 < int(ranges_sent[1][len("bytes="):-1]) <= 100_000, ranges_sent
            else:
                assert ranges_sent[1] is None
            got.path.unlink()
    assert list(tmp_path.iterdir()) == []


def test_download_gives_up_with_one_clear_error(tmp_path):
    from imgcls_onnx.store.download import download
    from imgcls_onnx.store.errors import DownloadError

    with LoopbackServer() as server:
        url = server.add("/f.bin", b"x" * 50_000)
        server.served.faults["/f.bin"] = Fault(drop_after=10, times=99)
        server.served.ranges = False
        with pytest.raises(DownloadError, match=r"after 3 attempts: the connection ended|after 3 attempts: "):
            download(url, tmp_path, retries=2, backoff_s=0.01, progress=False)
        assert len(server.gets("/f.bin")) == 3
        with pytest.raises(DownloadError, match="over the limit"):
            download(url, tmp_path, max_bytes=1000, progress=False)
    assert list(tmp_path.iterdir()) == []
