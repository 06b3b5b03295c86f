"""Reading in pages: recent changes, the articles listing, an article's URLs and checks.

Every listing is keyset-paginated on the columns it is ordered by, so a page deep in the
listing costs what the first does: the cursor names the last row shown, and the next query
starts just after it, down an index, instead of skipping rows with OFFSET.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from redline.storage.errors import InvalidInput, NotFound
from redline.storage.model import (
    CHANGE_GROUPS,
    Article,
    ArticleStatus,
    Change,
    ChangeClass,
    ChangeEntry,
    ChangeQuery,
    CheckInfo,
    Event,
    EventKind,
    Listing,
    Outcome,
)
from redline.storage.sqlstore.base import _ARTICLE_COLUMNS, Tx
from redline.storage.sqlstore.catalog import Catalog
from redline.storage.sqlstore.history import History

MAX_LIMIT = 1000
_MAX_CURSOR = 200
# A revision sorts before an event of the same instant (the check that wrote both).
_REVISION, _EVENT = 1, 0
_BIGGEST_ID = 2**62
# Constants from these fixed vocabularies are written into the SQL (never user text): the
# planner then sees that a query's kinds fall within the partial index `events_listed`.
_LISTED_EVENTS = ("gone", "moved", "back", "unavailable")
_EVENT_GROUPS = {"gone": ("gone",), "moved": ("moved",)}
_FIELD_TESTS = {
    "headline": "c.field = 'headline'",
    "title": "c.field = 'title'",
    "byline": "c.field = 'byline'",
    "body": "c.field = 'body'",
    "dates": "c.field IN ('published', 'updated')",
    "item": "substr(c.field, 1, 5) = 'item:'",  # no LIKE: '%' is psycopg's placeholder mark
}
_CHANGED = "coalesce(a.last_changed_at, a.first_seen)"


def encode_cursor(*parts: str | int) -> str:
    """An opaque cursor: the sort key of the last row shown, base64url without padding."""
    text = "|".join(str(p) for p in parts)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kinds: str) -> tuple[Any, ...]:
    """The parts of a cursor, typed by `kinds` ("t" an aware time, "i" an int, "s" text).

    A cursor comes back from a browser, so anything may arrive: whatever does not decode to
    exactly these parts is refused with InvalidInput (the web layer's 422), never a crash."""
    try:
        if len(cursor) > _MAX_CURSOR:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        parts = raw.split("|", len(kinds) - 1)
        if len(parts) != len(kinds):
            raise ValueError("wrong number of parts")
        return tuple(_cursor_part(kind, part) for kind, part in zip(kinds, parts, strict=True))
    except (ValueError, binascii.Error, OverflowError) as exc:
        raise InvalidInput(
            f"malformed cursor {cursor[:40]!r}: pass back the one a page gave"
        ) from exc


def _cursor_part(kind: str, part: str) -> Any:
    if kind == "t":
        moment = datetime.fromisoformat(part)
        if moment.tzinfo is None:
            raise ValueError("naive time")
        return moment
    if kind == "i":
        number = int(part)
        if not 0 <= number < _BIGGEST_ID:
            raise ValueError("id out of range")
        return number
    return part


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"a page holds 1 to {MAX_LIMIT} rows, not {limit}")
    return limit


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


def _literals(values: Sequence[str]) -> str:
    """SQL literals of vocabulary words (validated before: letters and underscores only)."""
    return ", ".join(f"'{v}'" for v in values)


