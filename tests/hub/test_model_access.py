"""Every entry point gets a model one way (hub.obtain_model: the store's finder, then the converter for a missing zoo
model), Ray included; and the network policy's redirect rule for model downloads. No Ray, no converter and no network
are needed."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from helpers import tiny_bundle

from imgcls_onnx import hub
from imgcls_onnx import ray as ray_jobs
from imgcls_onnx.runtime.net import ENV_ALLOW_PRIVATE, MODEL_DOWNLOAD, FetchError, check_redirect, is_url
from imgcls_onnx.store.errors import ModelNotConvertedError

ZOO_NAME = "PP-LCNet_x1_0"


@pytest.fixture
def fake_converter(tmp_path, monkeypatch):
    """An empty model cache and a converter that makes a tiny bundle where the real one would put it."""
    home = tmp_path / "home"
    monkeypatch.setenv("IMGCLS_ONNX_HOME", str(home))
    made: list[str] = []

    def convert_quietly(request, notice=None):
        made.append(request.source)
        assert notice and ZOO_NAME in notice  # says why a `predict` is converting
        return {"bundle": str(tiny_bundle(home / "models" / request.source))}

    monkeypatch.setattr(hub, "convert_quietly", convert_quietly)
    monkeypatch.setattr(hub, "missing_converter_modules", lambda: [])
    return made


def test_obtain_converts_a_missing_zoo_model_once(fake_converter):
    with pytest.raises(ModelNotConvertedError, match=f"imgcls-onnx convert {ZOO_NAME}"):
        hub.obtain_model(ZOO_NAME, convert=False)  # not asked to: the advice, and nothing converted
    assert fake_converter == []
    got = hub.obtain_model(ZOO_NAME)
    assert fake_converter == [ZOO_NAME] and (got / "inference.onnx").is_file()
    assert hub.obtain_model(ZOO_NAME) == got and fake_converter == [ZOO_NAME]  # cached: not converted again


def test_without_the_converter_the_advice_says_what_is_missing(fake_converter, monkeypatch):
    monkeypatch.setattr(hub, "missing_converter_modules", lambda: ["paddle", "paddle2onnx"])
    with pytest.raises(ModelNotConvertedError) as e:
        hub.obtain_model(ZOO_NAME)
    assert e.value.name == ZOO_NAME
    assert str(e.value).endswith("(the converter is not installed here: paddle, paddle2onnx missing)")
    assert "pip install 'imgcls-onnx[convert]'" in str(e.value) and fake_converter == []


def test_ray_auto_converts_a_missing_zoo_model_as_predict_does(fake_converter, monkeypatch):
    """classify_dataset (what `predict --engine ray` runs) gets its model through hub.obtain_model, like predict:
    a zoo model without a bundle is converted once, and the actors get the converted bundle folder."""
    calls = []

    class Dataset:
        def map_batches(self, fn, **kw):
            calls.append(kw)
            return kw

    fake_ray = SimpleNamespace(data=SimpleNamespace(
        ActorPoolStrategy=lambda size, max_concurrent_calls_per_actor=None: ("pool", size)))
    monkeypatch.setattr(ray_jobs.compat, "ray_module", lambda: fake_ray)
    ray_jobs.classify_dataset(Dataset(), ZOO_NAME)
    ray_jobs.classify_dataset(Dataset(), ZOO_NAME)  # now in the cache: not converted again
    expected = str(hub.obtain_model(ZOO_NAME, convert=False))
    assert fake_converter == [ZOO_NAME]
    assert [c["fn_constructor_kwargs"]["job"].model for c in calls] == [expected, expected]


def test_model_download_redirects_are_checked_hop_by_hop(monkeypatch):
    monkeypatch.delenv(ENV_ALLOW_PRIVATE, raising=False)
    public, private = "http://93.184.216.34/m.tar.gz", "http://169.254.169.254/latest/meta-data"
    with pytest.raises(FetchError, match="non-public"):
        check_redirect(public, private, MODEL_DOWNLOAD)  # a public host cannot bounce us into the local network
    with pytest.raises(FetchError, match="http"):
        check_redirect(public, "ftp://93.184.216.35/m.tar.gz", MODEL_DOWNLOAD)
    check_redirect("http://127.0.0.1:8000/m.tar.gz", "http://127.0.0.1:8001/m.tar.gz", MODEL_DOWNLOAD)  # a mirror
    check_redirect(public, "http://93.184.216.35/cdn/m.tar.gz", MODEL_DOWNLOAD)  # to a CDN
    monkeypatch.setenv(ENV_ALLOW_PRIVATE, "1")
    check_redirect(public, private, MODEL_DOWNLOAD)


def test_is_url():
    assert is_url("http://a/b.jpg") and is_url("HTTPS://a/b.jpg")
    assert not is_url("s3://bucket/a.jpg") and not is_url("a/http://b") and not is_url(b"http://a")
