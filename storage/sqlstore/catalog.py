"""Sources, articles, site memory and the queue's status."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from redline.storage import codec
from redline.storage.errors import InvalidInput, NotFound
from redline.storage.model import (
    Article,
    ArticleStatus,
    EventKind,
    Page,
    Source,
    SourceKind,
    SourceOrigin,
)
from redline.storage.sqlstore.base import (
    _ARTICLE_COLUMNS,
    Tx,
    site_of,
    validate_url,
)
from redline.storage.sqlstore.content import PAGE, Content

_PLAIN_URLS = 5
# Active articles whose latest revision came from the plain fallback, each row with their count:
# the partial index revisions_plain (schema 5) holds only such revisions, so this reads those
# and joins each to its article by primary key; `number = revision_count` keeps the latest.
_PLAIN_LATEST = (
    "SELECT a.url, count(*) OVER () AS n FROM revisions r JOIN articles a ON a.id = r.article_id"
    " WHERE r.extractor = 'redline/plain' AND r.number = a.revision_count"
    f" AND a.status = 'active' ORDER BY a.id LIMIT {_PLAIN_URLS}"
)


class Catalog(Content):
    """Sources, articles, site memory and the queue's status."""

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
            origin=SourceOrigin(row["origin"]),
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
        with self._read() as tx:
            try:
                _, page = self._read_part(tx, article_id, None, PAGE)
            except NotFound:
                return None
        return None if page is None else codec.page_from_json(page)

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
        """What `redline status` shows: due now, upcoming checks, errors by host, and the
        active articles whose latest revision the plain fallback read (`plain_fallback`, a
        count, and up to five of their URLs, `plain_fallback_urls`)."""
        with self._tx() as tx:
            due = tx.one(
                "SELECT count(*) AS n FROM articles WHERE status = 'active' AND paused = ?"
                " AND next_check_at <= ?",
                (False, self._ts(now)),
            )["n"]
            counts = tx.all("SELECT status, count(*) AS n FROM articles GROUP BY status")
            upcoming = tx.all(
                "SELECT url, next_check_at FROM articles WHERE status = 'active' AND paused = ?"
                " AND next_check_at > ? ORDER BY next_check_at LIMIT 10",
                (False, self._ts(now)),
            )
            errors = tx.all(
                "SELECT site, count(*) AS n, max(last_error) AS last_error FROM articles "
                "WHERE error_count > 0 GROUP BY site ORDER BY count(*) DESC, site LIMIT 20"
            )
            leased = tx.one(
                "SELECT count(*) AS n FROM articles WHERE lease_until > ?", (self._ts(now),)
            )["n"]
            plain = tx.all(_PLAIN_LATEST)
        return {
            "due_now": due,
            "leased": leased,
            "by_status": {r["status"]: r["n"] for r in counts},
            "next_checks": [(r["url"], self._dt(r["next_check_at"])) for r in upcoming],
            "errors_by_host": [(r["site"], r["n"], r["last_error"]) for r in errors],
            "plain_fallback": plain[0]["n"] if plain else 0,
            "plain_fallback_urls": [r["url"] for r in plain],
        }

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
        # Every column: this one read also serves a database being seeded or upgraded at an
        # older schema (one without `paused`).
        row = tx.one("SELECT * FROM articles WHERE id = ?", (article_id,))
        if row is None:
            raise NotFound(f"no article with id {article_id}")
        return self._article(row)

    def _article(self, row: Any) -> Article:
        return Article(
            id=row["id"],
            url=row["url"],
            site=row["site"],
            first_seen=self._at(row["first_seen"]),
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
            paused=_has(row, "paused") and bool(row["paused"]),
        )


def _has(row: Any, column: str) -> bool:
    """Whether a row (a sqlite3.Row or a dict) has this column: `in` on a sqlite3.Row looks
    among its values, so ask its keys."""
    return column in row.keys()  # noqa: SIM118 (see above)
