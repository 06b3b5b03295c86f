"""Imports point downward only: redline -> scheduler -> crawler -> storage (DESIGN.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

LAYERS = ["storage", "crawler", "scheduler", "redline"]  # bottom to top


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(LAYERS)


@pytest.mark.parametrize("layer", LAYERS)
def test_imports_point_down(layer):
    allowed = set(LAYERS[: LAYERS.index(layer) + 1])
    offenders = {
        str(path.relative_to(REPO)): sorted(imported_packages(path) - allowed)
        for path in (REPO / layer).rglob("*.py")
        if imported_packages(path) - allowed
    }
    assert offenders == {}, f"{layer} must not import from layers above it"


def test_nothing_below_redline_reads_the_environment():
    readers = [
        str(path.relative_to(REPO))
        for layer in LAYERS[:-1]
        for path in (REPO / layer).rglob("*.py")
        if "os.environ" in path.read_text(encoding="utf-8")
        or "getenv(" in path.read_text(encoding="utf-8")
    ]
    assert readers == [], "configuration is read once, in redline/, and passed down"
