"""The write protocol: one fetch recorded in one transaction, keyed by its fetch id."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from storage import codec
from storage.base import Compare
from storage.errors import NotFound, StorageError
from storage.model import (
    ArticleStatus,
    Change,
    EventKind,
    FetchResult,
    Outcome,
    PageKind,
    RecordResult,
)
from storage.sqlstore.base import (
    _EVENT_ALERTS,
    _STATE_EVENTS,
    SqlBase,
    Tx,
    site_of,
    validate_url,
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
        if (done := result.encoded) is not None:  # encoded by the caller (its process pool)
            return cls(done.content_hash, done.page, done.raw_html)
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


class Writes(SqlBase):
    """The write protocol: one fetch recorded in one transaction, keyed by its fetch id."""

    def record(self, result: FetchResult, compare: Compare | None = None) -> RecordResult:
        return self.record_many([result], compare)[0]

    def record_many(
        self, results: Sequence[FetchResult], compare: Compare | None = None
    ) -> list[RecordResult]:
        """Record several fetches in ONE transaction (each still keyed by its fetch id): the
        daemon batches checks that finish together. Articles are locked in id order, so two
        workers' batches cannot deadlock.

        The batch's articles are locked, and its fetch ids looked up, in one statement each;
        the writes that follow need no answers back, so PostgreSQL can pipeline them."""
        order = sorted(range(len(results)), key=lambda i: results[i].article_id)
        encoded = {i: _Encoded.of(results[i]) for i in order}  # CPU work before the locks
        recorded: dict[int, RecordResult] = {}
        with self._tx(write=True) as tx:
            # Lock first: a concurrent repeat of one of these fetches then waits here, and
            # its committed fetch row is seen below instead of colliding with it.
            articles = self._lock_articles(tx, sorted({r.article_id for r in results}))
            done = self._recorded(tx, [r.fetch_id for r in results])
            older = self._older_hashes(tx, results, encoded)
            for i in order:
                result = results[i]
                if result.fetch_id in done:
                    outcome, number = done[result.fetch_id]
                    recorded[i] = RecordResult(outcome, number, duplicate=True)
                    continue
                article = articles.pop(result.article_id, None)
                known = older
                if article is None:  # not there, or changed by an earlier result of the batch
                    article, known = self._article_row(tx, result.article_id), None
                recorded[i] = self._record_in(tx, result, compare, encoded[i], article, known)
                done[result.fetch_id] = (recorded[i].outcome, recorded[i].revision)
        return [recorded[i] for i in range(len(results))]

    _WRITE_COLUMNS = (
        "id, url, revision_count, latest_hash, status, lease_owner, flip_hash, flip_count"
    )

    def _lock_articles(self, tx: Tx, ids: Sequence[int]) -> dict[int, Any]:
        marks = ", ".join("?" * len(ids))
        rows = tx.all(
            f"SELECT {self._WRITE_COLUMNS} FROM articles WHERE id IN ({marks}) ORDER BY id"
            f"{self.FOR_UPDATE}",
            ids,
        )
        return {row["id"]: row for row in rows}

    def _article_row(self, tx: Tx, article_id: int) -> Any:
        row = tx.one(f"SELECT {self._WRITE_COLUMNS} FROM articles WHERE id = ?", (article_id,))
        if row is None:
            raise NotFound(f"no article with id {article_id}")
        return row

    def _recorded(self, tx: Tx, fetch_ids: Sequence[str]) -> dict[str, tuple[Outcome, Any]]:
        marks = ", ".join("?" * len(fetch_ids))
        rows = tx.all(
            f"SELECT fetch_id, outcome, revision FROM fetches WHERE fetch_id IN ({marks})",
            fetch_ids,
        )
        return {r["fetch_id"]: (Outcome(r["outcome"]), r["revision"]) for r in rows}

    def _older_hashes(
        self, tx: Tx, results: Sequence[FetchResult], encoded: dict[int, _Encoded]
    ) -> dict[tuple[int, str], int]:
        """For the flip-flop guard, in one statement for the batch: which of these pages
        equal an earlier revision of their article (and its number)."""
        pairs = {
            (r.article_id, e.page_hash)
            for r, e in ((results[i], encoded[i]) for i in encoded)
            if r.flip_confirmations > 0 and e.page_hash is not None
        }
        if not pairs:
            return {}
        ids, hashes = sorted({a for a, _ in pairs}), sorted({h for _, h in pairs})
        rows = tx.all(
            "SELECT article_id, content_hash, min(number) AS number FROM revisions "
            f"WHERE article_id IN ({', '.join('?' * len(ids))}) "
            f"AND content_hash IN ({', '.join('?' * len(hashes))}) "
            "GROUP BY article_id, content_hash",
            [*ids, *hashes],
        )
        return {(r["article_id"], r["content_hash"]): r["number"] for r in rows}

    def _record_in(
        self,
        tx: Tx,
        result: FetchResult,
        compare: Compare | None,
        encoded: _Encoded,
        article: Any,
        older: dict[tuple[int, str], int] | None = None,
    ) -> RecordResult:
        outcome, number = self._apply(tx, article, result, compare, encoded, older)
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
        older: dict[tuple[int, str], int] | None,
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
        elif result.same_content and page is None:
            outcome = Outcome.UNCHANGED
        elif page is None or page.kind is PageKind.NOT_ARTICLE:
            outcome = Outcome.UNAVAILABLE  # never a revision that wipes out the article's text
        elif (page_hash := encoded.page_hash) == article["latest_hash"]:
            outcome = Outcome.UNCHANGED
        elif (flip := self._flip(tx, article, result, page_hash, older))[1]:
            outcome = Outcome.UNCHANGED  # an older version served again: not (yet) a revision
        else:
            number = self._append_revision(tx, article, result, compare, encoded)
            outcome = Outcome.NEW if number == 1 else Outcome.CHANGED
        self._update_article(tx, article, result, outcome, number, flip, encoded.page_hash)
        return outcome, number

    def _flip(
        self,
        tx: Tx,
        article: Any,
        result: FetchResult,
        page_hash: str,
        known: dict[tuple[int, str], int] | None,
    ) -> tuple[str | None, int]:
        """Flip-flop guard: a page equal to an OLDER revision (a stale cache node) counts only
        once it has been seen `flip_confirmations` checks in a row. Returns the (hash, count) to
        remember, with count 0 when a revision should be written."""
        if result.flip_confirmations <= 0 or not article["revision_count"]:
            return None, 0
        if known is not None:  # looked up for the whole batch
            older = known.get((result.article_id, page_hash))
        else:
            row = tx.one(
                "SELECT min(number) AS number FROM revisions "
                "WHERE article_id = ? AND content_hash = ?",
                (result.article_id, page_hash),
            )
            older = row["number"]
        if older is None:
            return None, 0
        count = article["flip_count"] + 1 if article["flip_hash"] == page_hash else 1
        if count >= result.flip_confirmations:
            return None, 0  # it stayed: a genuine revert, recorded as a revision
        if count == 1:
            self._append_event(tx, result, EventKind.FLIP_FLOP, f"served revision {older} again")
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
        tx.execute(
            "INSERT INTO revisions (article_id, number, fetched_at, content_hash, headline, "
            "summary, fetch_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                result.article_id,
                number,
                self._ts(result.fetched_at),
                encoded.page_hash,
                codec.clean_text(result.page.headline),
                codec.summary_json(changes),
                result.fetch_id,
            ),
        )
        # The new row is found by its fetch id, not by RETURNING: no answer to wait for.
        tx.execute(
            "INSERT INTO revision_content (revision_id, page, raw_html) "
            "SELECT id, ?, ? FROM revisions WHERE fetch_id = ?",
            (encoded.page_blob, encoded.raw_blob, result.fetch_id),
        )
        if changes:
            tx.executemany(
                "INSERT INTO changes (revision_id, position, field, kind, class, old, new, patch, "
                "words_added, words_removed, similarity, notes, stealth, coarse) "
                "SELECT id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM revisions "
                "WHERE fetch_id = ?",
                [(*self._change_row(i, c), result.fetch_id) for i, c in enumerate(changes)],
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

    def _change_row(self, position: int, change: Change) -> tuple[Any, ...]:
        d = codec.change_to_dict(change)
        return (
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
