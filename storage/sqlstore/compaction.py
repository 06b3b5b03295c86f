"""`compact`: re-encode revisions written before schema 8 (each stored standalone) against
their article's keyframes, in short transactions, while the daemon keeps writing.

Each article's old rows are taken in revision order: every `keyframe_every`-th one stays a
keyframe, and so do the article's latest revision and any revision a newer one is already
stored against (both may be the keyframe of a write in flight); the rest are re-encoded against
their keyframe. Every re-encoding is decoded again and compared with the original bytes before
it is written, and it is written with the checksums of those bytes, which the append-only
trigger then keeps for ever. Rows are read and encoded outside any transaction; each batch of
updates is one short transaction, so a check waits at most for one batch. Progress is the rows
themselves (a row with checksums is done): an interrupted compaction resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import zstandard

from redline.storage import delta
from redline.storage.model import Compacted
from redline.storage.sqlstore.content import Content
from redline.storage.sqlstore.encoding import Keyframe, parts_against

BATCH = 32  # rows per write transaction: a few ms of lock on SQLite


@dataclass(frozen=True, slots=True)
class _Update:
    revision_id: int
    page: delta.Stored
    raw: delta.Stored | None
    base_id: int | None
    before: int  # stored bytes before

    @property
    def after(self) -> int:
        return len(self.page.blob) + (0 if self.raw is None else len(self.raw.blob))


def pinned(number: int, latest: int, revision_id: int, bases: set[int]) -> bool:
    """An old row that must stay a keyframe: the latest revision (a write in flight may be
    stored against it) or one a newer row is stored against already."""
    return number == latest or revision_id in bases


class Compaction(Content):
    """Re-encoding old rows against keyframes, in small transactions."""

    def legacy_revisions(self) -> int:
        """Rows written before schema 8 that `compact` has not reached yet."""
        with self._tx() as tx:
            return int(
                tx.one("SELECT count(*) AS n FROM revision_content WHERE page_sum IS NULL")["n"]
            )

    def compact(
        self,
        *,
        batch: int = BATCH,
        max_revisions: int | None = None,
        progress: Callable[[Compacted], None] | None = None,
    ) -> Compacted:
        """Re-encode old rows, article by article, until none is left (or `max_revisions`
        rows are done); `progress` is told the running totals after each article."""
        total, after = Compacted(), 0
        while max_revisions is None or total.revisions < max_revisions:
            found = self._next_legacy(after)
            if found is None:
                break
            after, article_id = found
            total += self._compact_article(article_id, batch)
            if progress is not None:
                progress(total)
        return total

    def _next_legacy(self, after: int) -> tuple[int, int] | None:
        """The first old row after revision id `after`, and its article. The cursor moves on
        even past rows left as they are (damaged), so a compaction always ends."""
        with self._tx() as tx:
            row = tx.one(
                "SELECT c.revision_id, r.article_id FROM revision_content c JOIN revisions r"
                " ON r.id = c.revision_id WHERE c.page_sum IS NULL AND c.revision_id > ?"
                " ORDER BY c.revision_id LIMIT 1",
                (after,),
            )
        return None if row is None else (int(row["revision_id"]), int(row["article_id"]))

    def _compact_article(self, article_id: int, batch: int) -> Compacted:
        with self._tx() as tx:
            rows = tx.all(
                "SELECT r.id, r.number, c.base_id, c.page_sum IS NULL AS legacy"
                " FROM revisions r JOIN revision_content c ON c.revision_id = r.id"
                " WHERE r.article_id = ? ORDER BY r.number",
                (article_id,),
            )
        bases = {int(r["base_id"]) for r in rows if r["base_id"] is not None}
        latest = max(int(r["number"]) for r in rows)
        legacy = [r for r in rows if r["legacy"]]
        frame: Keyframe | None = None
        done = Compacted(articles=1)
        for start in range(0, len(legacy), batch):
            chunk = legacy[start : start + batch]
            updates, frame = self._plan_chunk(chunk, frame, latest, bases)
            done += Compacted(
                revisions=self._write(updates),
                reencoded=sum(1 for u in updates if u.base_id is not None),
                bytes_before=sum(u.before for u in updates),
                bytes_after=sum(u.after for u in updates),
                damaged=len(chunk) - len(updates),
            )
        return done

    def _plan_chunk(
        self, chunk: Sequence[Any], frame: Keyframe | None, latest: int, bases: set[int]
    ) -> tuple[list[_Update], Keyframe | None]:
        """The updates of one chunk of old rows (all standalone), in revision order."""
        with self._tx() as tx:
            stored = {
                r["id"]: r
                for r in tx.all(
                    "SELECT revision_id AS id, page, raw_html FROM revision_content"
                    f" WHERE revision_id IN ({', '.join('?' * len(chunk))})",
                    [r["id"] for r in chunk],
                )
            }
        updates = []
        for row in chunk:
            blobs = stored[row["id"]]
            try:
                page = delta.decompress(blobs["page"])
                raw = None if blobs["raw_html"] is None else delta.decompress(blobs["raw_html"])
            except zstandard.ZstdError:
                continue  # damaged: left as it is, reported to whoever reads it
            before = len(blobs["page"]) + (0 if raw is None else len(blobs["raw_html"]))
            number, revision_id = int(row["number"]), int(row["id"])
            update = None
            if (
                frame is not None
                and not delta.keyframe_due(number, frame.number, self.keyframe_every)
                and not pinned(number, latest, revision_id, bases)
            ):
                update = _against(revision_id, page, raw, frame, before, blobs["raw_html"])
            if update is None:  # a keyframe: its bytes stay, it gains its checksums
                update = _keyframe(revision_id, blobs, page, raw, before)
                raw_size = 0 if raw is None else len(blobs["raw_html"])
                frame = Keyframe(number, page, len(blobs["page"]), raw, raw_size, revision_id)
            updates.append(update)
        return updates, frame

    def _write(self, updates: Sequence[_Update]) -> int:
        """One short transaction; a row some other compaction finished first is left alone."""
        with self._tx(write=True) as tx:
            for u in updates:
                raw = u.raw
                tx.execute(
                    "UPDATE revision_content SET page = ?, page_codec = ?, page_sum = ?,"
                    " raw_html = ?, raw_codec = ?, raw_sum = ?, base_id = ?"
                    " WHERE revision_id = ? AND page_sum IS NULL",
                    (
                        u.page.blob,
                        u.page.codec,
                        u.page.sum,
                        None if raw is None else raw.blob,
                        delta.STANDALONE if raw is None else raw.codec,
                        None if raw is None else raw.sum,
                        u.base_id,
                        u.revision_id,
                    ),
                )
        return len(updates)


def _kept(blob: bytes | None, data: bytes | None) -> delta.Stored | None:
    """A part kept in its stored standalone frame, given the checksum of what it decodes to."""
    if blob is None or data is None:
        return None
    return delta.Stored(delta.STANDALONE, bytes(blob), delta.checksum(data))


def _keyframe(revision_id: int, blobs: Any, page: bytes, raw: bytes | None, before: int) -> _Update:
    page_part = _kept(blobs["page"], page)
    assert page_part is not None  # every row has a Page
    return _Update(revision_id, page_part, _kept(blobs["raw_html"], raw), None, before)


def _against(
    revision_id: int, page: bytes, raw: bytes | None, frame: Keyframe, before: int, raw_blob: Any
) -> _Update | None:
    """The row stored against `frame`, checked by decoding it again; None when it would not
    pay (`parts_against`) or would not decode to the same bytes."""
    parts = parts_against(frame, page, raw, lambda: _kept(raw_blob, raw))
    if parts is None:
        return None
    page_part, raw_part = parts
    try:
        if delta.decode(page_part.codec, page_part.blob, frame.page, page_part.sum) != page:
            return None
        if raw_part is not None and raw is not None:
            base = frame.raw if raw_part.codec == delta.DELTA else None
            if delta.decode(raw_part.codec, raw_part.blob, base, raw_part.sum) != raw:
                return None
    except delta.DamagedContent:
        return None
    return _Update(revision_id, page_part, raw_part, frame.revision_id, before)
