"""The PostgreSQL backend: psycopg 3 with a connection pool.

Claims use `FOR UPDATE SKIP LOCKED` so that several workers share the due queue without waiting
on each other; `record` locks the article row so that two writers for one article append their
revisions one after the other. Connections are checked before use, so a restarted server costs
a failed call (DatabaseUnavailable) and then works again, without restarting the process.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from redline.storage import codec, delta
from redline.storage.errors import DatabaseUnavailable, DiskFull, SchemaError, StorageError
from redline.storage.migrations import migrations
from redline.storage.open import mask_url
from redline.storage.sqlstore import SqlStore, Tx
from redline.storage.sqlstore.search import SEARCH_SCHEMA

_MIGRATION_LOCK = 0x7265646C696E65  # "redline": one migrator at a time across the cluster
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@lru_cache(maxsize=512)
def _placeholders(sql: str) -> str:
    """Our queries use `?`; psycopg wants `%s` (no query here contains a literal % or ?)."""
    return sql.replace("?", "%s")


class _PgTx(Tx):
    def __init__(self, conn: psycopg.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._conn.execute(_placeholders(sql), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._conn.cursor() as cur:
            cur.executemany(_placeholders(sql), rows)


def split_schema(url: str) -> tuple[str, str | None]:
    """Take our own `schema=` query parameter off a postgresql:// URL (libpq does not know it)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


