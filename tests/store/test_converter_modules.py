"""The one list of what converting needs, probed by name: nothing is imported, a missing module is named in order."""
from __future__ import annotations

import subprocess
import sys

from helpers import ROOT

from imgcls_onnx.store.converter_modules import (
    ARCHITECTURE_MODULES,
    CONVERTER_MODULES,
    converter_available,
    missing_converter_modules,
)


def test_a_missing_module_is_named_and_the_list_is_kept_in_order():
    modules = {"json": "stdlib", "imgcls_no_such_module_a": "a", "imgcls.no_such.b": "b", "os": "stdlib"}
    assert missing_converter_modules(modules) == ["imgcls_no_such_module_a", "imgcls.no_such.b"]
    assert missing_converter_modules({}) == []


def test_one_list_the_architectures_extend_it():
    assert list(CONVERTER_MODULES) == ["paddle", "paddle2onnx", "onnx"]
    assert ARCHITECTURE_MODULES == {**CONVERTER_MODULES, "paddleclas": "paddleclas"}
    assert converter_available() == (missing_converter_modules() == [])


def test_probing_imports_nothing():
    code = ("import sys\nfrom imgcls_onnx.store.converter_modules import missing_converter_modules, ARCHITECTURE_MODULES\n"
            "missing_converter_modules(ARCHITECTURE_MODULES)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('paddle', 'paddle2onnx', 'onnx', 'paddleclas', "
            "'numpy')))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
