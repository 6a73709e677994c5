"""Ray itself, as the package imports it: the real ``ray`` (the package's own name is ``imgcls_onnx.ray``), and the
workaround for a failing import that Ray Data retries per path."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="the ray extra is needed (./scripts/test installs it)")

from imgcls_onnx.ray import compat  # noqa: E402


def test_import_ray_inside_the_package_is_the_real_ray():
    got = compat.ray_module()
    assert got is ray and got.__name__ == "ray" and callable(got.init)
    assert "imgcls_onnx" not in Path(got.__file__).parts
    compat.quiet_ray_data()
    assert "imgcls_onnx" not in Path(sys.modules["ray.data"].__file__).parts


def test_path_resolution_runs_a_failing_fsspec_import_once(monkeypatch):
    """fsspec without aiohttp (what `ray[data]` installs): Ray Data imports fsspec's HTTP filesystem module once per
    path, and a failed import is retried each time (reports/ray.md). After `remember_failed_http_import` (which the
    plan calls) the module is executed at most once for 300 paths."""
    import importlib.abc

    from ray.data.datasource.path_util import _resolve_paths_and_filesystem

    pytest.importorskip("fsspec")
    attempts = []

    class NoAiohttp(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "fsspec.implementations.http":
                attempts.append(name)
            if name == "aiohttp" or name.startswith("aiohttp."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    for name in [m for m in sys.modules if m == "aiohttp" or m.startswith(("aiohttp.", "fsspec.implementations.http"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [NoAiohttp(), *sys.meta_path])
    paths = [f"/data/img_{i}.jpg" for i in range(300)]
    _resolve_paths_and_filesystem(paths[:20])
    assert len(attempts) == 20  # the defect this guards against: one import per path
    attempts.clear()
    try:
        compat.remember_failed_http_import()
        resolved, _ = _resolve_paths_and_filesystem(paths)
    finally:
        sys.modules.pop("fsspec.implementations.http", None)  # the real environment's state comes back
    assert resolved == paths
    assert len(attempts) <= 1
