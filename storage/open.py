"""Open a store from a database URL and check that its schema is one this version can use."""

from __future__ import annotations

from pathlib import Path

from storage.errors import DatabaseUnavailable, SchemaOutdated, SchemaTooNew
from storage.migrations import latest_version
from storage.sqlstore import SqlStore


def open_store(url: str, *, create: bool = True, check: bool = True) -> SqlStore:
    """`sqlite:///path`, a bare file path, or `postgresql://...` (with an optional `schema=`).

    A new, empty database is initialised when `create` is true. An existing one is never
    re-initialised: an older schema needs `redline db upgrade`, a newer one is refused.
    """
    store = _connect(url)
    try:
        if check:
            check_schema(store, create=create)
    except BaseException:
        store.close()
        raise
    return store


def _connect(url: str) -> SqlStore:
    if url.startswith(("postgresql://", "postgres://")):
        from storage.postgres import PostgresStore, split_schema

        conninfo, schema = split_schema(url)
        return PostgresStore(conninfo, schema=schema)
    if url.startswith("sqlite:///"):
        return _sqlite(Path(url.removeprefix("sqlite:///")))
    if "://" in url:
        raise DatabaseUnavailable(
            f"unsupported database URL {url.split('://')[0]}://... "
            "(use sqlite:///path or postgresql://...)"
        )
    return _sqlite(Path(url))


def _sqlite(path: Path) -> SqlStore:
    from storage.sqlite import SqliteStore

    return SqliteStore(path.expanduser())


def check_schema(store: SqlStore, *, create: bool) -> None:
    latest = latest_version(store.BACKEND)  # type: ignore[attr-defined]
    current = store.schema_version()
    if current > latest:
        raise SchemaTooNew(
            f"the database at {store.url} has schema version {current}, newer than this Redline "
            f"knows ({latest}); upgrade Redline instead"
        )
    if current == 0 and create:
        store.upgrade()
    elif current < latest:
        raise SchemaOutdated(
            f"the database at {store.url} has schema version {current}; this Redline needs "
            f"{latest}: run `redline db upgrade`"
        )
