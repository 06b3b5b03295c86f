"""Numbered SQL migrations, one folder per backend: `NNNN_name.sql`, applied in order.

Each migration runs in its own transaction together with the `schema_version` row that records
it, so a crash mid-migration leaves the database at the old version or the new one, never between.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations(backend: str) -> list[Migration]:
    """The migrations shipped for `backend` ("sqlite" or "postgres"), oldest first."""
    found = []
    for entry in resources.files(__package__).joinpath(backend).iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{backend} migrations are not numbered 1..n: {versions}")
    return found


def latest_version(backend: str) -> int:
    return len(migrations(backend))
