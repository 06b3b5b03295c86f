"""A revision's stored content (Page and raw HTML): read back byte for byte through its base
revision, checked against its checksums; and, for a new revision, the keyframe it is stored
against. The codecs themselves are in storage/delta.py.

A damaged row (a frame that does not decode, a base that is missing or belongs elsewhere, bytes
that do not match their checksum) raises `DamagedRevision` naming the article and revision: the
reader of that revision is told, and every other revision and article reads as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from redline.storage import delta
from redline.storage.errors import DamagedRevision, NotFound
from redline.storage.model import Verified
from redline.storage.sqlstore.base import SqlBase, Tx, pairs_cte
from redline.storage.sqlstore.encoding import Base, Keyframe

PAGE, RAW = "page", "raw"
# The columns of each part: codec, frame, checksum.
_COLUMNS = {PAGE: ("page_codec", "page", "page_sum"), RAW: ("raw_codec", "raw_html", "raw_sum")}
_WHAT = {PAGE: "stored Page", RAW: "stored raw HTML"}
# Bases of bases followed at most: this version writes one level (a delta on a keyframe), but
# reads rows of any shape (a chain of deltas, say) up to this deep; deeper reads as damaged.
_MAX_DEPTH = 16


def _part_sql(part: str, alias: str) -> str:
    codec, blob, checksum = _COLUMNS[part]
    return f"{alias}.{codec} AS codec, {alias}.{blob} AS blob, {alias}.{checksum} AS sum"


class Content(SqlBase):
    """Reading a revision's content back, and finding the keyframe a new one builds on."""

    keyframe_every: int = delta.KEYFRAME_EVERY

    # --- reading --------------------------------------------------------------------------------
    def _part(self, tx: Tx, article_id: int, number: int, part: str) -> bytes | None:
        """Revision `number`'s Page (canonical JSON) or raw HTML (None: not kept), decoded."""
        return self._read_part(tx, article_id, number, part)[1]

    def _read_part(
        self, tx: Tx, article_id: int, number: int | None, part: str, columns: str = ""
    ) -> tuple[Any, bytes | None]:
        """The revision's row (`columns` of `revisions r` with its id and number) and its
        part decoded; `number` None: the latest revision. Raises NotFound, DamagedRevision.

        One query reads the row and, for a delta, its base: a keyframe, so one round trip
        and two frames for any revision this version wrote."""
        codec, blob, _ = _COLUMNS[part]
        which = "r.number = ?" if number is not None else "TRUE ORDER BY r.number DESC LIMIT 1"
        row = tx.one(
            f"SELECT r.id, r.number{columns}, c.base_id, {_part_sql(part, 'c')},"
            f" b.{codec} AS base_codec, b.{blob} AS base_blob, br.article_id AS base_article"
            " FROM revisions r"
            " JOIN revision_content c ON c.revision_id = r.id"
            f" LEFT JOIN revision_content b ON b.revision_id = c.base_id AND c.{codec} = ?"
            " LEFT JOIN revisions br ON br.id = b.revision_id"
            f" WHERE r.article_id = ? AND {which}",
            (delta.DELTA, article_id) if number is None else (delta.DELTA, article_id, number),
        )
        if row is None:
            raise NotFound(f"article {article_id} has no revision {number}")
        if row["blob"] is None:
            return row, None
        try:
            base = None
            if row["codec"] == delta.DELTA:
                base = self._joined_base(tx, article_id, row, part)
            return row, delta.decode(row["codec"], row["blob"], base, row["sum"])
        except delta.DamagedContent as exc:
            raise self._damaged(tx, article_id, row["number"], part, str(exc)) from exc

    def _joined_base(self, tx: Tx, article_id: int, row: Any, part: str) -> bytes | None:
        if row["base_blob"] is None or row["base_article"] != article_id:
            return None  # missing, or another article's: decode() reports the row damaged
        if row["base_codec"] == delta.DELTA:  # a base built on another: read it by id
            return self._decoded(tx, article_id, [row["base_id"]], part).get(row["base_id"])
        try:  # no checksum here: the delta's own covers what its base decodes to
            return delta.decode(row["base_codec"], row["base_blob"], None, None)
        except delta.DamagedContent:
            return None

    def _decoded(
        self, tx: Tx, article_id: int | None, ids: Iterable[int], part: str
    ) -> dict[int, bytes | None]:
        """Decoded parts of these revisions (by id), their bases fetched as needed. A revision
        that cannot be decoded is left out (None for one that keeps no such part)."""
        rows: dict[int, Any] = {}
        wanted = set(ids)
        for _ in range(_MAX_DEPTH):
            missing = sorted(wanted - rows.keys())
            if not missing:
                break
            for row in self._content_rows(tx, missing, part):
                rows[row["id"]] = row
            wanted = {r["base_id"] for r in rows.values() if r["codec"] == delta.DELTA} - {None}
        decoded: dict[int, bytes | None] = {}
        for revision_id in ids:
            row = rows.get(revision_id)
            if row is not None and article_id in (None, row["article_id"]):
                self._decode_into(rows, revision_id, part, decoded, 0)
        return {i: decoded[i] for i in ids if i in decoded}

    def _content_rows(self, tx: Tx, ids: Sequence[int], part: str) -> list[Any]:
        marks = ", ".join("?" * len(ids))
        return tx.all(
            f"SELECT c.revision_id AS id, r.article_id, r.number, c.base_id,"
            f" {_part_sql(part, 'c')} FROM revision_content c"
            f" JOIN revisions r ON r.id = c.revision_id WHERE c.revision_id IN ({marks})",
            list(ids),
        )

    def _decode_into(
        self,
        rows: dict[int, Any],
        revision_id: int,
        part: str,
        out: dict[int, bytes | None],
        depth: int,
    ) -> None:
        """Decode one row into `out`, its base first; a row that cannot be decoded stays out."""
        if revision_id in out or depth > _MAX_DEPTH:
            return
        row = rows.get(revision_id)
        if row is None:
            return
        if row["blob"] is None:
            out[revision_id] = None
            return
        base = None
        if row["codec"] == delta.DELTA:
            base_id = row["base_id"]
            base_row = rows.get(base_id)
            if base_row is not None and base_row["article_id"] == row["article_id"]:
                self._decode_into(rows, base_id, part, out, depth + 1)
                base = out.get(base_id)
        try:
            out[revision_id] = delta.decode(row["codec"], row["blob"], base, row["sum"])
        except delta.DamagedContent:
            return

    def _damaged(
        self, tx: Tx, article_id: int, number: int, part: str, reason: str
    ) -> DamagedRevision:
        found = tx.one("SELECT url FROM articles WHERE id = ?", (article_id,))
        url = f" ({found['url']})" if found is not None else ""
        return DamagedRevision(
            f"article {article_id}{url}, revision {number}: its {_WHAT[part]} is damaged"
            f" ({reason}); other revisions and articles read normally, and this one can be"
            " restored from a backup (docs/storage.md)",
            article_id=article_id,
            number=number,
        )

    # --- checking every stored byte -------------------------------------------------------------
    def verify(
        self,
        *,
        batch: int = 200,
        damaged: Callable[[DamagedRevision], None] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Verified:
        """Decode every revision's Page and raw HTML, each checked against its checksum, oldest
        first, `batch` revisions per read-only transaction: what a restored backup or an old
        disk must pass. Each damaged revision is handed to `damaged`; `progress` gets the
        count of revisions checked so far."""
        done, bad, after = 0, 0, 0
        while True:
            with self._tx() as tx:
                rows = tx.all(
                    "SELECT id, article_id, number FROM revisions WHERE id > ? ORDER BY id LIMIT ?",
                    (after, batch),
                )
                found = self._unreadable(tx, rows)
            for exc in found:
                if damaged is not None:
                    damaged(exc)
            if not rows:
                return Verified(done, bad)
            done, bad, after = done + len(rows), bad + len(found), rows[-1]["id"]
            if progress is not None:
                progress(done)

    def _unreadable(self, tx: Tx, rows: Sequence[Any]) -> list[DamagedRevision]:
        """The parts of these revisions that do not decode to what was written."""
        found = []
        for part in (PAGE, RAW) if rows else ():
            read = self._decoded(tx, None, [r["id"] for r in rows], part)
            for r in rows:
                if r["id"] not in read:
                    reason = "it does not decode to what was written"
                    found.append(self._damaged(tx, r["article_id"], r["number"], part, reason))
        return found

    # --- writing --------------------------------------------------------------------------------
    def _bases(self, wanted: Sequence[tuple[int, int]]) -> dict[tuple[int, int], Base]:
        """For each (article id, revision number): that revision's Page (the one a new
        revision follows) and the keyframe it is stored against (itself, when it is one),
        decoded. Read before a write's transaction opens: rows never change what they decode
        to, and a write whose base revision is no longer the latest is refused as stale in the
        transaction anyway. What cannot be read is None: the new revision is then a keyframe
        (no keyframe), or indexed for search as all new (no Page)."""
        if not wanted:
            return {}
        with self._read() as tx:
            rows = tx.all(
                f"{pairs_cte(len(wanted))} SELECT p.article_id, p.number, pc.base_id AS own_base,"
                " pc.page_codec AS own_codec, pc.page AS own_page, pc.page_sum AS own_sum,"
                " kr.number AS keyframe_number, k.base_id, k.page_codec, k.page, k.raw_codec,"
                " k.raw_html FROM wanted w"
                " JOIN revisions p ON p.article_id = w.article_id AND p.number = w.number"
                " JOIN revision_content pc ON pc.revision_id = p.id"
                " JOIN revision_content k ON k.revision_id = coalesce(pc.base_id, p.id)"
                " JOIN revisions kr ON kr.id = k.revision_id",
                [value for pair in wanted for value in pair],
            )
        return {(row["article_id"], row["number"]): _base(row) for row in rows}


def _base(row: Any) -> Base:
    keyframe = _keyframe(row)
    if row["own_base"] is None:
        return Base(keyframe, None if keyframe is None else keyframe.page)
    try:
        base = None if keyframe is None else keyframe.page
        own = delta.decode(row["own_codec"], row["own_page"], base, row["own_sum"])
    except delta.DamagedContent:
        own = None
    return Base(keyframe, own)


def _keyframe(row: Any) -> Keyframe | None:
    """A keyframe row decoded, or None when it is not one or cannot be read."""
    if row["base_id"] is not None or row["page_codec"] != delta.STANDALONE:
        return None
    try:  # no checksums: a delta made against these bytes decodes against them again
        page = delta.decode(delta.STANDALONE, row["page"], None, None)
        raw = None
        if row["raw_html"] is not None:
            if row["raw_codec"] != delta.STANDALONE:
                return None
            raw = delta.decode(delta.STANDALONE, row["raw_html"], None, None)
    except delta.DamagedContent:
        return None
    return Keyframe(
        number=row["keyframe_number"],
        page=page,
        page_size=len(row["page"]),
        raw=raw,
        raw_size=0 if row["raw_html"] is None else len(row["raw_html"]),
    )
