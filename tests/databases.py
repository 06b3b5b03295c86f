"""Databases for tests and benchmarks: a scratch PostgreSQL schema, and small store helpers.

Shared by tests/conftest.py, the daemon tests and bench/, so that each writes none of it again.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import psycopg

from redline.storage import Article, open_store

PG_URL = os.environ.get("REDLINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@contextmanager
def scratch_schema(base: str = PG_URL, prefix: str = "t", *, keep: bool = False) -> Iterator[str]:
    """A new PostgreSQL schema, dropped afterwards unless `keep`; yields a database URL that
    selects it."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    try:
        yield f"{base}?schema={name}"
    finally:
        if not keep:
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {name} CASCADE")


def track(db_url: str, urls: list[str]) -> None:
    """Add these URLs through the Store API."""
    store = open_store(db_url)
    try:
        now = datetime.now(UTC)
        for url in urls:
            store.add_article(url, now)
    finally:
        store.close()


def articles(db_url: str, urls: list[str]) -> dict[str, Article]:
    store = open_store(db_url)
    try:
        return {u: store.get_article(u) for u in urls}
    finally:
        store.close()


def revision_counts(db_url: str, urls: list[str]) -> dict[str, int]:
    return {u: a.revision_count for u, a in articles(db_url, urls).items()}
