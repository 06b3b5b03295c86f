"""Imports point downward only: redline -> scheduler -> crawler -> storage (DESIGN.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

LAYERS = ["storage", "crawler", "scheduler", "redline"]  # bottom to top


def layer_of(module: str) -> str:
    """`redline.storage.model` is in the storage layer; `redline.web` in redline's."""
    parts = module.split(".")
    if parts[0] == "redline" and len(parts) > 1 and parts[1] in LAYERS[:-1]:
        return parts[1]
    return parts[0]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def imported_packages(path: Path) -> set[str]:
    return {layer_of(m) for m in imported_modules(path)} & set(LAYERS)


@pytest.mark.parametrize("layer", LAYERS)
def test_imports_point_down(layer):
    allowed = set(LAYERS[: LAYERS.index(layer) + 1])
    offenders = {
        str(path.relative_to(REPO)): sorted(imported_packages(path) - allowed)
        for path in (REPO / layer).rglob("*.py")
        if imported_packages(path) - allowed
    }
    assert offenders == {}, f"{layer} must not import from layers above it"


def test_every_import_names_the_redline_namespace():
    """The wheel installs one top-level package, `redline`: `import storage` would work in the
    repository and fail installed (and load the module twice beside `redline.storage`)."""
    bare = {
        str(path.relative_to(REPO)): sorted(
            m for m in imported_modules(path) if m.split(".")[0] in LAYERS[:-1]
        )
        for folder in ("redline", "tests", "bench", *LAYERS[:-1])
        for path in (REPO / folder).rglob("*.py")
        if any(m.split(".")[0] in LAYERS[:-1] for m in imported_modules(path))
    }
    assert bare == {}


def test_nothing_below_redline_reads_the_environment():
    readers = [
        str(path.relative_to(REPO))
        for layer in LAYERS[:-1]
        for path in (REPO / layer).rglob("*.py")
        if "os.environ" in path.read_text(encoding="utf-8")
        or "getenv(" in path.read_text(encoding="utf-8")
    ]
    assert readers == [], "configuration is read once, in redline/, and passed down"
