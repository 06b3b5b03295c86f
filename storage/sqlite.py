"""The embedded default backend: one SQLite file, WAL journal, `synchronous=FULL`.

One connection per store, guarded by a lock, so a store can be shared by threads. Writers take
the database lock up front (`BEGIN IMMEDIATE`), which serialises concurrent writers from any number
of processes; `busy_timeout` makes them wait for each other instead of failing.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from redline.storage import codec, delta
from redline.storage.errors import DatabaseUnavailable, DiskFull, SchemaError, StorageError
from redline.storage.migrations import migrations
from redline.storage.sqlstore import SqlStore, Tx
from redline.storage.sqlstore.search import SEARCH_SCHEMA

BUSY_TIMEOUT_MS = 30_000
_PAGE_PRAGMAS = ("page_count", "freelist_count", "page_size")


class _SqliteTx(Tx):
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._conn.execute(sql, tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._conn.executemany(sql, rows)


def _connect(path: Path) -> sqlite3.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.Error as exc:
        raise _convert(exc, path) from exc
    except OSError as exc:
        raise DatabaseUnavailable(f"cannot open SQLite database {path}: {exc}") from exc
    if mode.lower() != "wal":
        raise DatabaseUnavailable(f"cannot switch {path} to WAL journal mode (got {mode})")
    return conn


class SqliteStore(SqlStore):
    BACKEND = "sqlite"
    SEARCH_MATCH = (
        "SELECT a.article_id, a.number, a.piece FROM revision_search s"
        " JOIN search_added a ON a.id = s.rowid WHERE revision_search MATCH ?"
    )
    # Unused while SEARCH_RARE is None (FTS5 lists every match quickly): kept for the hook.
    SEARCH_ARTICLES = (
        "a.id IN (SELECT x.article_id FROM revision_search s"
        " JOIN search_added x ON x.id = s.rowid WHERE revision_search MATCH ?)"
    )
    SEARCH_SYNTAX = "fts5"

    def __init__(self, path: str | Path, *, keyframe_every: int = delta.KEYFRAME_EVERY) -> None:
        self.keyframe_every = delta.check_keyframe_every(keyframe_every)
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self._lock = threading.RLock()
        self._conn = _connect(self.path)

    @contextmanager
    def _tx(self, write: bool = False) -> Iterator[Tx]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield _SqliteTx(self._conn)
                except BaseException:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise _convert(exc, self.path) from exc

    def _ts(self, value: datetime | None) -> str | None:
        return codec.format_time(value)

    def _dt(self, value: Any) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)

    def _day(self, value: date) -> str:
        return value.isoformat()

    def _table_sizes(self, tx: Tx) -> tuple[dict[str, int], dict[str, int], int]:
        """Bytes per table from the dbstat virtual table (each index, and each FTS5 shadow
        table, counted with its table); without dbstat, only the total is known."""
        pages, free, page_size = (tx.one(f"PRAGMA {p}")[0] for p in _PAGE_PRAGMAS)
        total = (pages - free) * page_size
        tables = tx.all("SELECT name, tbl_name, sql FROM sqlite_master")
        owner = {r["name"]: r["tbl_name"] for r in tables}
        virtual = [r["name"] for r in tables if (r["sql"] or "").startswith("CREATE VIRTUAL")]
        try:
            rows = tx.all("SELECT name, sum(pgsize) AS size FROM dbstat GROUP BY name")
        except sqlite3.OperationalError:  # built without SQLITE_ENABLE_DBSTAT_VTAB
            return {"(all tables)": total}, {}, total
        sizes: dict[str, int] = {}
        for row in rows:
            name = owner.get(row["name"], row["name"])
            name = next((v for v in virtual if name.startswith(f"{v}_")), name)
            sizes[name] = sizes.get(name, 0) + int(row["size"])
        return sizes, {}, total

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def pragma(self, name: str) -> Any:
        with self._lock:
            return self._conn.execute(f"PRAGMA {name}").fetchone()[0]

    # --- schema -----------------------------------------------------------------------------------
    def schema_version(self) -> int:
        with self._tx() as tx:
            if tx.one("SELECT name FROM sqlite_master WHERE name = 'schema_version'") is None:
                return 0
            return int(tx.one("SELECT coalesce(max(version), 0) AS v FROM schema_version")["v"])

    def is_empty(self) -> bool:
        with self._tx() as tx:
            return bool(tx.one("SELECT count(*) AS n FROM sqlite_master")["n"] == 0)

    def upgrade(self) -> list[int]:
        applied = []
        for migration in migrations(self.BACKEND):
            current = self.schema_version()
            if current == 0 and not self.is_empty():
                raise SchemaError(
                    f"{self.path} holds tables but no Redline schema: refusing to initialise it"
                )
            if migration.version <= current:
                continue
            stamp = codec.format_time(datetime.now(UTC))
            script = (
                "BEGIN IMMEDIATE;\n"
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);\n"
                f"{migration.sql}\n"
                f"INSERT INTO schema_version VALUES ({migration.version}, '{stamp}');\n"
                "COMMIT;"
            )
            with self._lock:
                try:
                    self._conn.executescript(script)
                except sqlite3.Error as exc:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise StorageError(f"migration {migration.name} failed: {exc}") from exc
            applied.append(migration.version)
        if self.schema_version() >= SEARCH_SCHEMA:
            self.backfill_search()
        return applied


def _convert(exc: sqlite3.Error, path: Path) -> StorageError:
    message = str(exc)
    if isinstance(exc, sqlite3.DatabaseError) and "not a database" in message:
        return DatabaseUnavailable(f"{path} is not a SQLite database (or it is corrupt)")
    if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in message:
        return DiskFull(f"SQLite database {path}: {message}")
    if isinstance(exc, sqlite3.OperationalError) and (
        "locked" in message or "unable to open" in message or "disk" in message
    ):
        return DatabaseUnavailable(f"SQLite database {path}: {message}")
    return StorageError(f"SQLite database {path}: {message}")
