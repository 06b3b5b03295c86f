"""The write protocol: one check recorded in one transaction, keyed by its fetch id.

The store persists what `scheduler.decision` decided and decides nothing itself. It re-checks
only what concurrency requires: whether the fetch id was already recorded (a retried commit is
a no-op) and, for a new revision, whether the revision it was diffed against is still the
latest (if not, nothing is written and the check is reported stale).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from redline.storage import codec, delta
from redline.storage.checks import CheckRecord, Error, NewRevision, PlannedAlert
from redline.storage.errors import NotFound
from redline.storage.model import Change, EventKind, Outcome, RecordResult
from redline.storage.sqlstore.base import Tx, site_of, validate_url
from redline.storage.sqlstore.encoding import Encoded, encode_batch
from redline.storage.sqlstore.search import Search


class Writes(Search):
    """The write protocol: one check recorded in one transaction, keyed by its fetch id."""

    def record(self, check: CheckRecord) -> RecordResult:
        return self.record_many([check])[0]

    def record_many(self, checks: Sequence[CheckRecord]) -> list[RecordResult]:
        """Record several checks in ONE transaction (each still keyed by its fetch id): the
        daemon batches checks that finish together. Articles are locked in id order, so two
        workers' batches cannot deadlock; a missing article fails the whole batch.

        The batch's articles are locked, and its fetch ids looked up, in one statement each;
        the writes that follow need few answers back, so PostgreSQL can pipeline them."""
        order = sorted(range(len(checks)), key=lambda i: checks[i].article_id)
        encoded = self._encode(checks)  # CPU work before the locks
        recorded: dict[int, RecordResult] = {}
        with self._tx(write=True) as tx:
            # Lock first: a concurrent repeat of one of these fetches then waits here, and
            # its committed fetch row is seen below instead of colliding with it.
            articles = self._lock_articles(tx, sorted({c.article_id for c in checks}))
            done = self._recorded(tx, [c.fetch_id for c in checks])
            for i in order:
                check = checks[i]
                if check.fetch_id in done:
                    outcome, number = done[check.fetch_id]
                    recorded[i] = RecordResult(outcome, number, duplicate=True)
                    continue
                article = articles.pop(check.article_id, None)
                if article is None:  # not there, or changed by an earlier check of the batch
                    article = self._article_row(tx, check.article_id)
                recorded[i] = self._record_in(tx, check, encoded.get(i), article)
                if not recorded[i].stale:
                    done[check.fetch_id] = (recorded[i].outcome, recorded[i].revision)
        return [recorded[i] for i in range(len(checks))]

    def _encode(self, checks: Sequence[CheckRecord]) -> dict[int, Encoded]:
        """Each new revision's stored forms; one after the first is stored against its
        article's keyframe (read first, in one query for the batch)."""
        bases = {
            (c.article_id, c.decision.outcome.base_revision)
            for c in checks
            if isinstance(c.decision.outcome, NewRevision) and c.decision.outcome.base_revision
        }
        return encode_batch(checks, self._bases(sorted(bases)), self.keyframe_every)

    _WRITE_COLUMNS = "id, url, revision_count, latest_hash"

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

    def _record_in(
        self, tx: Tx, check: CheckRecord, encoded: Encoded | None, article: Any
    ) -> RecordResult:
        decision = check.decision
        outcome = decision.outcome
        if isinstance(outcome, NewRevision) and article["revision_count"] != outcome.base_revision:
            return RecordResult(outcome.word, stale=True)
        event_ids = [self._append_event(tx, check, n.kind, n.detail) for n in decision.events]
        if decision.moved_to:
            self._move(tx, article["id"], decision.moved_to)
        number = None
        if isinstance(outcome, NewRevision):
            assert encoded is not None  # every new revision of the batch was encoded
            number = self._append_revision(tx, check, outcome, encoded)
        self._append_alerts(tx, check, decision.alerts, number, event_ids)
        self._update_article(tx, check, number)
        tx.execute(
            "INSERT INTO fetches (fetch_id, article_id, fetched_at, http_status, outcome, "
            "revision, error) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                check.fetch_id,
                check.article_id,
                self._ts(check.fetched_at),
                check.http_status,
                str(outcome.word),
                number,
                codec.clean_optional(outcome.text if isinstance(outcome, Error) else None),
            ),
        )
        return RecordResult(outcome.word, number)

    def _move(self, tx: Tx, article_id: int, new_url: str) -> None:
        """A permanent move: the article continues under the new URL, and its old URLs still
        find it."""
        new_url = validate_url(new_url)
        tx.execute(
            "INSERT INTO article_urls (url, article_id) VALUES (?, ?) ON CONFLICT (url) DO NOTHING",
            (new_url, article_id),
        )
        tx.execute(
            "UPDATE articles SET url = ?, site = ? WHERE id = ?",
            (new_url, site_of(new_url), article_id),
        )

    def _append_revision(
        self, tx: Tx, check: CheckRecord, outcome: NewRevision, encoded: Encoded
    ) -> int:
        number = outcome.base_revision + 1
        changes = outcome.changes
        tx.execute(
            "INSERT INTO revisions (article_id, number, fetched_at, content_hash, headline, "
            "title, extractor, summary, fetch_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                check.article_id,
                number,
                self._ts(check.fetched_at),
                outcome.content_hash,
                codec.clean_text(outcome.page.headline),
                codec.clean_text(outcome.page.title),
                codec.clean_text(outcome.page.extractor),
                codec.summary_json(changes),
                check.fetch_id,
            ),
        )
        # The new row is found by its fetch id, not by RETURNING: no answer to wait for; its
        # base by number (it may be a keyframe written earlier in this transaction).
        page, raw = encoded.page, encoded.raw
        tx.execute(
            "INSERT INTO revision_content (revision_id, page, page_codec, page_sum, raw_html,"
            " raw_codec, raw_sum, base_id) SELECT r.id, ?, ?, ?, ?, ?, ?,"
            " (SELECT k.id FROM revisions k WHERE k.article_id = r.article_id AND k.number = ?)"
            " FROM revisions r WHERE r.fetch_id = ?",
            (
                page.blob,
                page.codec,
                page.sum,
                None if raw is None else raw.blob,
                delta.STANDALONE if raw is None else raw.codec,
                None if raw is None else raw.sum,
                encoded.base,
                check.fetch_id,
            ),
        )
        previous = None if encoded.previous is None else codec.page_from_json(encoded.previous)
        self._index_revision(tx, check.article_id, number, outcome.page, previous)
        if changes:
            tx.executemany(
                "INSERT INTO changes (revision_id, position, field, kind, class, old, new, patch, "
                "words_added, words_removed, similarity, notes, stealth, coarse) "
                "SELECT id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM revisions "
                "WHERE fetch_id = ?",
                [(*self._change_row(i, c), check.fetch_id) for i, c in enumerate(changes)],
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

    def _append_event(self, tx: Tx, check: CheckRecord, kind: EventKind, detail: str) -> int:
        row = tx.one(
            "INSERT INTO events (article_id, at, kind, detail, fetch_id) VALUES (?, ?, ?, ?, ?) "
            "RETURNING id",
            (
                check.article_id,
                self._ts(check.fetched_at),
                str(kind),
                codec.clean_text(detail),
                check.fetch_id,
            ),
        )
        return int(row["id"])

    def _append_alerts(
        self,
        tx: Tx,
        check: CheckRecord,
        planned: Sequence[PlannedAlert],
        number: int | None,
        event_ids: Sequence[int],
    ) -> None:
        """The outbox rows, in the check's own transaction: an alert exists exactly when its
        revision or event does. The idempotency key names the article, the revision or event,
        the rule and the channel, so it is the same on every retry of the send."""
        rows = []
        for alert in planned:
            if alert.event is None:
                if number is None:
                    continue
                target, revision, event_id = f"r{number}", number, None
            else:
                event_id = event_ids[alert.event]
                target, revision = f"e{event_id}", None
            rows.append(
                (
                    alert.channel,
                    alert.rule,
                    check.article_id,
                    revision,
                    event_id,
                    json.dumps(list(alert.kinds)),
                    f"{check.article_id}:{target}:{alert.rule}:{alert.channel}",
                    self._ts(check.fetched_at),
                    self._ts(alert.due_at),
                    alert.group_key,
                )
            )
        if rows:
            tx.executemany(
                "INSERT INTO alerts (channel, rule, article_id, revision, event_id, kinds, "
                "idempotency_key, created_at, next_attempt_at, group_key) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def _update_article(self, tx: Tx, check: CheckRecord, number: int | None) -> None:
        decision = check.decision
        state = decision.state
        outcome = decision.outcome
        changed = number is not None
        latest_hash = outcome.content_hash if isinstance(outcome, NewRevision) else None
        status = None if decision.status is None else str(decision.status)
        tx.execute(
            "UPDATE articles SET status = coalesce(?, status), next_check_at = ?,"
            " last_checked_at = ?,"
            " last_changed_at = CASE WHEN ? THEN ? ELSE last_changed_at END,"
            " revision_count = CASE WHEN ? THEN ? ELSE revision_count END,"
            " latest_hash = CASE WHEN ? THEN ? ELSE latest_hash END,"
            " etag = ?, last_modified = ?, raw_hash = ?, memory = coalesce(?, memory),"
            " missing_count = ?, flip_hash = ?, flip_count = ?, error_count = ?, last_error = ?,"
            " lease_owner = CASE WHEN lease_owner = ? OR ? THEN NULL ELSE lease_owner END,"
            " lease_until = CASE WHEN lease_owner = ? OR ? THEN NULL ELSE lease_until END"
            " WHERE id = ?",
            (
                status,
                self._ts(decision.next_check_at),
                self._ts(check.fetched_at),
                changed,
                self._ts(check.fetched_at),
                changed,
                number,
                changed,
                latest_hash,
                state.etag,
                state.last_modified,
                state.raw_hash,
                codec.clean_optional(state.memory),
                state.missing_count,
                state.flip_hash,
                state.flip_count,
                state.error_count,
                codec.clean_optional(state.last_error),
                check.owner,
                check.owner is None,
                check.owner,
                check.owner is None,
                check.article_id,
            ),
        )
