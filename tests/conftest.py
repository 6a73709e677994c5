"""pytest's hooks and fixtures for the whole suite: tiers by folder, no skip under ./scripts/test, the network guard,
an isolated model cache. The shared library (paths, image and model makers, run_cli) is the helpers package."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import (
    DECODERS,
    REALDATA,
    REFERENCE,
    need,
    require_convert_extra,
    tiny_bundle,
    use_decoder,
    write_orientation_bundle,
)
from helpers.netguard import GUARD

# fixtures shared by folders: sandbox (an empty model cache and TMPDIR, checked to stay empty)
pytest_plugins = ["helpers.cachecheck"]


GUARD.install()  # the whole session: a connect outside 127.0.0.0/8 raises, and fails the test that tried (below)


# Under ./scripts/test (and so in CI) a skip is a failure: missing ../shared or a missing optional dependency must not
# pass quietly. IMGCLS_ALLOW_SKIP=1 is the explicit opt-out, refused in CI. A skip whose reason starts with
# "not applicable:" (a check that cannot exist on this machine, e.g. the no-CUDA error on a CUDA build) stays a skip.
NO_SKIP = os.environ.get("IMGCLS_NO_SKIP") == "1" and (os.environ.get("IMGCLS_ALLOW_SKIP") != "1" or
                                                      os.environ.get("CI") == "true")


NOT_APPLICABLE = "not applicable:"


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _strict(report) -> None:
    if NO_SKIP and report.skipped and not hasattr(report, "wasxfail"):
        reason = _skip_reason(report)
        if NOT_APPLICABLE not in reason:
            report.outcome = "failed"
            report.longrepr = (f"skipped under ./scripts/test, where a skip is a failure (IMGCLS_NO_SKIP=1): {reason}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _strict(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _strict(outcome.get_result())


# Test tiers. `./scripts/test --fast` (pytest --fast) runs what needs none of: Paddle (the convert extra), a Ray
# cluster, a browser (Node, Chromium, web/node_modules), qemu, the PaddleX peer venv, or wheel builds into fresh venvs,
# and leaves out the few tests marked slow.
# Markers come from a test's folder and fixtures, so a new test lands in its tier without thought (pyproject.toml
# registers them; `-m "not cluster"` and the like select by hand).
TESTS = Path(__file__).resolve().parent


FOLDER_TIERS = {"converter": "paddle", "ray": "cluster", "web": "browser", "arm64": "qemu", "compat": "peer",
                "packaging": "packaging"}


#: fixtures that need Paddle: a test that asks for one is in the paddle tier wherever it lives
PADDLE_FIXTURES = frozenset({"convert_extra", "doc_ori_archive"})


#: what --fast leaves out: the tiers above, and single tests marked slow (more than a few seconds each)
SLOW_TIERS = ("paddle", "cluster", "browser", "qemu", "peer", "packaging", "slow")


def pytest_addoption(parser):
    parser.addoption("--fast", action="store_true", default=False,
                     help=f"the fast tier: leave out the tests marked {', '.join(SLOW_TIERS)} (./scripts/test --fast)")


def pytest_ignore_collect(collection_path, config):
    """Under --fast the tier folders are not even imported (their modules import Ray, Paddle, Node helpers...)."""
    if config.getoption("fast"):
        try:
            rel = Path(collection_path).resolve().relative_to(TESTS).parts
        except ValueError:
            return None
        if rel and rel[0] in FOLDER_TIERS:
            return True
    return None


def pytest_collection_modifyitems(config, items):
    for item in items:
        try:
            folder = Path(str(item.fspath)).resolve().relative_to(TESTS).parts[0]
        except ValueError:
            folder = ""
        tier = FOLDER_TIERS.get(folder)
        if tier is not None:
            item.add_marker(tier)
        # `convert` (the convert extra) is the older name of the paddle tier
        if item.get_closest_marker("convert") is not None or PADDLE_FIXTURES & set(item.fixturenames):
            item.add_marker("paddle")
    if config.getoption("fast"):
        keep, slow = [], []
        for item in items:
            (slow if any(item.get_closest_marker(t) is not None for t in SLOW_TIERS) else keep).append(item)
        if slow:
            config.hook.pytest_deselected(items=slow)
            items[:] = keep


@pytest.fixture
def convert_extra() -> None:
    """Ask for it in a test that needs the converter (Paddle, paddle2onnx, onnx, paddleclas): the test is then in the
    paddle tier, and skips where the convert extra is missing."""
    require_convert_extra()


@pytest.fixture(autouse=True)
def _loopback_only():
    GUARD.take_blocked()
    yield
    blocked = GUARD.take_blocked()
    if blocked:
        pytest.fail(f"this test tried to reach beyond 127.0.0.1 (tests/netguard.py): {blocked}", pytrace=False)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Never touch the user's model cache."""
    monkeypatch.setenv("IMGCLS_ONNX_HOME", str(tmp_path_factory.getbasetemp() / "home"))
    # no test may reach PaddleX's server: official fetches go to a closed loopback port unless a test serves them
    monkeypatch.setenv("IMGCLS_ONNX_MODEL_SOURCE", "http://127.0.0.1:9/no-network-in-tests")


@pytest.fixture(params=DECODERS)
def decoder(request):
    """Run the test once with each image decoder (pytestmark = pytest.mark.usefixtures("decoder"))."""
    with use_decoder(request.param) as name:
        yield name


@pytest.fixture(scope="module")
def clf(tmp_path_factory):
    """A Classifier over a tiny 6-class bundle (32 px) on one thread, one per test module."""
    from imgcls_onnx import Classifier

    d = tiny_bundle(tmp_path_factory.mktemp("m") / "m", num_classes=6, seed=4)
    with Classifier.from_dir(d, device="cpu", threads=1) as c:
        yield c


@pytest.fixture(scope="session")
def realdata() -> Path:
    return need(REALDATA)


@pytest.fixture(scope="session")
def reference() -> Path:
    return need(REFERENCE)


@pytest.fixture(scope="session")
def orientation_bundle(tmp_path_factory) -> Path:
    """The real PULC text-image orientation model as a PaddleX-style bundle written by our runtime."""
    return write_orientation_bundle(tmp_path_factory.mktemp("bundles") / "orientation")


@pytest.fixture(scope="session")
def orientation_classifier(orientation_bundle):
    from imgcls_onnx import Classifier

    with Classifier.from_dir(orientation_bundle, device="cpu", threads=2) as clf:
        yield clf
