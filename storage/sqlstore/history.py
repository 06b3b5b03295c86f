"""Reading history: revisions, changes, events, alerts, and exports."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from redline.storage import codec
from redline.storage.errors import DamagedRevision
from redline.storage.model import (
    Change,
    ChangeClass,
    ChangeKind,
    ChangeSummary,
    Event,
    EventKind,
    Revision,
    RevisionInfo,
)
from redline.storage.sqlstore.base import (
    _BATCH,
    _EPOCH,
    Tx,
)
from redline.storage.sqlstore.content import PAGE, RAW, Content

_INFO_COLUMNS = "article_id, number, fetched_at, content_hash, headline, title, summary"


class History(Content):
    """Reading history: revisions, changes, events, alerts, and exports."""

    def history(self, article_id: int) -> list[RevisionInfo]:
        with self._read() as tx:
            rows = tx.all(
                f"SELECT {_INFO_COLUMNS} FROM revisions WHERE article_id = ? ORDER BY number",
                (article_id,),
            )
        return [self._info(r) for r in rows]

    def latest_changes(self, limit: int) -> list[RevisionInfo]:
        """The newest revisions that changed something (number 2 and up), newest first."""
        with self._read() as tx:
            rows = tx.all(
                f"SELECT {_INFO_COLUMNS} FROM revisions WHERE number > 1 ORDER BY id DESC LIMIT ?",
                (limit,),
            )
        return [self._info(r) for r in rows]

    def _info(self, r: Any) -> RevisionInfo:
        return RevisionInfo(
            article_id=r["article_id"],
            number=r["number"],
            fetched_at=self._at(r["fetched_at"]),
            content_hash=r["content_hash"],
            headline=r["headline"],
            changes=tuple(
                ChangeSummary(f, ChangeKind(k), ChangeClass(c))
                for f, k, c in json.loads(r["summary"])
            ),
            title=r["title"] or "",  # NULL: written before titles were kept (schema 5)
        )

    def revision(self, article_id: int, number: int) -> Revision:
        with self._read() as tx:
            return self._revision(tx, article_id, number)

    def _revision(self, tx: Tx, article_id: int, number: int) -> Revision:
        row, page = self._read_part(
            tx, article_id, number, PAGE, ", r.fetched_at, r.content_hash, r.fetch_id"
        )
        assert page is not None  # NOT NULL
        changes = tx.all(
            "SELECT * FROM changes WHERE revision_id = ? ORDER BY position", (row["id"],)
        )
        return Revision(
            article_id=article_id,
            number=row["number"],
            fetched_at=self._at(row["fetched_at"]),
            content_hash=row["content_hash"],
            page=codec.page_from_json(page),
            fetch_id=row["fetch_id"],
            changes=tuple(self._change(c) for c in changes),
        )

    def _change(self, row: Any) -> Change:
        data = dict(row)
        data["notes"] = json.loads(data["notes"])
        return codec.change_from_dict(data)

    def raw_html(self, article_id: int, number: int) -> bytes | None:
        with self._read() as tx:
            return self._part(tx, article_id, number, RAW)

    def events(self, article_id: int) -> list[Event]:
        with self._tx() as tx:
            rows = tx.all("SELECT * FROM events WHERE article_id = ? ORDER BY id", (article_id,))
        return [self._event(r) for r in rows]

    def _event(self, row: Any) -> Event:
        return Event(
            article_id=row["article_id"],
            at=self._at(row["at"]),
            kind=EventKind(row["kind"]),
            detail=row["detail"],
            id=row["id"],
            fetch_id=row["fetch_id"],
        )

    def revision_with_hash(self, article_id: int, content_hash: str) -> int | None:
        """The first revision of the article with this text, if any (the flip-flop rule)."""
        with self._read() as tx:
            row = tx.one(
                "SELECT min(number) AS number FROM revisions "
                "WHERE article_id = ? AND content_hash = ?",
                (article_id, content_hash),
            )
        return None if row is None or row["number"] is None else int(row["number"])

    def iter_revisions(
        self,
        since: datetime | None = None,
        *,
        damaged: Callable[[DamagedRevision], None] | None = None,
    ) -> Iterator[tuple[str, Revision]]:
        """Keyset pagination by id: constant memory, and no transaction held between batches.

        A damaged revision raises DamagedRevision; with `damaged`, it is handed to it instead
        and left out, and the export goes on with the others."""
        last_id = 0
        while True:
            with self._tx() as tx:
                rows = tx.all(
                    "SELECT r.id, r.article_id, r.number, a.url FROM revisions r "
                    "JOIN articles a ON a.id = r.article_id WHERE r.id > ? AND r.fetched_at >= ? "
                    "ORDER BY r.id LIMIT ?",
                    (last_id, self._ts(since or _EPOCH), _BATCH),
                )
                batch = []
                for r in rows:
                    try:
                        batch.append((r["url"], self._revision(tx, r["article_id"], r["number"])))
                    except DamagedRevision as exc:
                        if damaged is None:
                            raise
                        damaged(exc)
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
