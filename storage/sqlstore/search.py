"""Full-text search over every revision ever written, text since removed included.

Each revision's words go into a search index in the transaction that writes the revision
(SQLite: a contentless FTS5 table; PostgreSQL: a tsvector per revision under a GIN index).
A user's query is parsed (`searchquery`) into words, phrases, exclusions and ORs, and
rendered in the backend's own syntax from those parts only. Hits are grouped per article;
the few shown get their snippet from the decoded page, so the index keeps no second copy of
the text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

from redline.storage import codec
from redline.storage.model import Listing, Page, SearchHit
from redline.storage.sqlstore.base import SqlBase, Tx
from redline.storage.sqlstore.reading import check_limit, decode_cursor, encode_cursor
from redline.storage.sqlstore.searchquery import SearchQuery, fts5_query, parse_query, tsquery

SEARCH_SCHEMA = 6  # the migration that created the index
MAX_DOCUMENT = 300_000  # characters indexed per revision: PostgreSQL caps a tsvector at 1 MB
SNIPPET = 200
_BACKFILL_BATCH = 500


def search_text(page: Page) -> str:
    """What is searchable of a revision: headline, title, byline, body and live-feed items."""
    parts = [page.headline, page.title, *page.byline, *page.body]
    for item in page.items:
        parts += [item.headline, item.text]
    return codec.clean_text("\n".join(p for p in parts if p))[:MAX_DOCUMENT]


def snippet(text: str, word: str, width: int = SNIPPET) -> str:
    """About `width` characters of plain text around the first whole-word `word`."""
    flat = " ".join(text.split())
    found = re.search(rf"(?<![^\W_]){re.escape(word)}(?![^\W_])", flat, re.IGNORECASE)
    start = 0 if found is None else max(0, found.start() - width // 3)
    if start:
        space = flat.find(" ", start)
        start = space + 1 if 0 <= space < start + 20 else start
    piece = flat[start : start + width]
    end = start + len(piece)
    if end < len(flat) and " " in piece[width // 2 :]:
        piece = piece[: piece.rfind(" ")]
    return ("…" if start else "") + piece + ("…" if end < len(flat) else "")


class Search(SqlBase):
    """Full-text search, and the index writes that feed it."""

    # --- backend hooks --------------------------------------------------------------------------
    # INSERT of a revision's index row, from `revisions` WHERE {}, the text its parameter.
    SEARCH_INSERT: ClassVar[str]
    # SELECT article_id, number, fetched_at of the revisions matching the query parameter.
    SEARCH_MATCH: ClassVar[str]
    SEARCH_SYNTAX: ClassVar[str]  # "fts5" or "tsquery"
    SEARCH_SETUP: ClassVar[tuple[str, ...]] = ()  # statements run before a search

    def _index_revision(self, tx: Tx, page: Page, fetch_id: str) -> None:
        """Index a revision in the transaction that writes it, found by its fetch id."""
        tx.execute(self.SEARCH_INSERT.format("fetch_id = ?"), (search_text(page), fetch_id))

    def _unindex_article(self, tx: Tx, article_id: int) -> None:
        """Take an article's revisions out of the index (a purge, in its transaction).

        A contentless FTS5 index forgets a row only when given the words it was indexed with:
        they are computed again from the stored page by the same `search_text`. Revisions the
        backfill has not reached yet are not in the index and are left alone."""
        if self.SEARCH_SYNTAX != "fts5":
            tx.execute("DELETE FROM revision_search WHERE article_id = ?", (article_id,))
            return
        mark = tx.one("SELECT next_id, last_id FROM search_backfill")
        rows = tx.all(
            "SELECT r.id, c.page FROM revisions r JOIN revision_content c ON c.revision_id = r.id"
            " WHERE r.article_id = ? ORDER BY r.id",
            (article_id,),
        )
        indexed = [
            r for r in rows if mark is None or not mark["next_id"] < r["id"] <= mark["last_id"]
        ]
        tx.executemany(
            "INSERT INTO revision_search (revision_search, rowid, document)"
            " VALUES ('delete', ?, ?)",
            [(r["id"], search_text(codec.decode_page(r["page"]))) for r in indexed],
        )

    def backfill_search(self, batch: int = _BACKFILL_BATCH) -> int:
        """Index the revisions written before the index existed, `batch` per transaction.

        Progress is committed with each batch, so an interrupted backfill resumes where it
        stopped and a finished one does nothing; returns how many revisions it indexed."""
        done = 0
        while True:
            with self._tx(write=True) as tx:
                mark = tx.one(f"SELECT next_id, last_id FROM search_backfill{self.FOR_UPDATE}")
                if mark is None:
                    return done
                rows = tx.all(
                    "SELECT r.id, c.page FROM revisions r"
                    " JOIN revision_content c ON c.revision_id = r.id"
                    " WHERE r.id > ? AND r.id <= ? ORDER BY r.id LIMIT ?",
                    (mark["next_id"], mark["last_id"], batch),
                )
                if not rows:
                    tx.execute("DELETE FROM search_backfill")
                    return done
                tx.executemany(
                    self.SEARCH_INSERT.format("id = ?"),
                    [(search_text(codec.decode_page(r["page"])), r["id"]) for r in rows],
                )
                tx.execute("UPDATE search_backfill SET next_id = ?", (rows[-1]["id"],))
            done += len(rows)

    def search(
        self, text: str, *, site: str | None = None, cursor: str | None = None, limit: int = 20
    ) -> Listing[SearchHit]:
        check_limit(limit)
        query = parse_query(text)
        after = None if cursor is None else decode_cursor(cursor, "ti")
        with self._tx() as tx:
            for statement in self.SEARCH_SETUP:
                tx.execute(statement)
            if self.SEARCH_SYNTAX == "fts5":
                groups = self._groups(tx, fts5_query(query), site, after, limit + 1)
            elif query.has_phrase:
                groups = self._phrase_groups(tx, query, site, after, limit + 1)
            else:
                groups = self._groups(tx, tsquery(query), site, after, limit + 1)
            hits = tuple(self._hit(tx, g, query) for g in groups[:limit])
        if len(groups) <= limit:
            return Listing(hits)
        at, article_id = self._key(groups[limit - 1])
        return Listing(hits, encode_cursor(at.isoformat(), article_id))

    def _key(self, group: Any) -> tuple[datetime, int]:
        """Where a group sorts: the time of its last match, then its article id."""
        return self._at(group["last_at"]), int(group["article_id"])

    def _groups(
        self,
        tx: Tx,
        rendered: str,
        site: str | None,
        after: tuple[Any, ...] | None,
        limit: int | None,
        ids: Sequence[int] = (),
    ) -> list[Any]:
        """The matching revisions grouped per article, the most recent match first."""
        sql, params = "", list[Any]([rendered])
        if site is not None:
            sql, params = " JOIN articles a ON a.id = m.article_id AND a.site = ?", [*params, site]
        if ids:
            sql, params = (
                sql + f" WHERE m.article_id IN ({', '.join('?' * len(ids))})",
                [
                    *params,
                    *ids,
                ],
            )
        sql += " GROUP BY m.article_id"
        if after is not None:
            sql += " HAVING (max(m.fetched_at), m.article_id) < (?, ?)"
            params += [self._ts(after[0]), after[1]]
        sql += " ORDER BY last_at DESC, m.article_id DESC"
        if limit is not None:
            sql, params = sql + " LIMIT ?", [*params, limit]
        return tx.all(
            "SELECT m.article_id, min(m.number) AS first, max(m.number) AS last,"
            f" max(m.fetched_at) AS last_at FROM ({self.SEARCH_MATCH}) m{sql}",
            params,
        )

    def _phrase_groups(
        self,
        tx: Tx,
        query: SearchQuery,
        site: str | None,
        after: tuple[Any, ...] | None,
        limit: int,
    ) -> list[Any]:
        """`_groups` for a query with a phrase, without testing every document.

        GIN keeps no word positions: a phrase is tested on each document its words are in,
        reading the document, which for common words is most of them. So the articles whose
        documents hold the phrase's words are found first from the index alone, with the time
        of their last such revision: an upper bound of their last match. They are then tested
        exactly, a growing batch at a time, in that order, until no article left untested can
        sort before the page's last one."""
        candidates = self._groups(tx, tsquery(query, loose=True), site, None, None)
        exact = tsquery(query)
        found: list[Any] = []
        start, size = 0, limit
        while start < len(candidates):
            batch = [c["article_id"] for c in candidates[start : start + size]]
            found += self._groups(tx, exact, None, after, None, batch)
            start, size = start + len(batch), size * 2
            found.sort(key=self._key, reverse=True)
            if (
                len(found) >= limit
                and start < len(candidates)
                and self._key(found[limit - 1]) > self._key(candidates[start])
            ):
                break
        return found[:limit]

    def _hit(self, tx: Tx, group: Any, query: SearchQuery) -> SearchHit:
        article_id, first, last = group["article_id"], group["first"], group["last"]
        article = tx.one(
            "SELECT url, site, revision_count FROM articles WHERE id = ?", (article_id,)
        )
        rows = tx.all(
            "SELECT number, fetched_at, headline FROM revisions"
            " WHERE article_id = ? AND number IN (?, ?, ?)",
            (article_id, first, last, last + 1),
        )
        found = {r["number"]: r for r in rows}
        content = tx.one(
            "SELECT c.page FROM revisions r JOIN revision_content c ON c.revision_id = r.id"
            " WHERE r.article_id = ? AND r.number = ?",
            (article_id, last),
        )
        removed = found.get(last + 1)
        return SearchHit(
            article_id=article_id,
            url=article["url"],
            site=article["site"],
            headline=found[last]["headline"],
            first=first,
            last=last,
            latest=article["revision_count"],
            first_at=self._at(found[first]["fetched_at"]),
            last_at=self._at(found[last]["fetched_at"]),
            removed_in=None if removed is None else last + 1,
            removed_at=None if removed is None else self._at(removed["fetched_at"]),
            snippet=snippet(search_text(codec.decode_page(content["page"])), query.first_word),
        )
