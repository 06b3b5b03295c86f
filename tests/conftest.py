"""Shared fixtures. Every storage test takes `store`, which runs once on SQLite and once on
PostgreSQL (127.0.0.1:5432, database `test`, a fresh schema per test). Without a server, the
PostgreSQL runs are skipped locally and fail under CI=true."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from redline.storage import open_store
from redline.storage.sqlstore import SqlStore
from tests.databases import PG_URL, scratch_schema

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _pg_reachable() -> str | None:
    try:
        with psycopg.connect(PG_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {PG_URL}: {str(exc).strip().splitlines()[0]}"


_PG_PROBLEM = _pg_reachable()


def require_pg() -> None:
    if _PG_PROBLEM is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{_PG_PROBLEM} (under CI=true PostgreSQL is required)")
    pytest.skip(_PG_PROBLEM)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema, dropped afterwards; yields a database URL that selects it."""
    require_pg()
    with scratch_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL for a new, empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'redline.sqlite'}"
    return request.getfixturevalue("pg_schema")


@pytest.fixture
def store(db_url: str) -> Iterator[SqlStore]:
    s = open_store(db_url)
    try:
        yield s
    finally:
        s.close()
