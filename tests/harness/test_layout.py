"""The suite's own layout (issue 31): each package imgcls_onnx/X/ has its tests in tests/X/, and test code reaches
the shared library through the helpers package, never by importing conftest."""
from __future__ import annotations

import ast

from helpers import ROOT

PKG = ROOT / "imgcls_onnx"
TESTS = ROOT / "tests"
DATA_ONLY = {"data"}  # a package that holds only data files (the ImageNet label list), no code to test


def packages():
    return sorted(p.parent.name for p in PKG.glob("*/__init__.py") if p.parent.name not in DATA_ONLY)


def test_each_package_has_its_tests_beside_it():
    missing = [name for name in packages() if not list((TESTS / name).glob("test_*.py"))]
    assert packages() and missing == []


def test_no_test_code_imports_conftest():
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if "conftest" in names:
                offenders.append(str(path.relative_to(TESTS)))
    assert offenders == []
