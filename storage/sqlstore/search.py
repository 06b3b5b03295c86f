"""Full-text search over every revision ever written, text since removed included.

The index records what each revision changed, not its whole text (schema 9): a revision's
searchable text is a set of pieces (its headline, title, byline names, body paragraphs, and
live-feed items' headlines and texts), and each revision adds the pieces its predecessor did
not have and removes those it no longer has. An added piece is indexed once, words and
positions (SQLite: a contentless FTS5 table; PostgreSQL: a tsvector under a GIN index); a
removal is a small row naming the piece. A piece is then present from the revision that added
it until the one that removed it, and a query is answered from those runs (`spans`): the
first and last revision that said it, and the revision after which it was gone, as before.
A phrase matches within one piece (never across a paragraph break).

A user's query is parsed (`searchquery`) into words, phrases, exclusions and ORs, and each term
rendered in the backend's own syntax from those parts only. Hits are ordered by the time of
their last match; the few shown get their snippet from the decoded page, so the index keeps no
second copy of the text.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from redline.storage import codec
from redline.storage.model import Listing, Page, SearchHit
from redline.storage.sqlstore import spans
from redline.storage.sqlstore.base import Tx, pairs_cte
from redline.storage.sqlstore.content import PAGE, Content
from redline.storage.sqlstore.reading import check_limit, decode_cursor, encode_cursor
from redline.storage.sqlstore.searchquery import SearchQuery, Term, parse_query

SEARCH_SCHEMA = 9  # the migration that made the index record what each revision changed
MAX_DOCUMENT = 300_000  # characters indexed per revision: PostgreSQL caps a tsvector at 1 MB
SNIPPET = 200
DAMAGED_SNIPPET = "[this revision's stored text is damaged: see `redline show`]"
_BACKFILL_BATCH = 500
_PAIRS = 500  # (article, revision) pairs looked up per query
# An upper bound of the time of an article's last match: its latest revision's time (every
# revision sets last_changed_at), in the expression the index `articles_changed` holds.
_BOUND = "coalesce(a.last_changed_at, a.first_seen)"


def search_text(page: Page) -> str:
    """What is searchable of a revision, as one text (for snippets)."""
    return "\n".join(_parts(page))


def search_pieces(page: Page | None) -> dict[bytes, str]:
    """The revision's searchable pieces by key: headline, title, byline names, body
    paragraphs, live-feed items' headlines and texts; cleaned, each once, in page order, up
    to MAX_DOCUMENT characters in all."""
    return {} if page is None else {piece_key(text): text for text in _parts(page)}


def _parts(page: Page) -> list[str]:
    parts = [page.headline, page.title, *page.byline, *page.body]
    for item in page.items:
        parts += [item.headline, item.text]
    found: list[str] = []
    room = MAX_DOCUMENT
    for text in dict.fromkeys(codec.clean_text(p) for p in parts if p):
        if room <= 0:
            break
        found.append(text[:room])
        room -= len(text) + 1
    return found


def piece_key(text: str) -> bytes:
    """8 bytes of SHA-256: which piece of an article's text a removal names."""
    return hashlib.sha256(text.encode()).digest()[:8]


def page_changes(previous: Page | None, current: Page) -> tuple[dict[bytes, str], list[bytes]]:
    """The pieces a revision added (by key, with their text) and the keys of those it
    removed. Only the changed pieces are hashed: most of a page is the page before."""
    before = set() if previous is None else set(_parts(previous))
    after = _parts(current)
    added = {piece_key(text): text for text in after if text not in before}
    return added, [piece_key(text) for text in before.difference(after)]


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