class Reading(Catalog, History):
    """Reading in pages: recent changes, the articles listing, an article's URLs and checks."""

    # --- recent changes -----------------------------------------------------------------------
    def recent_changes(
        self, query: ChangeQuery, *, cursor: str | None = None, limit: int = 50
    ) -> Listing[ChangeEntry]:
        check_limit(limit)
        after = None if cursor is None else decode_cursor(cursor, "tii")
        fields, kinds, classes = _plan(query)
        with self._read() as tx:
            rows = []
            if fields is not None:
                rows += self._changed_revisions(tx, query, fields, classes, after, limit + 1)
            if kinds:
                rows += self._listed_events(tx, query, kinds, after, limit + 1)
            rows.sort(key=lambda r: (r["at"], r["rank"], r["id"]), reverse=True)
            page = rows[:limit]
            changes = self._changes_of(tx, [r["id"] for r in page if r["rank"] == _REVISION])
        entries = tuple(self._entry(r, changes.get(r["id"], ())) for r in page)
        if len(rows) <= limit:
            return Listing(entries)
        last = page[-1]
        return Listing(entries, encode_cursor(last["at"].isoformat(), last["rank"], last["id"]))

    def _keyset(
        self, column: str, rank: int, after: tuple[Any, ...] | None
    ) -> tuple[str, list[Any]]:
        """The predicate "after the cursor" for one stream of the merged listing: the stream's
        rows at the cursor's own instant come after it when the stream sorts below the
        cursor's row, and before it when above."""
        if after is None:
            return "", []
        at, cursor_rank, cursor_id = after
        bound = cursor_id if rank == cursor_rank else _BIGGEST_ID if rank < cursor_rank else 0
        return f" AND ({column}, {column.split('.')[0]}.id) < (?, ?)", [self._ts(at), bound]

    def _common(self, query: ChangeQuery, prefix: str, time: str) -> tuple[str, list[Any]]:
        sql, params = "", list[Any]()
        for clause, value in (
            (" AND a.site = ?", query.site),
            (f" AND {prefix}.article_id = ?", query.article_id),
            (f" AND {time} >= ?", self._ts(query.since)),
            (f" AND {time} < ?", self._ts(query.until)),
        ):
            if value is not None:
                sql, params = sql + clause, [*params, value]
        return sql, params

    def _changed_revisions(
        self,
        tx: Tx,
        query: ChangeQuery,
        fields: list[str],
        classes: list[str],
        after: tuple[Any, ...] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        keyset, params = self._keyset("r.fetched_at", _REVISION, after)
        common, more = self._common(query, "r", "r.fetched_at")
        if fields:
            keyset += " AND EXISTS (SELECT 1 FROM changes c WHERE c.revision_id = r.id AND "
            keyset += "(" + " OR ".join(_FIELD_TESTS[f] for f in fields) + "))"
        if classes:
            keyset += " AND EXISTS (SELECT 1 FROM changes c WHERE c.revision_id = r.id AND "
            keyset += f"c.class IN ({_literals(classes)}))"
        rows = tx.all(
            "SELECT r.id, r.article_id, r.number, r.fetched_at AS at, r.headline, a.url, a.site,"
            " p.headline AS previous FROM revisions r JOIN articles a ON a.id = r.article_id"
            " LEFT JOIN revisions p ON p.article_id = r.article_id AND p.number = r.number - 1"
            f" WHERE r.number > 1{keyset}{common} ORDER BY r.fetched_at DESC, r.id DESC LIMIT ?",
            [*params, *more, limit],
        )
        return [{**dict(r), "at": self._at(r["at"]), "rank": _REVISION} for r in rows]

    def _listed_events(
        self,
        tx: Tx,
        query: ChangeQuery,
        kinds: list[str],
        after: tuple[Any, ...] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        keyset, params = self._keyset("e.at", _EVENT, after)
        common, more = self._common(query, "e", "e.at")
        rows = tx.all(
            "SELECT e.id, e.article_id, e.at, e.kind, e.detail, e.fetch_id, a.url, a.site,"
            " coalesce(l.headline, '') AS headline FROM events e"
            " JOIN articles a ON a.id = e.article_id"
            " LEFT JOIN revisions l ON l.article_id = e.article_id AND l.number = a.revision_count"
            f" WHERE e.kind IN ({_literals(kinds)}){keyset}{common}"
            " ORDER BY e.at DESC, e.id DESC LIMIT ?",
            [*params, *more, limit],
        )
        return [{**dict(r), "at": self._at(r["at"]), "rank": _EVENT} for r in rows]

    def _changes_of(self, tx: Tx, revision_ids: list[int]) -> dict[int, tuple[Change, ...]]:
        if not revision_ids:
            return {}
        rows = tx.all(
            f"SELECT * FROM changes WHERE revision_id IN ({_marks(revision_ids)})"
            " ORDER BY revision_id, position",
            revision_ids,
        )
        found: dict[int, list[Change]] = {}
        for row in rows:
            found.setdefault(row["revision_id"], []).append(self._change(row))
        return {key: tuple(value) for key, value in found.items()}

    def _entry(self, row: dict[str, Any], changes: tuple[Change, ...]) -> ChangeEntry:
        base = {"article_id": row["article_id"], "url": row["url"], "site": row["site"]}
        if row["rank"] == _EVENT:
            event = Event(
                article_id=row["article_id"],
                at=row["at"],
                kind=EventKind(row["kind"]),
                detail=row["detail"],
                id=row["id"],
                fetch_id=row["fetch_id"],
            )
            return ChangeEntry(**base, at=row["at"], headline=row["headline"], event=event)
        headline_changed = any(c.field == "headline" for c in changes)
        return ChangeEntry(
            **base,
            at=row["at"],
            revision=row["number"],
            headline=row["headline"],
            old_headline=row["previous"] if headline_changed else None,
            changes=changes,
        )

    # --- articles, their URLs and checks ------------------------------------------------------
    def articles_page(
        self,
        *,
        site: str | None = None,
        status: ArticleStatus | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Listing[Article]:
        check_limit(limit)
        sql, params = "", []
        if site is not None:
            sql, params = " AND a.site = ?", [site]
        if status is not None:
            sql, params = sql + " AND a.status = ?", [*params, str(ArticleStatus(status))]
        if cursor is not None:
            at, article_id = decode_cursor(cursor, "ti")
            sql, params = (
                sql + f" AND ({_CHANGED}, a.id) < (?, ?)",
                [*params, self._ts(at), article_id],
            )
        columns = ", ".join(f"a.{c.strip()}" for c in _ARTICLE_COLUMNS.split(","))
        with self._tx() as tx:
            rows = tx.all(
                f"SELECT {columns} FROM articles a WHERE TRUE{sql}"
                f" ORDER BY {_CHANGED} DESC, a.id DESC LIMIT ?",
                [*params, limit + 1],
            )
        articles = tuple(self._article(r) for r in rows[:limit])
        if len(rows) <= limit:
            return Listing(articles)
        last = articles[-1]
        changed = last.last_changed_at or last.first_seen
        return Listing(articles, encode_cursor(changed.isoformat(), last.id))

    def article_urls(self, article_id: int) -> list[str]:
        with self._tx() as tx:
            row = tx.one("SELECT url FROM articles WHERE id = ?", (article_id,))
            if row is None:
                raise NotFound(f"no article with id {article_id}")
            others = tx.all(
                "SELECT url FROM article_urls WHERE article_id = ? AND url <> ? ORDER BY url",
                (article_id, row["url"]),
            )
        return [row["url"], *(r["url"] for r in others)]

    def checks(
        self, article_id: int, *, cursor: str | None = None, limit: int = 50
    ) -> Listing[CheckInfo]:
        check_limit(limit)
        sql, params = "", []
        if cursor is not None:
            at, fetch_id = decode_cursor(cursor, "ts")
            sql, params = " AND (fetched_at, fetch_id) < (?, ?)", [self._ts(at), fetch_id]
        with self._tx() as tx:
            rows = tx.all(
                "SELECT fetch_id, fetched_at, outcome, http_status, revision, error FROM fetches"
                f" WHERE article_id = ?{sql} ORDER BY fetched_at DESC, fetch_id DESC LIMIT ?",
                [article_id, *params, limit + 1],
            )
        found = tuple(
            CheckInfo(
                fetch_id=r["fetch_id"],
                at=self._at(r["fetched_at"]),
                outcome=Outcome(r["outcome"]),
                http_status=r["http_status"],
                revision=r["revision"],
                error=r["error"],
            )
            for r in rows[:limit]
        )
        if len(rows) <= limit:
            return Listing(found)
        return Listing(found, encode_cursor(found[-1].at.isoformat(), found[-1].fetch_id))


def _plan(query: ChangeQuery) -> tuple[list[str] | None, list[str], list[str]]:
    """What a query lists: the change-field groups of revisions (None: no revisions; []: any
    revision), the event kinds, and the change classes, each validated."""
    unknown = sorted(set(query.groups) - set(CHANGE_GROUPS))
    if unknown:
        raise InvalidInput(f"unknown change group(s) {unknown}: choose from {list(CHANGE_GROUPS)}")
    try:
        classes = sorted(str(ChangeClass(c)) for c in query.classes)
    except ValueError as exc:
        raise InvalidInput(f"unknown change class in {sorted(query.classes)}") from exc
    fields = sorted(g for g in query.groups if g in _FIELD_TESTS)
    events = sorted(g for g in query.groups if g in _EVENT_GROUPS)
    if not query.groups:
        return [], ([] if classes else list(_LISTED_EVENTS)), classes
    kinds = [] if classes else [k for g in events for k in _EVENT_GROUPS[g]]
    return (fields or None), kinds, classes
