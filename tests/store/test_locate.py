"""The store's finder answers with a value: ``Found(path)`` or ``NeedsConversion(name, looked_in)``; it raises only
for a reference that names nothing (no such folder or archive, a name outside the zoo). No network, no converter."""
from __future__ import annotations

import pytest

from imgcls_onnx.store.errors import ModelNotConvertedError, UnknownModelError
from imgcls_onnx.store.locate import Found, NeedsConversion, find_model

ZOO_NAME = "PP-LCNet_x1_0"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty model cache."""
    monkeypatch.setenv("IMGCLS_ONNX_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_a_folder_is_found_as_is(home, tmp_path):
    folder = tmp_path / "my model"
    folder.mkdir()
    assert find_model(folder) == Found(folder)
    assert find_model(str(folder)) == Found(folder)


def test_a_zoo_model_without_a_bundle_needs_conversion_as_a_value(home):
    """Any spelling the zoo accepts names the zoo's model, and where its bundle would be; nothing is raised."""
    for ref in (ZOO_NAME, "pp_lcnet_x1_0"):
        assert find_model(ref) == NeedsConversion(ZOO_NAME, home / "models" / ZOO_NAME)
    assert not (home / "models").exists()  # finding makes nothing


def test_a_cached_zoo_bundle_is_found(home):
    (home / "models" / ZOO_NAME).mkdir(parents=True)
    assert find_model(ZOO_NAME) == Found(home / "models" / ZOO_NAME)
    assert find_model("pp_lcnet_x1_0") == Found(home / "models" / ZOO_NAME)


def test_the_advice_is_built_only_when_asked_and_names_both_ways_out(home):
    need = find_model(ZOO_NAME)
    error = need.error()
    assert isinstance(error, ModelNotConvertedError) and isinstance(error, UnknownModelError)
    assert error.name == ZOO_NAME
    text = str(error)
    assert f"looked in {str(home / 'models' / ZOO_NAME)!r}" in text
    assert f"`imgcls-onnx convert {ZOO_NAME}`" in text and f"--model {ZOO_NAME}.tar.gz" in text
    assert str(need.error("no converter here")) == f"{text} (no converter here)"


@pytest.mark.parametrize("ref, message", [
    ("NoSuchNet_x9", "neither a model folder nor a model of the zoo"),
    ("./missing", "model folder './missing' does not exist"),
    ("nowhere.tar.gz", "bundle archive 'nowhere.tar.gz' does not exist"),
    (f"{ZOO_NAME}#sha256=" + "0" * 64, "'#sha256=' applies to a bundle archive"),
])
def test_a_reference_to_nothing_raises(home, ref, message):
    with pytest.raises(UnknownModelError, match=message) as e:
        find_model(ref)
    assert not isinstance(e.value, ModelNotConvertedError)
