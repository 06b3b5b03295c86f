"""The `Store` logic shared by both SQL backends: every query lives here, written once.

Queries use `?` placeholders; the PostgreSQL backend rewrites them. A backend supplies a
transaction (`_tx`), the conversion of times to and from its column type, and two locking
clauses. Nothing in this module knows which database it talks to.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

from storage import codec
from storage.base import Compare
from storage.errors import InvalidInput, NotFound, StorageError
from storage.model import (
    Alert,
    AlertStatus,
    Article,
    ArticleStatus,
    Change,
    ChangeClass,
    ChangeKind,
    ChangeSummary,
    Claim,
    Event,
    EventKind,
    FetchResult,
    Outcome,
    Page,
    PageKind,
    RecordResult,
    Revision,
    RevisionInfo,
    Source,
    SourceKind,
)

_BATCH = 200
RECENT = timedelta(days=7)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EVENT_ALERTS = {
    EventKind.GONE: "article_removed",
    EventKind.MOVED: "article_moved",
    EventKind.BACK: "article_back",
}
_CLAIM_COLUMNS = (
    "id, url, site, next_check_at, etag, last_modified, revision_count, latest_hash, is_live,"
    " first_seen, last_changed_at, raw_hash, memory, missing_count, status, error_count"
)
_STATE_EVENTS = frozenset({EventKind.GONE, EventKind.UNAVAILABLE})
_ARTICLE_COLUMNS = (
    "id, url, site, first_seen, status, is_live, source_id, next_check_at, last_checked_at, "
    "last_changed_at, revision_count, etag, last_modified, error_count, last_error"
)


@dataclass(frozen=True, slots=True)
class _Encoded:
    """A fetch's page hash, and its stored forms when a revision is expected: computed before
    the transaction opens, so that a write lock is never held while compressing."""

    page_hash: str | None = None
    page_blob: bytes | None = None
    raw_blob: bytes | None = None

    @classmethod
    def of(cls, result: FetchResult) -> _Encoded:
        page = result.page
        if page is None or page.kind is PageKind.NOT_ARTICLE:
            return cls()
        if result.changes or result.base_revision == 0:  # the caller expects a revision
            digest, blob = codec.hash_and_encode(page)
            return cls(digest, blob, _raw(result))
        return cls(codec.content_hash(page))

    def complete(self, result: FetchResult) -> _Encoded:
        if self.page_blob is not None or result.page is None:
            return self
        return _Encoded(self.page_hash, codec.encode_page(result.page), _raw(result))


def _raw(result: FetchResult) -> bytes | None:
    return None if result.raw_html is None else codec.compress_html(result.raw_html)


class Tx(ABC):
    """One open transaction: the only way the shared logic touches a connection."""

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self.execute(sql, params).fetchall()

    @abstractmethod
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


def validate_url(url: str) -> str:
    """Only absolute http(s) URLs without control characters can be tracked."""
    if any(ord(c) < 0x21 or c == "\x7f" for c in url):
        raise InvalidInput(f"not a URL (contains whitespace or control characters): {url!r}")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"only http and https URLs can be tracked, not {url!r}")
    return url


def site_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


class SqlStore(ABC):
    """Everything a Store does, over a backend-supplied transaction."""

    url: str
    FOR_UPDATE: ClassVar[str] = ""
    SKIP_LOCKED: ClassVar[str] = ""

    # --- backend hooks --------------------------------------------------------------------------
    @abstractmethod
    def _tx(self, write: bool = False) -> AbstractContextManager[Tx]: ...

    @abstractmethod
    def _ts(self, value: datetime | None) -> Any:
        """A time as the backend stores it."""

    @abstractmethod
    def _dt(self, value: Any) -> datetime | None:
        """A stored time back as an aware UTC datetime."""

    @abstractmethod
    def schema_version(self) -> int: ...

    @abstractmethod
    def upgrade(self) -> list[int]: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- sources --------------------------------------------------------------------------------
    def add_source(
        self,
        url: str,
        kind: SourceKind,
        every_seconds: int,
        now: datetime,
        pattern: str | None = None,
    ) -> tuple[Source, bool]:
        validate_url(url)
        if every_seconds <= 0:
            raise InvalidInput("a source's interval must be positive")
        with self._tx(write=True) as tx:
            row = tx.one(
                "INSERT INTO sources (url, kind, every_seconds, pattern, next_check_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (url) DO NOTHING RETURNING id",
                (url, str(SourceKind(kind)), every_seconds, pattern, self._ts(now)),
            )
            created = row is not None
            found = tx.one("SELECT * FROM sources WHERE url = ?", (url,))
        return self._source(found), created

    def list_sources(self) -> list[Source]:
        with self._tx() as tx:
            return [self._source(r) for r in tx.all("SELECT * FROM sources ORDER BY id")]

    def _source(self, row: Any) -> Source:
        return Source(
            id=row["id"],
            url=row["url"],
            kind=SourceKind(row["kind"]),
            every_seconds=row["every_seconds"],
            pattern=row["pattern"],
            enabled=bool(row["enabled"]),
            next_check_at=self._dt(row["next_check_at"]),
            last_checked_at=self._dt(row["last_checked_at"]),
            last_error=row["last_error"],
        )

    def claim_due_sources(
        self,
        now: datetime,
        owner: str,
        *,
        limit: int,
        lease_seconds: float,
    ) -> list[Source]:
        """Lease due discovery sources: with several workers, each runs once per interval."""
        until = now + timedelta(seconds=lease_seconds)
        with self._tx(write=True) as tx:
            rows = tx.all(
                "UPDATE sources SET lease_owner = ?, lease_until = ? WHERE id IN ("
                " SELECT id FROM sources WHERE enabled = ? AND next_check_at <= ?"
                " AND (lease_until IS NULL OR lease_until < ?)"
                f" ORDER BY next_check_at, id LIMIT ?{self.FOR_UPDATE}{self.SKIP_LOCKED})"
                " RETURNING *",
                (owner, self._ts(until), True, self._ts(now), self._ts(now), limit),
            )
        return sorted((self._source(r) for r in rows), key=lambda s: s.id)

    def record_source_check(
        self,
        source_id: int,
        owner: str,
        now: datetime,
        *,
        error: str | None = None,
    ) -> None:
        with self._tx(write=True) as tx:
            row = tx.one("SELECT every_seconds FROM sources WHERE id = ?", (source_id,))
            if row is None:
                raise NotFound(f"no source with id {source_id}")
            tx.execute(
                "UPDATE sources SET last_checked_at = ?, next_check_at = ?, last_error = ?,"
                " lease_owner = NULL, lease_until = NULL WHERE id = ? AND"
                " (lease_owner IS NULL OR lease_owner = ?)",
                (
                    self._ts(now),
                    self._ts(now + timedelta(seconds=row["every_seconds"])),
                    codec.clean_optional(error),
                    source_id,
                    owner,
                ),
            )

    def latest_page(self, article_id: int) -> Page | None:
        with self._tx() as tx:
            row = tx.one(
                "SELECT page FROM revisions WHERE article_id = ? ORDER BY number DESC LIMIT 1",
                (article_id,),
            )
        return None if row is None else codec.decode_page(row["page"])

    def site_memory(self, site: str) -> str | None:
        with self._tx() as tx:
            row = tx.one("SELECT memory FROM site_memory WHERE site = ?", (site,))
        return None if row is None else row["memory"]

    def save_site_memory(self, site: str, memory: str) -> None:
        """Last writer wins: site memory is a hint that only makes extraction better."""
        with self._tx(write=True) as tx:
            tx.execute(
                "INSERT INTO site_memory (site, memory) VALUES (?, ?) "
                "ON CONFLICT (site) DO UPDATE SET memory = excluded.memory",
                (site, codec.clean_text(memory)),
            )

    def queue_status(self, now: datetime) -> dict[str, Any]:
        """What `redline status` shows: due now, upcoming checks, errors by host."""
        with self._tx() as tx:
            due = tx.one(
                "SELECT count(*) AS n FROM articles WHERE status = 'active' AND next_check_at <= ?",
                (self._ts(now),),
            )["n"]
            counts = tx.all("SELECT status, count(*) AS n FROM articles GROUP BY status")
            upcoming = tx.all(
                "SELECT url, next_check_at FROM articles WHERE status = 'active' AND "
                "next_check_at > ? ORDER BY next_check_at LIMIT 10",
                (self._ts(now),),
            )
            errors = tx.all(
                "SELECT site, count(*) AS n, max(last_error) AS last_error FROM articles "
                "WHERE error_count > 0 GROUP BY site ORDER BY count(*) DESC, site LIMIT 20"
            )
            leased = tx.one(
                "SELECT count(*) AS n FROM articles WHERE lease_until > ?", (self._ts(now),)
            )["n"]
        return {
            "due_now": due,
            "leased": leased,
            "by_status": {r["status"]: r["n"] for r in counts},
            "next_checks": [(r["url"], self._dt(r["next_check_at"])) for r in upcoming],
            "errors_by_host": [(r["site"], r["n"], r["last_error"]) for r in errors],
        }

    # --- articles -------------------------------------------------------------------------------
    def add_article(
        self,
        url: str,
        now: datetime,
        *,
        source_id: int | None = None,
        is_live: bool = False,
    ) -> tuple[Article, bool]:
        validate_url(url)
        with self._tx(write=True) as tx:
            known = tx.one("SELECT article_id FROM article_urls WHERE url = ?", (url,))
            if known is not None:
                return self._article_by_id(tx, known["article_id"]), False
            row = tx.one(
                "INSERT INTO articles (url, site, first_seen, is_live, source_id, next_check_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (url) DO NOTHING RETURNING id",
                (url, site_of(url), self._ts(now), is_live, source_id, self._ts(now)),
            )
            if row is None:  # another writer added it a moment ago
                row = tx.one("SELECT id FROM articles WHERE url = ?", (url,))
                return self._article_by_id(tx, row["id"]), False
            tx.execute("INSERT INTO article_urls (url, article_id) VALUES (?, ?)", (url, row["id"]))
            tx.execute(
                "INSERT INTO events (article_id, at, kind, detail) VALUES (?, ?, ?, ?)",
                (row["id"], self._ts(now), str(EventKind.FIRST_SEEN), url),
            )
            return self._article_by_id(tx, row["id"]), True

    def get_article(self, url: str) -> Article:
        with self._tx() as tx:
            row = tx.one("SELECT article_id FROM article_urls WHERE url = ?", (url,))
            if row is None:
                raise NotFound(f"not tracked: {url}")
            return self._article_by_id(tx, row["article_id"])

    def get_article_by_id(self, article_id: int) -> Article:
        with self._tx() as tx:
            return self._article_by_id(tx, article_id)

    def list_articles(self, status: ArticleStatus | None = None) -> list[Article]:
        sql = f"SELECT {_ARTICLE_COLUMNS} FROM articles"
        params: tuple[Any, ...] = ()
        if status is not None:
            sql, params = sql + " WHERE status = ?", (str(status),)
        with self._tx() as tx:
            return [self._article(r) for r in tx.all(sql + " ORDER BY id", params)]

    def _article_by_id(self, tx: Tx, article_id: int) -> Article:
        row = tx.one(f"SELECT {_ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,))
        if row is None:
            raise NotFound(f"no article with id {article_id}")
        return self._article(row)

    def _article(self, row: Any) -> Article:
        return Article(
            id=row["id"],
            url=row["url"],
            site=row["site"],
            first_seen=self._dt(row["first_seen"]),
            status=ArticleStatus(row["status"]),
            is_live=bool(row["is_live"]),
            source_id=row["source_id"],
            next_check_at=self._dt(row["next_check_at"]),
            last_checked_at=self._dt(row["last_checked_at"]),
            last_changed_at=self._dt(row["last_changed_at"]),
            revision_count=row["revision_count"],
            etag=row["etag"],
            last_modified=row["last_modified"],
            error_count=row["error_count"],
            last_error=row["last_error"],
        )

    # --- leases ---------------------------------------------------------------------------------
    def claim_due(
        self,
        now: datetime,
        owner: str,
        *,
        limit: int,
        lease_seconds: float,
    ) -> list[Claim]:
        claims = self._lease(
            "status IN ('active', 'gone') AND next_check_at <= ?",
            (self._ts(now),),
            "ORDER BY next_check_at, id LIMIT ?",
            (limit,),
            now,
            owner,
            lease_seconds,
        )
        return sorted(claims, key=lambda c: (c.due_at or now, c.article_id))

    def claim_ids(
        self,
        article_ids: Sequence[int],
        now: datetime,
        owner: str,
        *,
        lease_seconds: float,
    ) -> list[Claim]:
        """Lease these articles now, due or not (a one-off `redline check`); articles another
        worker holds are left out."""
        if not article_ids:
            return []
        marks = ",".join("?" * len(article_ids))
        claims = self._lease(
            f"id IN ({marks})", tuple(article_ids), "", (), now, owner, lease_seconds
        )
        return sorted(claims, key=lambda c: c.article_id)

    def _lease(
        self,
        where: str,
        params: tuple[Any, ...],
        order: str,
        order_params: tuple[Any, ...],
        now: datetime,
        owner: str,
        lease_seconds: float,
    ) -> list[Claim]:
        """One short transaction: lease the matching articles that nobody holds (expired leases
        count as free), skipping rows another worker is leasing at this moment."""
        until = now + timedelta(seconds=lease_seconds)
        with self._tx(write=True) as tx:
            rows = tx.all(
                "UPDATE articles SET lease_owner = ?, lease_until = ? WHERE id IN ("
                f" SELECT id FROM articles WHERE {where}"
                f" AND (lease_until IS NULL OR lease_until < ?) {order}"
                f"{self.FOR_UPDATE}{self.SKIP_LOCKED}) RETURNING {_CLAIM_COLUMNS}",
                (owner, self._ts(until), *params, self._ts(now), *order_params),
            )
            recent = self._recent_changes(tx, [r["id"] for r in rows], now)
        return [self._claim(r, owner, until, recent.get(r["id"], 0)) for r in rows]

    def _recent_changes(self, tx: Tx, ids: list[int], now: datetime) -> dict[int, int]:
        if not ids:
            return {}
        rows = tx.all(
            "SELECT article_id, count(*) AS n FROM revisions WHERE fetched_at > ? AND "
            f"article_id IN ({','.join('?' * len(ids))}) GROUP BY article_id",
            (self._ts(now - RECENT), *ids),
        )
        return {r["article_id"]: r["n"] for r in rows}

    def _claim(self, r: Any, owner: str, until: datetime, recent: int) -> Claim:
        return Claim(
            article_id=r["id"],
            url=r["url"],
            owner=owner,
            lease_until=until,
            due_at=self._dt(r["next_check_at"]),
            etag=r["etag"],
            last_modified=r["last_modified"],
            latest_revision=r["revision_count"],
            latest_hash=r["latest_hash"],
            is_live=bool(r["is_live"]),
            site=r["site"],
            first_seen=self._dt(r["first_seen"]),
            last_changed_at=self._dt(r["last_changed_at"]),
            recent_changes=recent,
            raw_hash=r["raw_hash"],
            memory=r["memory"],
            missing_count=r["missing_count"],
            status=ArticleStatus(r["status"]),
            error_count=r["error_count"],
        )

    def release(self, article_ids: Sequence[int], owner: str) -> int:
        if not article_ids:
            return 0
        with self._tx(write=True) as tx:
            rows = tx.all(
                "UPDATE articles SET lease_owner = NULL, lease_until = NULL "
                f"WHERE lease_owner = ? AND id IN ({','.join('?' * len(article_ids))}) "
                "RETURNING id",
                (owner, *article_ids),
            )
        return len(rows)

    # --- the write protocol ---------------------------------------------------------------------
    def record(self, result: FetchResult, compare: Compare | None = None) -> RecordResult:
        encoded = _Encoded.of(result)  # CPU work before the transaction: locks are held briefly
        with self._tx(write=True) as tx:
            # Lock the article first: a concurrent repeat of this fetch then waits here, and
            # sees the first one's committed fetch row below instead of colliding with it.
            article = tx.one(
                "SELECT id, url, revision_count, latest_hash, status, lease_owner, flip_hash,"
                f" flip_count FROM articles WHERE id = ?{self.FOR_UPDATE}",
                (result.article_id,),
            )
            if article is None:
                raise NotFound(f"no article with id {result.article_id}")
            done = tx.one(
                "SELECT outcome, revision FROM fetches WHERE fetch_id = ?", (result.fetch_id,)
            )
            if done is not None:
                return RecordResult(Outcome(done["outcome"]), done["revision"], duplicate=True)
            outcome, number = self._apply(tx, article, result, compare, encoded)
            tx.execute(
                "INSERT INTO fetches (fetch_id, article_id, fetched_at, http_status, outcome, "
                "revision, error) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    result.fetch_id,
                    result.article_id,
                    self._ts(result.fetched_at),
                    result.http_status,
                    str(outcome),
                    number,
                    codec.clean_optional(result.error),
                ),
            )
        return RecordResult(outcome, number)

    def _apply(
        self,
        tx: Tx,
        article: Any,
        result: FetchResult,
        compare: Compare | None,
        encoded: _Encoded,
    ) -> tuple[Outcome, int | None]:
        """Decide the outcome, append what it calls for, and move the article's schedule."""
        for kind, detail in result.events:
            self._append_event(tx, result, EventKind(kind), detail)
        merged = bool(result.moved_to) and self._move(tx, article, result)
        number: int | None = None
        flip: tuple[str | None, int] = (None, 0)
        page = result.page
        if merged:  # another article tracks this story: its history continues there
            outcome = Outcome.UNCHANGED
        elif result.error is not None:
            outcome = Outcome.ERROR
        elif result.not_modified:
            outcome = Outcome.NOT_MODIFIED
        elif result.status is ArticleStatus.GONE:
            outcome = Outcome.GONE
        elif page is None or page.kind is PageKind.NOT_ARTICLE:
            outcome = Outcome.UNAVAILABLE  # never a revision that wipes out the article's text
        elif (page_hash := encoded.page_hash) == article["latest_hash"]:
            outcome = Outcome.UNCHANGED
        elif (flip := self._flip(tx, article, result, page_hash))[1]:
            outcome = Outcome.UNCHANGED  # an older version served again: not (yet) a revision
        else:
            number = self._append_revision(tx, article, result, compare, encoded)
            outcome = Outcome.NEW if number == 1 else Outcome.CHANGED
        self._update_article(tx, article, result, outcome, number, flip, encoded.page_hash)
        return outcome, number

    def _flip(
        self, tx: Tx, article: Any, result: FetchResult, page_hash: str
    ) -> tuple[str | None, int]:
        """Flip-flop guard: a page equal to an OLDER revision (a stale cache node) counts only
        once it has been seen `flip_confirmations` checks in a row. Returns the (hash, count) to
        remember, with count 0 when a revision should be written."""
        if result.flip_confirmations <= 0 or not article["revision_count"]:
            return None, 0
        older = tx.one(
            "SELECT number FROM revisions WHERE article_id = ? AND content_hash = ? LIMIT 1",
            (result.article_id, page_hash),
        )
        if older is None:
            return None, 0
        count = article["flip_count"] + 1 if article["flip_hash"] == page_hash else 1
        if count >= result.flip_confirmations:
            return None, 0  # it stayed: a genuine revert, recorded as a revision
        if count == 1:
            self._append_event(
                tx, result, EventKind.FLIP_FLOP, f"served revision {older['number']} again"
            )
        return page_hash, count

    def _move(self, tx: Tx, article: Any, result: FetchResult) -> bool:
        """A permanent redirect: the article continues under the new URL, unless another
        article already tracks it, in which case this one is marked moved (history kept) and
        True is returned."""
        new_url = validate_url(result.moved_to or "")
        owner = tx.one("SELECT article_id FROM article_urls WHERE url = ?", (new_url,))
        if owner is not None and owner["article_id"] != article["id"]:
            tx.execute("UPDATE articles SET status = 'moved' WHERE id = ?", (article["id"],))
            return True
        if owner is None:
            tx.execute(
                "INSERT INTO article_urls (url, article_id) VALUES (?, ?)",
                (new_url, article["id"]),
            )
        tx.execute(
            "UPDATE articles SET url = ?, site = ? WHERE id = ?",
            (new_url, site_of(new_url), article["id"]),
        )
        return False

    def _append_revision(
        self,
        tx: Tx,
        article: Any,
        result: FetchResult,
        compare: Compare | None,
        encoded: _Encoded,
    ) -> int:
        assert result.page is not None and encoded.page_hash is not None
        latest = article["revision_count"]
        changes = result.changes
        if result.base_revision != latest:
            if compare is None:
                raise StorageError(
                    f"article {result.article_id} gained revision {latest} since this fetch "
                    f"diffed against {result.base_revision}; a compare function is needed"
                )
            old = self._load_page(tx, result.article_id, latest) if latest else None
            changes = tuple(compare(old, result.page))
        number = latest + 1
        encoded = encoded.complete(result)  # when the caller did not expect a new revision
        row = tx.one(
            "INSERT INTO revisions (article_id, number, fetched_at, content_hash, headline, "
            "summary, page, raw_html, fetch_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                result.article_id,
                number,
                self._ts(result.fetched_at),
                encoded.page_hash,
                codec.clean_text(result.page.headline),
                codec.summary_json(changes),
                encoded.page_blob,
                encoded.raw_blob,
                result.fetch_id,
            ),
        )
        if changes:
            tx.executemany(
                "INSERT INTO changes (revision_id, position, field, kind, class, old, new, patch, "
                "words_added, words_removed, similarity, notes, stealth, coarse) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [self._change_row(row["id"], i, c) for i, c in enumerate(changes)],
            )
        kinds = codec.alert_kinds(changes) if number > 1 else ("new_article",)
        for channel in result.alert_channels:
            self._append_alert(
                tx,
                result,
                channel,
                kinds,
                f"{result.article_id}:r{number}:{channel}",
                revision=number,
            )
        return number

    def _change_row(self, revision_id: int, position: int, change: Change) -> tuple[Any, ...]:
        d = codec.change_to_dict(change)
        return (
            revision_id,
            position,
            d["field"],
            d["kind"],
            d["class"],
            d["old"],
            d["new"],
            d["patch"] or "",
            d["words_added"],
            d["words_removed"],
            d["similarity"],
            json.dumps(d["notes"]),
            bool(d["stealth"]),
            bool(d["coarse"]),
        )

    def _append_event(self, tx: Tx, result: FetchResult, kind: EventKind, detail: str) -> None:
        if kind in _STATE_EVENTS:  # a state is recorded when it begins, not at every check
            last = tx.one(
                "SELECT kind FROM events WHERE article_id = ? ORDER BY id DESC LIMIT 1",
                (result.article_id,),
            )
            if last is not None and last["kind"] == str(kind):
                return
        row = tx.one(
            "INSERT INTO events (article_id, at, kind, detail, fetch_id) VALUES (?, ?, ?, ?, ?) "
            "RETURNING id",
            (
                result.article_id,
                self._ts(result.fetched_at),
                str(kind),
                codec.clean_text(detail),
                result.fetch_id,
            ),
        )
        alert_kind = _EVENT_ALERTS.get(kind)
        if alert_kind is None:
            return
        for channel in result.alert_channels:
            self._append_alert(
                tx,
                result,
                channel,
                (alert_kind,),
                f"{result.article_id}:e{row['id']}:{channel}",
                event_id=row["id"],
            )

    def _append_alert(
        self,
        tx: Tx,
        result: FetchResult,
        channel: str,
        kinds: Sequence[str],
        key: str,
        *,
        revision: int | None = None,
        event_id: int | None = None,
    ) -> None:
        tx.execute(
            "INSERT INTO alerts (channel, article_id, revision, event_id, kinds, idempotency_key, "
            "created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                channel,
                result.article_id,
                revision,
                event_id,
                json.dumps(list(kinds)),
                key,
                self._ts(result.fetched_at),
                self._ts(result.fetched_at),
            ),
        )

    def _update_article(
        self,
        tx: Tx,
        article: Any,
        result: FetchResult,
        outcome: Outcome,
        number: int | None,
        flip: tuple[str | None, int],
        page_hash: str | None,
    ) -> None:
        error = codec.clean_optional(result.error)
        changed = number is not None
        status = str(result.status) if result.status is not None else None
        fresh = outcome is not Outcome.ERROR and not result.not_modified  # a full response
        missing = (
            "missing_count + 1"
            if result.missing
            else ("missing_count" if outcome is Outcome.ERROR else "0")
        )
        tx.execute(
            "UPDATE articles SET status = coalesce(?, status), next_check_at = ?,"
            " last_checked_at = ?,"
            " last_changed_at = CASE WHEN ? THEN ? ELSE last_changed_at END,"
            " revision_count = CASE WHEN ? THEN ? ELSE revision_count END,"
            " latest_hash = CASE WHEN ? THEN ? ELSE latest_hash END,"
            " etag = CASE WHEN ? THEN ? ELSE etag END,"
            " last_modified = CASE WHEN ? THEN ? ELSE last_modified END,"
            " raw_hash = CASE WHEN ? THEN ? ELSE raw_hash END,"
            " memory = coalesce(?, memory),"
            f" missing_count = {missing}, flip_hash = ?, flip_count = ?,"
            " error_count = CASE WHEN ? THEN error_count + 1 ELSE 0 END, last_error = ?,"
            " lease_owner = CASE WHEN lease_owner = ? OR ? THEN NULL ELSE lease_owner END,"
            " lease_until = CASE WHEN lease_owner = ? OR ? THEN NULL ELSE lease_until END"
            " WHERE id = ?",
            (
                status,
                self._ts(result.next_check_at),
                self._ts(result.fetched_at),
                changed,
                self._ts(result.fetched_at),
                changed,
                number,
                changed,
                page_hash,
                fresh,
                result.etag,
                fresh,
                result.last_modified,
                fresh,
                result.raw_hash,
                codec.clean_optional(result.memory),
                flip[0],
                flip[1],
                error is not None,
                error,
                result.owner,
                result.owner is None,
                result.owner,
                result.owner is None,
                result.article_id,
            ),
        )

    # --- history --------------------------------------------------------------------------------
    def history(self, article_id: int) -> list[RevisionInfo]:
        with self._tx() as tx:
            rows = tx.all(
                "SELECT number, fetched_at, content_hash, headline, summary FROM revisions "
                "WHERE article_id = ? ORDER BY number",
                (article_id,),
            )
        return [
            RevisionInfo(
                article_id=article_id,
                number=r["number"],
                fetched_at=self._dt(r["fetched_at"]),
                content_hash=r["content_hash"],
                headline=r["headline"],
                changes=tuple(
                    ChangeSummary(f, ChangeKind(k), ChangeClass(c))
                    for f, k, c in json.loads(r["summary"])
                ),
            )
            for r in rows
        ]

    def revision(self, article_id: int, number: int) -> Revision:
        with self._tx() as tx:
            return self._revision(tx, article_id, number)

    def _revision(self, tx: Tx, article_id: int, number: int) -> Revision:
        row = tx.one(
            "SELECT id, number, fetched_at, content_hash, page, fetch_id FROM revisions "
            "WHERE article_id = ? AND number = ?",
            (article_id, number),
        )
        if row is None:
            raise NotFound(f"article {article_id} has no revision {number}")
        changes = tx.all(
            "SELECT * FROM changes WHERE revision_id = ? ORDER BY position", (row["id"],)
        )
        return Revision(
            article_id=article_id,
            number=row["number"],
            fetched_at=self._dt(row["fetched_at"]),
            content_hash=row["content_hash"],
            page=codec.decode_page(row["page"]),
            fetch_id=row["fetch_id"],
            changes=tuple(self._change(c) for c in changes),
        )

    def _change(self, row: Any) -> Change:
        data = dict(row)
        data["notes"] = json.loads(data["notes"])
        return codec.change_from_dict(data)

    def _load_page(self, tx: Tx, article_id: int, number: int) -> Any:
        row = tx.one(
            "SELECT page FROM revisions WHERE article_id = ? AND number = ?", (article_id, number)
        )
        return codec.decode_page(row["page"])

    def raw_html(self, article_id: int, number: int) -> bytes | None:
        with self._tx() as tx:
            row = tx.one(
                "SELECT raw_html FROM revisions WHERE article_id = ? AND number = ?",
                (article_id, number),
            )
        if row is None:
            raise NotFound(f"article {article_id} has no revision {number}")
        return None if row["raw_html"] is None else codec.decompress(row["raw_html"])

    def events(self, article_id: int) -> list[Event]:
        with self._tx() as tx:
            rows = tx.all("SELECT * FROM events WHERE article_id = ? ORDER BY id", (article_id,))
        return [self._event(r) for r in rows]

    def _event(self, row: Any) -> Event:
        return Event(
            article_id=row["article_id"],
            at=self._dt(row["at"]),
            kind=EventKind(row["kind"]),
            detail=row["detail"],
            id=row["id"],
            fetch_id=row["fetch_id"],
        )

    def alerts(self, status: AlertStatus | None = None) -> list[Alert]:
        sql, params = "SELECT * FROM alerts", ()
        if status is not None:
            sql, params = sql + " WHERE status = ?", (str(status),)
        with self._tx() as tx:
            rows = tx.all(sql + " ORDER BY id", params)
        return [
            Alert(
                id=r["id"],
                channel=r["channel"],
                article_id=r["article_id"],
                idempotency_key=r["idempotency_key"],
                kinds=tuple(json.loads(r["kinds"])),
                created_at=self._dt(r["created_at"]),
                revision=r["revision"],
                event_id=r["event_id"],
                status=AlertStatus(r["status"]),
                attempts=r["attempts"],
                next_attempt_at=self._dt(r["next_attempt_at"]),
                sent_at=self._dt(r["sent_at"]),
                last_error=r["last_error"],
            )
            for r in rows
        ]

    def iter_revisions(self, since: datetime | None = None) -> Iterator[tuple[str, Revision]]:
        """Keyset pagination by id: constant memory, and no transaction held between batches."""
        last_id = 0
        while True:
            with self._tx() as tx:
                rows = tx.all(
                    "SELECT r.id, r.article_id, r.number, a.url FROM revisions r "
                    "JOIN articles a ON a.id = r.article_id WHERE r.id > ? AND r.fetched_at >= ? "
                    "ORDER BY r.id LIMIT ?",
                    (last_id, self._ts(since or _EPOCH), _BATCH),
                )
                batch = [(r["url"], self._revision(tx, r["article_id"], r["number"])) for r in rows]
            if not rows:
                return
            last_id = rows[-1]["id"]
            yield from batch

    def iter_events(self, since: datetime | None = None) -> Iterator[tuple[str, Event]]:
        last_id = 0
        while True:
            with self._tx() as tx:
                rows = tx.all(
                    "SELECT e.*, a.url AS article_url FROM events e "
                    "JOIN articles a ON a.id = e.article_id WHERE e.id > ? AND e.at >= ? "
                    "ORDER BY e.id LIMIT ?",
                    (last_id, self._ts(since or _EPOCH), _BATCH),
                )
            if not rows:
                return
            last_id = rows[-1]["id"]
            yield from ((r["article_url"], self._event(r)) for r in rows)
