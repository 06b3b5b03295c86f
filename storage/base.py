"""The `Store` protocol: the one interface the crawler, the daemon and the CLI use.

Two backends implement it, `SqliteStore` (the embedded default) and `PostgresStore`; one test
suite runs unchanged on both. Every method that depends on the time takes `now` as an argument,
so callers (and tests) own the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from redline.storage.checks import CheckRecord
from redline.storage.errors import DamagedRevision
from redline.storage.model import (
    Alert,
    AlertBatch,
    AlertStatus,
    Article,
    ArticleStatus,
    ChangeEntry,
    ChangeQuery,
    CheckDay,
    CheckInfo,
    Claim,
    Compacted,
    Event,
    Listing,
    Page,
    PurgeCounts,
    RecordResult,
    Revision,
    RevisionInfo,
    RolledUp,
    SearchHit,
    Source,
    SourceKind,
    SourceOrigin,
    StoreSizes,
    Verified,
)


class Store(Protocol):
    """Where articles, their revisions, events and the alert outbox live."""

    url: str  # the database URL, with any password masked

    # --- schema -------------------------------------------------------------------------------
    def schema_version(self) -> int: ...
    def upgrade(self) -> list[int]:
        """Apply pending migrations, each in its own transaction; return the versions applied."""
        ...

    def close(self) -> None: ...

    # --- sources and articles -----------------------------------------------------------------
    def add_source(
        self,
        url: str,
        kind: SourceKind,
        every_seconds: int,
        now: datetime,
        pattern: str | None = None,
    ) -> tuple[Source, bool]: ...
    def list_sources(self) -> list[Source]: ...
    def claim_due_sources(
        self,
        now: datetime,
        owner: str,
        *,
        limit: int,
        lease_seconds: float,
    ) -> list[Source]:
        """Lease due sources, so that discovery runs once per interval across all workers."""
        ...

    def record_source_check(
        self,
        source_id: int,
        owner: str,
        now: datetime,
        *,
        error: str | None = None,
    ) -> None: ...

    def add_article(
        self,
        url: str,
        now: datetime,
        *,
        source_id: int | None = None,
        is_live: bool = False,
    ) -> tuple[Article, bool]:
        """Track a URL (idempotent): return the article and whether it was created."""
        ...

    def get_article(self, url: str) -> Article:
        """By its URL or any URL it was known under before a move; raises NotFound."""
        ...

    def get_article_by_id(self, article_id: int) -> Article: ...
    def list_articles(self, status: ArticleStatus | None = None) -> list[Article]: ...

    # --- the write protocol -------------------------------------------------------------------
    def claim_due(
        self,
        now: datetime,
        owner: str,
        *,
        limit: int,
        lease_seconds: float,
    ) -> list[Claim]:
        """Lease up to `limit` due articles (expired leases count as free), most overdue first."""
        ...

    def claim_ids(
        self,
        article_ids: Sequence[int],
        now: datetime,
        owner: str,
        *,
        lease_seconds: float,
    ) -> list[Claim]:
        """Lease these articles now, due or not (a one-off check); articles another worker
        holds are left out."""
        ...

    def release(self, article_ids: Sequence[int], owner: str) -> int:
        """Give back leases this owner still holds without recording a fetch."""
        ...

    def release_all(self) -> int:
        """Give back every lease (a single-writer database whose previous writer died)."""
        ...

    def record(self, check: CheckRecord) -> RecordResult:
        """Persist one decided check in ONE transaction; a second call with the same fetch_id
        is a no-op. A new revision diffed against a revision that is no longer the latest is
        not written: the result says `stale`, and the caller decides again."""
        ...

    def record_many(self, checks: Sequence[CheckRecord]) -> list[RecordResult]:
        """`record` for several checks in one transaction: all are recorded, or none."""
        ...

    # --- history ------------------------------------------------------------------------------
    def history(self, article_id: int) -> list[RevisionInfo]: ...
    def latest_changes(self, limit: int) -> list[RevisionInfo]:
        """The newest revisions that changed something, newest first."""
        ...

    def latest_page(self, article_id: int) -> Page | None: ...
    def revision_with_hash(self, article_id: int, content_hash: str) -> int | None:
        """The first revision of the article with this content hash, if any."""
        ...

    def site_memory(self, site: str) -> str | None: ...
    def save_site_memory(self, site: str, memory: str) -> None: ...
    def queue_status(self, now: datetime) -> dict[str, Any]: ...
    def revision(self, article_id: int, number: int) -> Revision: ...
    def raw_html(self, article_id: int, number: int) -> bytes | None: ...
    def events(self, article_id: int) -> list[Event]: ...

    # --- the alert outbox -------------------------------------------------------------------
    def claim_alerts(
        self,
        now: datetime,
        owner: str,
        *,
        limit: int,
        lease_seconds: float,
        channels: Sequence[str] | None = None,
    ) -> list[AlertBatch]:
        """Lease due alerts, grouped into the messages that carry them."""
        ...

    def settle_alerts(
        self,
        ids: Sequence[int],
        now: datetime,
        *,
        status: AlertStatus,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> int:
        """After a send: sent, pending again from `retry_at`, failed or dropped."""
        ...

    def orphan_alerts(self, channels: Sequence[str], now: datetime) -> int:
        """Fail pending alerts of channels that are no longer configured."""
        ...

    def retry_alerts(self, ids: Sequence[int] | None, now: datetime) -> int:
        """Failed (or these failed or dropped) alerts pending again, due now."""
        ...

    def alert(self, alert_id: int) -> Alert: ...
    def alerts(
        self, status: AlertStatus | None = None, *, limit: int | None = None
    ) -> list[Alert]: ...
    def alert_counts(self) -> dict[str, int]: ...
    def iter_revisions(
        self,
        since: datetime | None = None,
        *,
        damaged: Callable[[DamagedRevision], None] | None = None,
    ) -> Iterator[tuple[str, Revision]]:
        """Every revision (with its article's URL) fetched at or after `since`, oldest first.
        A damaged one raises DamagedRevision, or with `damaged` is handed to it and skipped."""
        ...

    def iter_events(self, since: datetime | None = None) -> Iterator[tuple[str, Event]]: ...

    # --- reading in pages (the web app, the JSON API, the feeds) --------------------------------
    def recent_changes(
        self, query: ChangeQuery, *, cursor: str | None = None, limit: int = 50
    ) -> Listing[ChangeEntry]:
        """Revisions that changed something, and URL events, newest first."""
        ...

    def articles_page(
        self,
        *,
        site: str | None = None,
        status: ArticleStatus | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Listing[Article]:
        """Articles, the most recently changed first (never changed: by first seen)."""
        ...

    def article_urls(self, article_id: int) -> list[str]:
        """Every URL the article was known under, its current one first."""
        ...

    def checks(
        self, article_id: int, *, cursor: str | None = None, limit: int = 50
    ) -> Listing[CheckInfo]:
        """The article's checks, newest first."""
        ...

    def search(
        self, text: str, *, site: str | None = None, cursor: str | None = None, limit: int = 20
    ) -> Listing[SearchHit]:
        """Articles any revision of which ever held `text` (words, \"a phrase\", -not, or),
        the most recent match first. Raises InvalidInput for a query with no words."""
        ...

    # --- counts for /metrics (storage/sqlstore/stats.py) -----------------------------------------
    def last_revision_id(self) -> int:
        """The highest revision id written so far (0 for none)."""
        ...

    def revision_tally(self, after: int = 0, upto: int | None = None) -> dict[str, Any]:
        """Revisions with ids in (after, upto] and their changes by (field group, class):
        append-only rows, so a caller keeps running totals and asks only for new ids."""
        ...

    def queue_gauges(self, now: datetime) -> dict[str, Any]:
        """Articles due now, the oldest one's due time, alerts by status."""
        ...

    # --- keeping the database small (storage/sqlstore/compaction.py, fetchlog.py, sizes.py) --
    def compact(
        self,
        *,
        batch: int = ...,
        max_revisions: int | None = None,
        progress: Callable[[Compacted], None] | None = None,
    ) -> Compacted:
        """Re-encode revisions written before schema 8 against their article's keyframes, in
        short transactions (safe while the daemon runs; resumes where it stopped)."""
        ...

    def verify(
        self,
        *,
        batch: int = ...,
        damaged: Callable[[DamagedRevision], None] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Verified:
        """Decode every revision's stored content and check it against its checksums; each
        damaged one is handed to `damaged`."""
        ...

    def legacy_revisions(self) -> int:
        """Revisions written before schema 8 that `compact` has not re-encoded yet."""
        ...

    def roll_up_fetches(
        self, now: datetime, *, older_than: timedelta = ..., batch: int = ...
    ) -> RolledUp:
        """Turn quiet checks (not modified, unchanged; no event) older than `older_than`
        (30 days by default) into per-article daily counts, in short transactions."""
        ...

    def check_days(self, article_id: int) -> list[CheckDay]:
        """The article's rolled-up checks per day and outcome, newest first."""
        ...

    def store_sizes(self) -> StoreSizes:
        """Rows and bytes per table, bytes per revision, and the fetch log's age."""
        ...

    # --- what is tracked: the operator's changes (storage/sqlstore/tracking.py) -----------------
    def stop_article(self, article_id: int, now: datetime, detail: str = "") -> bool:
        """Status `stopped`, history kept, a `stopped` event; False if it already was."""
        ...

    def pause_article(self, article_id: int, now: datetime) -> bool:
        """Not checked until resumed (its status stays), a `paused` event; False if it was."""
        ...

    def resume_article(self, article_id: int, now: datetime) -> bool:
        """A paused or stopped article is checked again, due now, a `resumed` event; False if
        it was neither."""
        ...

    def purge_counts(self, article_id: int) -> PurgeCounts: ...
    def purge_article(self, article_id: int) -> PurgeCounts:
        """Delete the article and its whole history (the one exception to append-only)."""
        ...

    def get_source(self, url: str) -> Source: ...
    def put_source(
        self,
        url: str,
        kind: SourceKind,
        every_seconds: int,
        now: datetime,
        *,
        pattern: str | None = None,
        origin: SourceOrigin = SourceOrigin.CLI,
    ) -> tuple[Source, Source | None]:
        """Add or update a source; returns it and what it was before (None: it is new)."""
        ...

    def set_source_enabled(self, url: str, enabled: bool, now: datetime) -> tuple[Source, bool]:
        """Pause or resume a source (resumed: due now); whether anything changed."""
        ...

    def remove_source(self, url: str) -> Source:
        """Forget a source; the articles it found stay tracked."""
        ...
