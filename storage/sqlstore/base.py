"""The shared SQL store: the transaction interface each backend provides, constants, and
the hooks a backend fills in."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

from redline.storage.errors import InvalidInput

_BATCH = 200
RECENT = timedelta(days=7)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CLAIM_COLUMNS = (
    "id, url, site, next_check_at, etag, last_modified, revision_count, latest_hash, is_live,"
    " first_seen, last_changed_at, raw_hash, memory, missing_count, status, error_count,"
    " flip_hash, flip_count, source_id"
)
_ARTICLE_COLUMNS = (
    "id, url, site, first_seen, status, is_live, source_id, next_check_at, last_checked_at, "
    "last_changed_at, revision_count, etag, last_modified, error_count, last_error, paused"
)


class Tx(ABC):
    """One open transaction: the only way the shared logic touches a connection."""

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(self.execute(sql, params).fetchall())

    @abstractmethod
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


def pairs_cte(count: int) -> str:
    """`WITH wanted (article_id, number) AS (VALUES ...)` for `count` (article id, revision
    number) pairs, to join on: SQLite scans the whole table for a row-value IN list, and
    looks each pair up down the index for a join."""
    return "WITH wanted (article_id, number) AS (VALUES " + ", ".join(["(?, ?)"] * count) + ")"


def validate_url(url: str) -> str:
    """Only absolute http(s) URLs without control characters can be tracked."""
    if any(ord(c) < 0x21 or c == "\x7f" for c in url):
        raise InvalidInput(f"not a URL (contains whitespace or control characters): {url!r}")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"only http and https URLs can be tracked, not {url!r}")
    return url


def site_of(url: str) -> str:
    """The site the store keys an article by: its host, lower case, without "www."; a bare
    host ("www.Example.com") is read as one, so that a filter names sites as the store does."""
    host = (urlsplit(url if "://" in url else f"http://{url.strip()}").hostname or "").lower()
    return host.removeprefix("www.")


class SqlBase(ABC):
    """Everything a Store does, over a backend-supplied transaction."""

    url: str
    FOR_UPDATE: ClassVar[str] = ""
    SKIP_LOCKED: ClassVar[str] = ""

    # --- backend hooks --------------------------------------------------------------------------
    @abstractmethod
    def _tx(self, write: bool = False) -> AbstractContextManager[Tx]: ...

    def _read(self) -> AbstractContextManager[Tx]:
        """For reads of rows that never change once written (revisions): a backend may run
        them without a transaction."""
        return self._tx()

    @abstractmethod
    def _ts(self, value: datetime | None) -> Any:
        """A time as the backend stores it."""

    @abstractmethod
    def _dt(self, value: Any) -> datetime | None:
        """A stored time back as an aware UTC datetime."""

    def _at(self, value: Any) -> datetime:
        """A stored time that a NOT NULL column guarantees."""
        moment = self._dt(value)
        if moment is None:
            raise ValueError("a required time is missing")
        return moment

    @abstractmethod
    def schema_version(self) -> int: ...

    @abstractmethod
    def upgrade(self) -> list[int]: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> SqlBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