class Search(Content):
    """Full-text search, and the index writes that feed it."""

    # --- backend hooks --------------------------------------------------------------------------
    # SELECT article_id, number (the revision that added it) and piece of the added pieces
    # that match the term given as parameter.
    SEARCH_MATCH: ClassVar[str]
    # A condition on `articles a`: it has a piece matching the query given as parameter.
    SEARCH_ARTICLES: ClassVar[str]
    # Matching pieces beyond which a term is common: its articles are read down the articles'
    # index rather than listed from the search index (None: always listed).
    SEARCH_RARE: ClassVar[int | None] = None
    SEARCH_SYNTAX: ClassVar[str]  # "fts5" or "tsquery"
    SEARCH_SETUP: ClassVar[tuple[str, ...]] = ()  # statements run before a search

    # --- writing the index ----------------------------------------------------------------------
    def _index_revision(
        self, tx: Tx, article_id: int, number: int, page: Page, previous: Page | None
    ) -> None:
        """Index what revision `number` changed against the one before (`previous`: its
        page; None for a first revision, or one whose predecessor cannot be read, which is
        indexed as adding all of its text), in the transaction that writes it."""
        added, removed = page_changes(previous, page)
        self._index_changes(tx, article_id, number, added, removed)

    def _index_changes(
        self,
        tx: Tx,
        article_id: int,
        number: int,
        added: Mapping[bytes, str],
        removed: Sequence[bytes],
    ) -> None:
        if self.SEARCH_SYNTAX == "fts5":
            self._index_fts5(tx, article_id, number, added)
            if removed:
                tx.executemany(
                    "INSERT INTO search_removed (article_id, piece, number) VALUES (?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    [(article_id, key, number) for key in removed],
                )
            return
        # PostgreSQL: one statement each, the pieces as arrays (a first revision adds dozens).
        if added:
            tx.execute(
                "INSERT INTO revision_search (article_id, number, piece, document)"
                " SELECT ?, ?, p, to_tsvector('simple', t) FROM unnest(?::bytea[], ?::text[])"
                " AS x (p, t)",
                (article_id, number, list(added), list(added.values())),
            )
        if removed:
            tx.execute(
                "INSERT INTO search_removed (article_id, piece, number)"
                " SELECT ?, p, ? FROM unnest(?::bytea[]) AS x (p) ON CONFLICT DO NOTHING",
                (article_id, number, list(removed)),
            )

    def _index_fts5(self, tx: Tx, article_id: int, number: int, added: Mapping[bytes, str]) -> None:
        """Each added piece's row, and its words in FTS5 keyed by that row."""
        for key, text in added.items():
            tx.execute(
                "INSERT INTO search_added (article_id, number, piece) VALUES (?, ?, ?)",
                (article_id, number, key),
            )
            tx.execute(
                "INSERT INTO revision_search (rowid, document) VALUES (last_insert_rowid(), ?)",
                (text,),
            )

    def _unindex_article(self, tx: Tx, article_id: int) -> None:
        """Take an article out of the index (a purge, in its transaction).

        A contentless FTS5 index forgets a row only when given the words it was indexed with:
        they are computed again from the stored page that added each piece. A piece whose
        page cannot be read any more stays in FTS5, matching no row."""
        if self.SEARCH_SYNTAX == "fts5":
            rows = tx.all(
                "SELECT s.id, s.piece, r.id AS revision_id FROM search_added s"
                " JOIN revisions r ON r.article_id = s.article_id AND r.number = s.number"
                " WHERE s.article_id = ?",
                (article_id,),
            )
            pages = self._decoded(tx, article_id, {r["revision_id"] for r in rows}, PAGE)
            pieces = {i: search_pieces(codec.page_from_json(p or b"{}")) for i, p in pages.items()}
            tx.executemany(
                "INSERT INTO revision_search (revision_search, rowid, document)"
                " VALUES ('delete', ?, ?)",
                [
                    (r["id"], pieces[r["revision_id"]][bytes(r["piece"])])
                    for r in rows
                    if bytes(r["piece"]) in pieces.get(r["revision_id"], {})
                ],
            )
            tx.execute("DELETE FROM search_added WHERE article_id = ?", (article_id,))
        else:
            tx.execute("DELETE FROM revision_search WHERE article_id = ?", (article_id,))
        tx.execute("DELETE FROM search_removed WHERE article_id = ?", (article_id,))

    def backfill_search(self, batch: int = _BACKFILL_BATCH) -> int:
        """Index the revisions written before the index existed, `batch` per transaction.

        Each revision is indexed against the one before it, read from the store, so the
        revisions may be indexed in any order, and the daemon's new ones meanwhile. Progress
        is committed with each batch: an interrupted backfill resumes where it stopped and a
        finished one does nothing; returns how many revisions it indexed."""
        done = 0
        while True:
            with self._tx(write=True) as tx:
                mark = tx.one(f"SELECT next_id, last_id FROM search_backfill{self.FOR_UPDATE}")
                if mark is None:
                    return done
                rows = tx.all(
                    "SELECT r.id, r.article_id, r.number, p.id AS previous FROM revisions r"
                    " LEFT JOIN revisions p ON p.article_id = r.article_id"
                    " AND p.number = r.number - 1"
                    " WHERE r.id > ? AND r.id <= ? ORDER BY r.id LIMIT ?",
                    (mark["next_id"], mark["last_id"], batch),
                )
                if not rows:
                    tx.execute("DELETE FROM search_backfill")
                    return done
                self._backfill(tx, rows)
                tx.execute("UPDATE search_backfill SET next_id = ?", (rows[-1]["id"],))
            done += len(rows)

    def _backfill(self, tx: Tx, rows: Sequence[Any]) -> None:
        ids = {r["id"] for r in rows} | {r["previous"] for r in rows if r["previous"]}
        pages = {
            i: codec.page_from_json(p or b"{}")
            for i, p in self._decoded(tx, None, ids, PAGE).items()
        }
        for row in rows:  # a damaged revision is left out of the index, not the batch
            if row["id"] in pages:
                previous = pages.get(row["previous"]) if row["previous"] else None
                self._index_revision(
                    tx, row["article_id"], row["number"], pages[row["id"]], previous
                )

    # --- searching ------------------------------------------------------------------------------
    def search(
        self, text: str, *, site: str | None = None, cursor: str | None = None, limit: int = 20
    ) -> Listing[SearchHit]:
        check_limit(limit)
        query = parse_query(text)
        after = None if cursor is None else decode_cursor(cursor, "ti")
        with self._tx() as tx:
            for statement in self.SEARCH_SETUP:
                tx.execute(statement)
            groups = self._settle(tx, query, site, after, limit + 1)
            hits = self._hits(tx, groups[:limit], query)
        if len(groups) <= limit:
            return Listing(hits)
        at, article_id = self._key(groups[limit - 1])
        return Listing(hits, encode_cursor(at.isoformat(), article_id))

    def _key(self, group: Any) -> tuple[datetime, int]:
        """Where a group sorts: the time of its last match, then its article id."""
        return self._at(group["last_at"]), int(group["article_id"])

    def _settle(
        self,
        tx: Tx,
        query: SearchQuery,
        site: str | None,
        after: tuple[Any, ...] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        """The first `limit` matching articles after the cursor, by the time of their last
        match.

        Candidates (articles where every group of the query has a term in some revision) are
        taken a growing batch at a time in the order of an upper bound of that time (their
        latest revision's), and settled exactly (where the query held, and when it last did),
        until no candidate left can sort before the page's last one: a page of a common word
        reads a few dozen articles, not every one that has it."""
        pool = self._candidate_pool(tx, query, site)
        found: list[dict[str, Any]] = []
        below: tuple[datetime, int] | None = None
        start, size = 0, limit
        while True:
            if pool is None:
                batch = self._candidates(tx, query, site, below, size)
                done = len(batch) < size
            else:
                batch, start = pool[start : start + size], start + size
                done = start >= len(pool)
            found += self._matches(tx, query, batch, after)
            found.sort(key=self._key, reverse=True)
            if done:
                return found[:limit]
            below = (batch[-1]["bound"], batch[-1]["article_id"])
            if len(found) >= limit and self._key(found[limit - 1]) >= below:
                return found[:limit]
            size *= 2

    def _candidate_pool(
        self, tx: Tx, query: SearchQuery, site: str | None
    ) -> list[dict[str, Any]] | None:
        """Every candidate, in order, when a group of the query is rare enough to list them
        from the index (SQLite: always); None when every group is common, and the candidates
        are better read down the articles' index a batch at a time (`_candidates`)."""
        ids: set[int] | None = None
        for group in query.groups:
            rendered = [self._rendered_group(group)]
            if self.SEARCH_RARE is None:
                sql = f"SELECT DISTINCT m.article_id FROM ({self.SEARCH_MATCH}) m"
                rows = tx.all(sql, rendered)
            else:
                rows = tx.all(
                    f"SELECT m.article_id FROM ({self.SEARCH_MATCH}) m LIMIT {self.SEARCH_RARE}",
                    rendered,
                )
                if len(rows) >= self.SEARCH_RARE:
                    continue  # common: no list from this group
            found = {r["article_id"] for r in rows}
            ids = found if ids is None else ids & found
        if ids is None:
            return None
        return self._articles_by_bound(tx, sorted(ids), site)

    def _candidates(
        self,
        tx: Tx,
        query: SearchQuery,
        site: str | None,
        below: tuple[datetime, int] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        """The next `limit` articles below `below` (in the order of their latest revision's
        time, then id) where every group of the query has a term in some revision."""
        where, params = [], list[Any]()
        for group in query.groups:
            where.append(self.SEARCH_ARTICLES)
            params.append(self._rendered_group(group))
        if site is not None:
            where.append("a.site = ?")
            params.append(site)
        if below is not None:
            where.append(f"({_BOUND}, a.id) < (?, ?)")
            params += [self._ts(below[0]), below[1]]
        rows = tx.all(
            f"SELECT a.id, a.revision_count, {_BOUND} AS bound FROM articles a"
            f" WHERE {' AND '.join(where)} ORDER BY {_BOUND} DESC, a.id DESC LIMIT ?",
            [*params, limit],
        )
        return [
            {"article_id": r["id"], "latest": r["revision_count"], "bound": self._at(r["bound"])}
            for r in rows
        ]

    def _articles_by_bound(
        self, tx: Tx, ids: Sequence[int], site: str | None
    ) -> list[dict[str, Any]]:
        found = []
        for i in range(0, len(ids), _PAIRS):
            chunk = ids[i : i + _PAIRS]
            where, params = f"a.id IN ({', '.join('?' * len(chunk))})", list[Any](chunk)
            if site is not None:
                where, params = where + " AND a.site = ?", [*params, site]
            found += tx.all(
                f"SELECT a.id, a.revision_count, {_BOUND} AS bound FROM articles a WHERE {where}",
                params,
            )
        candidates = [
            {"article_id": r["id"], "latest": r["revision_count"], "bound": self._at(r["bound"])}
            for r in found
        ]
        candidates.sort(key=lambda c: (c["bound"], c["article_id"]), reverse=True)
        return candidates

    def _rendered(self, term: Term) -> str:
        return _fts5_term(term) if self.SEARCH_SYNTAX == "fts5" else _ts_term(term)

    def _rendered_group(self, group: Sequence[Term]) -> str:
        """Any of the group's terms, as one query of the backend's syntax."""
        either = " OR " if self.SEARCH_SYNTAX == "fts5" else " | "
        return either.join(f"({self._rendered(t)})" for t in group)

    def _matches(
        self,
        tx: Tx,
        query: SearchQuery,
        batch: Sequence[dict[str, Any]],
        after: tuple[Any, ...] | None,
    ) -> list[dict[str, Any]]:
        """The batch's articles where the query holds, with their first and last matching
        revision and the time of the last, after the cursor."""
        if not batch:
            return []
        ids = [c["article_id"] for c in batch]
        terms = {t for g in query.groups for t in g} | set(query.excluded)
        present: dict[int, dict[Term, list[spans.Span]]] = {i: {} for i in ids}
        for term in sorted(terms):
            for article_id, runs in self._term_spans(tx, term, ids).items():
                present[article_id][term] = runs
        groups = []
        for c in batch:
            held = spans.matching(query, present[c["article_id"]])
            ends = spans.first_and_last(held, c["latest"])
            if ends is not None:
                groups.append({**c, "first": ends[0], "last": ends[1]})
        times = self._revision_rows(tx, [(g["article_id"], g["last"]) for g in groups])
        matched = []
        for group in groups:
            group["last_at"] = times[(group["article_id"], group["last"])]["fetched_at"]
            if after is None or self._key(group) < (after[0], after[1]):
                matched.append(group)
        return matched

    def _term_spans(self, tx: Tx, term: Term, ids: Sequence[int]) -> dict[int, list[spans.Span]]:
        """Where the term was present in these articles: from each revision that added a
        piece holding it until the first later one that removed that piece."""
        rows = tx.all(
            "SELECT m.article_id, m.number, (SELECT min(x.number) FROM search_removed x"
            " WHERE x.article_id = m.article_id AND x.piece = m.piece AND x.number > m.number)"
            f" AS removed FROM ({self.SEARCH_MATCH}) m"
            f" WHERE m.article_id IN ({', '.join('?' * len(ids))})",
            [self._rendered(term), *ids],
        )
        runs: dict[int, list[spans.Span]] = {}
        for r in rows:
            end = spans.OPEN if r["removed"] is None else r["removed"]
            runs.setdefault(r["article_id"], []).append((r["number"], end))
        return {article_id: spans.normalise(found) for article_id, found in runs.items()}

    def _hits(self, tx: Tx, groups: Sequence[Any], query: SearchQuery) -> tuple[SearchHit, ...]:
        """The page's hits, read in a few queries for the whole page: their articles, the
        revisions they name, and the last matching revisions' pages for the snippets."""
        if not groups:
            return ()
        ids = [g["article_id"] for g in groups]
        articles = {
            r["id"]: r
            for r in tx.all(
                "SELECT id, url, site, revision_count FROM articles"
                f" WHERE id IN ({', '.join('?' * len(ids))})",
                ids,
            )
        }
        numbers = [(g["article_id"], (g["first"], g["last"], g["last"] + 1)) for g in groups]
        revisions = self._revision_rows(tx, [(a, n) for a, three in numbers for n in three])
        lasts = [revisions[(g["article_id"], g["last"])]["id"] for g in groups]
        pages = self._decoded(tx, None, lasts, PAGE)  # a damaged one is not there
        return tuple(
            self._hit(g, articles[g["article_id"]], revisions, pages, query) for g in groups
        )

    def _hit(
        self,
        group: Any,
        article: Any,
        revisions: Mapping[tuple[int, int], Any],
        pages: Mapping[int, bytes | None],
        query: SearchQuery,
    ) -> SearchHit:
        article_id, first, last = group["article_id"], group["first"], group["last"]
        last_row = revisions[(article_id, last)]
        removed = revisions.get((article_id, last + 1))
        return SearchHit(
            article_id=article_id,
            url=article["url"],
            site=article["site"],
            headline=last_row["headline"],
            first=first,
            last=last,
            latest=article["revision_count"],
            first_at=self._at(revisions[(article_id, first)]["fetched_at"]),
            last_at=self._at(last_row["fetched_at"]),
            removed_in=None if removed is None else last + 1,
            removed_at=None if removed is None else self._at(removed["fetched_at"]),
            snippet=_snippet(pages, last_row["id"], query),
        )

    def _revision_rows(
        self, tx: Tx, pairs: Sequence[tuple[int, int]]
    ) -> dict[tuple[int, int], Any]:
        """Revisions by (article id, number), those that exist."""
        found = {}
        for i in range(0, len(pairs), _PAIRS):
            chunk = pairs[i : i + _PAIRS]
            rows = tx.all(
                f"{pairs_cte(len(chunk))} SELECT r.id, r.article_id, r.number, r.fetched_at,"
                " r.headline FROM wanted w"
                " JOIN revisions r ON r.article_id = w.article_id AND r.number = w.number",
                [v for pair in chunk for v in pair],
            )
            found.update({(r["article_id"], r["number"]): r for r in rows})
        return found


def _snippet(pages: Mapping[int, bytes | None], revision_id: int, query: SearchQuery) -> str:
    """Text around the first query word in that revision; a damaged revision still lists
    (its headline and numbers come from elsewhere), saying so instead."""
    if revision_id not in pages:
        return DAMAGED_SNIPPET
    page = codec.page_from_json(pages[revision_id] or b"{}")
    return snippet(search_text(page), query.first_word)


def _ts_term(term: Term) -> str:
    """One term as `to_tsquery` text: words quoted (they hold letters and digits only)."""
    return " <-> ".join(f"'{w}'" for w in term)


def _fts5_term(term: Term) -> str:
    """One term in FTS5 syntax: a quoted string (words hold no quote)."""
    return '"' + " ".join(term) + '"'
