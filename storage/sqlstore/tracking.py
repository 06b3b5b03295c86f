"""What the operator changes about what is tracked: stop, pause and resume articles, purge
one article's whole history, and add, update, pause or remove discovery sources.

Each change of an article's state is an event in its history (`stopped`, `paused`,
`resumed`), written in the transaction that makes the change.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from redline.storage.errors import InvalidInput, NotFound
from redline.storage.model import EventKind, PurgeCounts, Source, SourceKind, SourceOrigin
from redline.storage.sqlstore.base import Tx, validate_url
from redline.storage.sqlstore.catalog import Catalog
from redline.storage.sqlstore.search import Search

_REVISIONS = "SELECT id FROM revisions WHERE article_id = ?"


class Tracking(Catalog, Search):
    """Stop, pause, resume and purge articles; update, pause and remove sources."""

    # --- articles -------------------------------------------------------------------------------
    def stop_article(self, article_id: int, now: datetime, detail: str = "") -> bool:
        """No longer check it (status `stopped`); its history stays. False if already stopped."""
        return self._set_state(
            article_id,
            now,
            "SET status = 'stopped', lease_owner = NULL, lease_until = NULL"
            " WHERE id = ? AND status <> 'stopped'",
            (),
            EventKind.STOPPED,
            detail or "stopped by the operator",
        )

    def pause_article(self, article_id: int, now: datetime) -> bool:
        """Keep its status, but check it no more until resumed. False if already paused."""
        return self._set_state(
            article_id,
            now,
            "SET paused = ? WHERE id = ? AND paused = ?",
            (True,),
            EventKind.PAUSED,
            "paused by the operator",
            (False,),
        )

    def resume_article(self, article_id: int, now: datetime) -> bool:
        """Check a paused (or stopped) article again, due now. False if it was neither."""
        return self._set_state(
            article_id,
            now,
            "SET paused = ?, next_check_at = ?,"
            " status = CASE WHEN status = 'stopped' THEN 'active' ELSE status END"
            " WHERE id = ? AND (paused = ? OR status = 'stopped')",
            (False, self._ts(now)),
            EventKind.RESUMED,
            "resumed by the operator",
            (True,),
        )

    def _set_state(
        self,
        article_id: int,
        now: datetime,
        update: str,
        params: tuple[Any, ...],
        kind: EventKind,
        detail: str,
        after: tuple[Any, ...] = (),
    ) -> bool:
        with self._tx(write=True) as tx:
            self._article_by_id(tx, article_id)  # NotFound for an unknown id
            row = tx.one(f"UPDATE articles {update} RETURNING id", (*params, article_id, *after))
            if row is None:
                return False
            tx.execute(
                "INSERT INTO events (article_id, at, kind, detail) VALUES (?, ?, ?, ?)",
                (article_id, self._ts(now), str(kind), detail),
            )
        return True

    def purge_counts(self, article_id: int) -> PurgeCounts:
        """What `purge_article` would delete."""
        with self._tx() as tx:
            return self._purge_counts(tx, article_id)

    def purge_article(self, article_id: int) -> PurgeCounts:
        """Delete an article and its whole history: revisions, changes, events, fetches (and
        their daily counts), alerts, search index rows and every URL it was known under. The
        one exception to append-only revisions: the article's row in `purges` lets the
        triggers allow it, for this transaction only (schema 7)."""
        with self._tx(write=True) as tx:
            counts = self._purge_counts(tx, article_id)
            tx.execute("INSERT INTO purges (article_id) VALUES (?)", (article_id,))
            one = (article_id,)
            tx.execute("DELETE FROM alerts WHERE article_id = ?", one)
            tx.execute(f"DELETE FROM changes WHERE revision_id IN ({_REVISIONS})", one)
            self._unindex_article(tx, article_id)
            tx.execute(f"DELETE FROM revision_content WHERE revision_id IN ({_REVISIONS})", one)
            for table in ("revisions", "events", "fetches", "fetch_days", "article_urls"):
                tx.execute(f"DELETE FROM {table} WHERE article_id = ?", one)
            tx.execute("DELETE FROM articles WHERE id = ?", one)
            tx.execute("DELETE FROM purges WHERE article_id = ?", one)
        return counts

    def _purge_counts(self, tx: Tx, article_id: int) -> PurgeCounts:
        article = self._article_by_id(tx, article_id)

        def count(table: str) -> int:
            sql = f"SELECT count(*) AS n FROM {table} WHERE article_id = ?"
            return int(tx.one(sql, (article_id,))["n"])

        rolled_up = int(  # checks rolled up into daily counts (schema 8) count as fetches
            tx.one(
                "SELECT coalesce(sum(not_modified + unchanged), 0) AS n FROM fetch_days"
                " WHERE article_id = ?",
                (article_id,),
            )["n"]
        )
        return PurgeCounts(
            url=article.url,
            revisions=count("revisions"),
            events=count("events"),
            fetches=count("fetches") + rolled_up,
            alerts=count("alerts"),
        )

    # --- sources --------------------------------------------------------------------------------
    def get_source(self, url: str) -> Source:
        with self._tx() as tx:
            row = tx.one("SELECT * FROM sources WHERE url = ?", (url,))
        if row is None:
            raise NotFound(f"not a source: {url}")
        return self._source(row)

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
        """Add a source, or update a known one's kind, interval and pattern; returns it and
        what it was before (None when it is new). A source the config file declares is
        marked so, and enabled; the CLI never takes a source away from the config."""
        validate_url(url)
        if every_seconds <= 0:
            raise InvalidInput("a source's interval must be positive")
        kind = SourceKind(kind)
        with self._tx(write=True) as tx:
            row = tx.one(
                "INSERT INTO sources (url, kind, every_seconds, pattern, next_check_at, origin)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (url) DO NOTHING RETURNING id",
                (url, str(kind), every_seconds, pattern, self._ts(now), str(origin)),
            )
            if row is not None:
                added = tx.one("SELECT * FROM sources WHERE id = ?", (row["id"],))
                return self._source(added), None
            before = self._source(
                tx.one(f"SELECT * FROM sources WHERE url = ?{self.FOR_UPDATE}", (url,))
            )
            due = before.next_check_at
            if before.last_checked_at is not None:  # a new interval counts from the last check
                due = before.last_checked_at + timedelta(seconds=every_seconds)
            config = origin == SourceOrigin.CONFIG or before.origin == SourceOrigin.CONFIG
            tx.execute(
                "UPDATE sources SET kind = ?, every_seconds = ?, pattern = ?, next_check_at = ?,"
                " enabled = ?, origin = ? WHERE id = ?",
                (
                    str(kind),
                    every_seconds,
                    pattern,
                    self._ts(due),
                    True if origin == SourceOrigin.CONFIG else before.enabled,
                    str(SourceOrigin.CONFIG if config else SourceOrigin.CLI),
                    before.id,
                ),
            )
            after = self._source(tx.one("SELECT * FROM sources WHERE id = ?", (before.id,)))
        return after, before

    def set_source_enabled(self, url: str, enabled: bool, now: datetime) -> tuple[Source, bool]:
        """Pause (False) or resume (True) a source; a resumed one is due now. Returns the
        source and whether anything changed."""
        with self._tx(write=True) as tx:
            row = tx.one(f"SELECT * FROM sources WHERE url = ?{self.FOR_UPDATE}", (url,))
            if row is None:
                raise NotFound(f"not a source: {url}")
            changed = bool(row["enabled"]) != enabled
            if changed:
                due = self._ts(now) if enabled else row["next_check_at"]
                tx.execute(
                    "UPDATE sources SET enabled = ?, next_check_at = ? WHERE id = ?",
                    (enabled, due, row["id"]),
                )
            source = self._source(tx.one("SELECT * FROM sources WHERE id = ?", (row["id"],)))
        return source, changed

    def remove_source(self, url: str) -> Source:
        """Forget a source. The articles it found stay tracked, with their history."""
        with self._tx(write=True) as tx:
            row = tx.one(f"SELECT * FROM sources WHERE url = ?{self.FOR_UPDATE}", (url,))
            if row is None:
                raise NotFound(f"not a source: {url}")
            tx.execute("UPDATE articles SET source_id = NULL WHERE source_id = ?", (row["id"],))
            tx.execute("DELETE FROM sources WHERE id = ?", (row["id"],))
        return self._source(row)
