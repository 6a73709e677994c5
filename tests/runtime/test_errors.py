"""Error names: ``ManifestError`` is only an importable alias of ``BundleError``; the package raises ``BundleError``."""
from __future__ import annotations

import re
from pathlib import Path

import imgcls_onnx
from imgcls_onnx.runtime.errors import BundleError, ImgclsError, ManifestError

PACKAGE = Path(imgcls_onnx.__file__).parent

#: the only lines in the package that may name the old alias: its definition and the top-level lazy name
ALIAS_LINES = {
    ("runtime/errors.py", "ManifestError = BundleError"),
    ("__init__.py", '_OLD_NAMES = {"ManifestError": "BundleError"}'),
}


def test_manifest_error_is_bundle_error_and_importable_from_both_places():
    assert ManifestError is BundleError
    assert imgcls_onnx.ManifestError is BundleError
    assert imgcls_onnx.BundleError is BundleError
    assert issubclass(BundleError, ImgclsError)
    assert "ManifestError" not in imgcls_onnx.__all__


def test_no_module_raises_or_names_manifest_error():
    named = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\bManifestError\b", line) and (rel, line.strip()) not in ALIAS_LINES:
                named.append(f"{rel}:{n}: {line.strip()}")
    assert not named, "raise and catch BundleError; ManifestError is only the old alias:\n" + "\n".join(named)
    found = {(rel, text) for rel, text in ALIAS_LINES
             if text in (PACKAGE / rel).read_text(encoding="utf-8").splitlines()}
    assert found == ALIAS_LINES  # the alias lines themselves are still there (the allowance is not stale)
