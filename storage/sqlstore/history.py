"""Reading history: revisions, changes, events, alerts, and exports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from storage import codec
from storage.errors import NotFound
from storage.model import (
    Alert,
    AlertStatus,
    Change,
    ChangeClass,
    ChangeKind,
    ChangeSummary,
    Event,
    EventKind,
    Revision,
    RevisionInfo,
)
from storage.sqlstore.base import (
    _BATCH,
    _EPOCH,
    SqlBase,
    Tx,
)


class History(SqlBase):
    """Reading history: revisions, changes, events, alerts, and exports."""

    def history(self, article_id: int) -> list[RevisionInfo]:
        with self._read() as tx:
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
        with self._read() as tx:
            return self._revision(tx, article_id, number)

    def _revision(self, tx: Tx, article_id: int, number: int) -> Revision:
        row = tx.one(
            "SELECT r.id, r.number, r.fetched_at, r.content_hash, c.page, r.fetch_id "
            "FROM revisions r JOIN revision_content c ON c.revision_id = r.id "
            "WHERE r.article_id = ? AND r.number = ?",
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
            "SELECT c.page FROM revisions r JOIN revision_content c ON c.revision_id = r.id "
            "WHERE r.article_id = ? AND r.number = ?",
            (article_id, number),
        )
        return codec.decode_page(row["page"])

    def raw_html(self, article_id: int, number: int) -> bytes | None:
        with self._read() as tx:
            row = tx.one(
                "SELECT c.raw_html FROM revisions r "
                "JOIN revision_content c ON c.revision_id = r.id "
                "WHERE r.article_id = ? AND r.number = ?",
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