class PostgresStore(SqlStore):
    BACKEND = "postgres"
    FOR_UPDATE = " FOR UPDATE"
    SKIP_LOCKED = " SKIP LOCKED"
    SEARCH_MATCH = (
        "SELECT article_id, number, piece FROM revision_search"
        " WHERE document @@ to_tsquery('simple', ?)"
    )
    # For a common word: articles in index order, each tested down its own pieces.
    SEARCH_ARTICLES = (
        "EXISTS (SELECT 1 FROM revision_search s WHERE s.article_id = a.id"
        " AND s.document @@ to_tsquery('simple', ?))"
    )
    SEARCH_RARE = 500
    SEARCH_SYNTAX = "tsquery"
    SEARCH_SETUP = ("SET LOCAL jit = off",)  # a search's cost estimate would invite JIT

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str | None = None,
        max_size: int = 8,
        connect_timeout: float = 5.0,
        keyframe_every: int = delta.KEYFRAME_EVERY,
    ) -> None:
        self.keyframe_every = delta.check_keyframe_every(keyframe_every)
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise StorageError(f"invalid schema name {schema!r}")
        self.url = mask_url(conninfo)  # every password form masked, in every message below
        self.schema = schema
        kwargs: dict[str, Any] = {
            "row_factory": dict_row,
            "connect_timeout": int(connect_timeout),
            "autocommit": True,  # transactions are explicit: `_tx` opens one, `_read` none
        }
        if schema:
            kwargs["options"] = f"-c search_path={schema}"
        try:  # one direct attempt first: a clear reason, and no pool retry noise when it fails
            with psycopg.connect(conninfo, **kwargs) as probe:
                database = probe.info.dbname
                missing = schema is not None and not _schema_exists(probe, schema)
        except psycopg.Error as exc:
            raise DatabaseUnavailable(
                f"cannot connect to PostgreSQL at {self.url}: {_first_line(exc)}"
            ) from exc
        if missing:  # not created here: a typo in ?schema= must not make a second, empty store
            raise SchemaError(
                f'PostgreSQL schema "{schema}" does not exist in database "{database}": '
                f"create it with `CREATE SCHEMA {schema};` (as a role allowed to create "
                "schemas, then GRANT USAGE, CREATE to Redline's role), or fix ?schema= in "
                "the database URL"
            )
        self._pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=max_size,
            kwargs=kwargs,
            open=False,
            timeout=connect_timeout,
            reconnect_timeout=60,
            name="redline",
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout)
        except (PoolTimeout, psycopg.Error) as exc:
            self._pool.close()
            raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {self.url}") from exc

    @contextmanager
    def _tx(self, write: bool = False) -> Iterator[Tx]:
        # A write runs in pipeline mode: statements whose answer is not read (the inserts and
        # updates of a record) go out without waiting for each other.
        with (
            self._errors(),
            self._pool.connection() as conn,
            conn.pipeline() if write else nullcontext(),
            conn.transaction(),
        ):
            yield _PgTx(conn)

    @contextmanager
    def _read(self) -> Iterator[Tx]:
        """No transaction (connections are in autocommit mode): one round trip per query
        instead of three, for reads of rows that never change once written."""
        with self._errors(), self._pool.connection() as conn:
            yield _PgTx(conn)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except PoolTimeout as exc:
            raise DatabaseUnavailable(f"PostgreSQL at {self.url} is not answering") from exc
        except psycopg.errors.DiskFull as exc:  # SQLSTATE 53100: the server's disk is full
            raise DiskFull(f"PostgreSQL at {self.url}: {_first_line(exc)}") from exc
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(f"PostgreSQL at {self.url}: {_first_line(exc)}") from exc
        except psycopg.Error as exc:
            raise StorageError(f"PostgreSQL: {_first_line(exc)}") from exc

    def _ts(self, value: datetime | None) -> datetime | None:
        return None if value is None else codec.to_utc(value)

    def _dt(self, value: Any) -> datetime | None:
        return None if value is None else codec.to_utc(value)

    def _table_sizes(self, tx: Tx) -> tuple[dict[str, int], dict[str, int], int]:
        """Bytes per table with its indexes and TOAST (pg_total_relation_size), and the
        planner's row estimates (-1: never analysed)."""
        rows = tx.all(
            "SELECT c.relname AS name, pg_total_relation_size(c.oid) AS size,"
            " c.reltuples::bigint AS estimate FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relkind = 'r'"
        )
        sizes = {r["name"]: int(r["size"]) for r in rows}
        return sizes, {r["name"]: int(r["estimate"]) for r in rows}, sum(sizes.values())

    def close(self) -> None:
        self._pool.close()

    # --- schema -----------------------------------------------------------------------------------
    def schema_version(self) -> int:
        with self._tx() as tx:
            if tx.one("SELECT to_regclass('schema_version') AS t")["t"] is None:
                return 0
            return int(tx.one("SELECT coalesce(max(version), 0) AS v FROM schema_version")["v"])

    def is_empty(self) -> bool:
        with self._tx() as tx:
            row = tx.one("SELECT count(*) AS n FROM pg_tables WHERE schemaname = current_schema()")
        return bool(row["n"] == 0)

    def upgrade(self) -> list[int]:
        applied = []
        for migration in migrations(self.BACKEND):
            try:
                with self._pool.connection() as conn, conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                    if not self._migrate(conn, migration):
                        continue
            except psycopg.Error as exc:
                problem = _first_line(exc)
                raise StorageError(f"migration {migration.name} failed: {problem}") from exc
            applied.append(migration.version)
        if self.schema_version() >= SEARCH_SCHEMA:
            self.backfill_search()
        return applied

    def _migrate(self, conn: psycopg.Connection[Any], migration: Any) -> bool:
        tx = _PgTx(conn)
        exists = tx.one("SELECT to_regclass('schema_version') AS t")["t"]
        if exists is None:
            tables = tx.one(
                "SELECT count(*) AS n FROM pg_tables WHERE schemaname = current_schema()"
            )["n"]
            if tables:
                raise SchemaError(
                    "the PostgreSQL schema holds tables but no Redline schema: "
                    "refusing to initialise it"
                )
            conn.execute(
                "CREATE TABLE schema_version "
                "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
        current = tx.one("SELECT coalesce(max(version), 0) AS v FROM schema_version")["v"]
        if migration.version <= current:
            return False
        conn.execute(migration.sql)
        conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (migration.version,))
        return True


def _schema_exists(conn: psycopg.Connection[Any], schema: str) -> bool:
    row = conn.execute("SELECT 1 AS one FROM pg_namespace WHERE nspname = %s", (schema,))
    return row.fetchone() is not None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
