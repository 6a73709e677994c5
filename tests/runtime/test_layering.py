"""The layering rule of docs/architecture.md, read from the source: no module of a layer imports anything above it
(lazy imports inside functions count too)."""
from __future__ import annotations

import ast

import pytest
from helpers import ROOT

PKG = ROOT / "imgcls_onnx"
ABOVE_RUNTIME = ("imgcls_onnx.converter", "imgcls_onnx.serving", "imgcls_onnx.datasets", "imgcls_onnx.cli",
                 "imgcls_onnx.hub", "imgcls_onnx.api", "click", "paddle", "paddle2onnx", "ppcls", "paddleclas",
                 "onnx", "fastapi", "uvicorn", "matplotlib")
RULES = {
    "runtime": (*ABOVE_RUNTIME, "imgcls_onnx.store", "imgcls_onnx.ray"),
    # the store (getting a model) stands on the runtime; the converter reaches it only as a callback
    "store": ABOVE_RUNTIME,
    "converter": ("imgcls_onnx.serving", "imgcls_onnx.cli", "imgcls_onnx.api", "imgcls_onnx.hub", "click",
                  "fastapi"),
    "serving": ("imgcls_onnx.converter", "imgcls_onnx.cli", "imgcls_onnx.datasets", "paddle", "click"),
    # the Ray engine stands on the hub and the runtime; the CLI calls it, never the other way
    "ray": ("imgcls_onnx.cli", "imgcls_onnx.serving", "imgcls_onnx.converter", "click", "fastapi", "paddle"),
    "datasets": ("imgcls_onnx.converter", "imgcls_onnx.serving", "imgcls_onnx.cli", "imgcls_onnx.hub",
                 "imgcls_onnx.api", "click", "paddle", "fastapi"),
}


def imports_of(path):
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            yield module
            for a in node.names:  # `from . import x` names a module too
                yield f"{module}.{a.name}"


def _forbidden(module, banned):
    return any(module == b or module.startswith(b + ".") for b in banned)


@pytest.mark.parametrize("layer", sorted(RULES))
def test_no_module_imports_above_its_layer(layer):
    files = sorted((PKG / layer).glob("*.py"))
    assert files
    bad = [(f.name, m) for f in files for m in imports_of(f) if _forbidden(m, RULES[layer])]
    assert bad == []


def test_the_rule_catches_a_violation(tmp_path):
    """The checker itself: a relative import of the converter from a runtime-like file is found."""
    fake = ROOT / "imgcls_onnx" / "runtime" / "_layering_probe.py"
    try:
        fake.write_text("def f():\n    from ..converter.pipeline import run_convert\n    import click\n")
        found = [m for m in imports_of(fake) if _forbidden(m, ABOVE_RUNTIME)]
        assert "imgcls_onnx.converter.pipeline" in found and "click" in found
    finally:
        fake.unlink()


def test_web_export_stands_on_the_runtime_alone():
    """export-web runs where only the runtime is installed (the wheel test does it in a runtime-only venv)."""
    bad = [m for m in imports_of(PKG / "web_export.py") if _forbidden(m, ABOVE_RUNTIME)]
    assert bad == []


#: every room of the house on its floor (docs/architecture.md): a module imports its own room or lower floors only
FLOORS = {"runtime": 1, "errors": 2, "store": 2, "datasets": 2, "serving": 2, "converter": 3, "web_export": 3,
          "hub": 4, "api": 5, "ray": 5, "cli": 6}


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "imgcls_onnx" and len(parts) > 1 else None


def _rooms_of_the_package():
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG)
        if rel == rel.parent / "__init__.py" and rel.parent == rel.parent.parent:  # imgcls_onnx/__init__.py: the lazy face
            continue
        yield path, rel.parts[0].removesuffix(".py")


def test_every_room_has_a_floor():
    rooms = {room for _, room in _rooms_of_the_package()} - {"data"}
    assert rooms and rooms <= set(FLOORS), rooms - set(FLOORS)


def test_no_import_runs_up_a_floor():
    """Every package and top-level module (api, hub, cli/, ray/ included), lazy imports inside functions too."""
    bad = []
    for path, room in _rooms_of_the_package():
        for module in imports_of(path):
            target = _room(module)
            if target in FLOORS and room in FLOORS and target != room and FLOORS[target] >= FLOORS[room]:
                bad.append((str(path.relative_to(ROOT)), module))
    assert bad == []
