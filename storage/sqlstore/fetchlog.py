"""The fetch log kept bounded: checks that wrote nothing, once old, become daily counts.

Every check writes a `fetches` row (its fetch id makes a retried commit a no-op). Most checks
write nothing else: a 304, or the same text again. Kept one row each for ever, they would be
most of the database. `roll_up_fetches` turns those older than an age (30 days by default, far
beyond any retry) into counts per article, day (UTC) and outcome in `fetch_days` (one row per
article and day), in short transactions: each batch counts its rows and deletes them in one
transaction, so a count is never lost or doubled. Checks that wrote a revision or an event,
errors, and every other outcome stay itemised for ever.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from redline.storage.model import CheckDay, Outcome, RolledUp
from redline.storage.sqlstore.base import SqlBase, Tx

FETCH_LOG_DAYS = 30
BATCH = 2000  # rows per transaction: tens of milliseconds of lock on SQLite
QUIET = (Outcome.NOT_MODIFIED, Outcome.UNCHANGED)
# As in the partial index `fetches_quiet` (schema 8): SQLite uses it only for the same terms.
_QUIET_SQL = "f.outcome IN ('not_modified', 'unchanged')"


def daily_counts(rows: Iterable[tuple[int, datetime, str]]) -> Counter[tuple[int, date, str]]:
    """(article id, fetched at, outcome) rows counted per article, UTC day and outcome."""
    return Counter((article, at.date(), outcome) for article, at, outcome in rows)


class FetchLog(SqlBase):
    """Rolling old quiet checks up into daily counts, and reading those counts."""

    def _day(self, value: date) -> Any:
        """A day as the backend stores it (PostgreSQL: DATE; SQLite: ISO text)."""
        return value

    def _to_day(self, value: Any) -> date:
        return value if isinstance(value, date) else date.fromisoformat(value)

    def roll_up_fetches(
        self,
        now: datetime,
        *,
        older_than: timedelta = timedelta(days=FETCH_LOG_DAYS),
        batch: int = BATCH,
    ) -> RolledUp:
        """Roll up the quiet checks older than `now - older_than`, `batch` per transaction,
        until none is left. Safe to run while the daemon writes, and from several processes
        (each batch locks what it takes)."""
        if older_than < timedelta(days=1):
            raise ValueError("the fetch log keeps at least a day of checks itemised")
        cutoff, after = self._ts(now - older_than), None
        total = RolledUp()
        while True:
            with self._tx(write=True) as tx:
                rows = self._quiet_batch(tx, cutoff, after, batch)
                if rows:
                    counts = self._count_and_delete(tx, rows)
            if not rows:
                return total
            total = RolledUp(total.checks + len(rows), total.counts + counts)
            after = (rows[-1]["fetched_at"], rows[-1]["fetch_id"])
            if len(rows) < batch:
                return total

    def _quiet_batch(
        self, tx: Tx, cutoff: Any, after: tuple[Any, str] | None, batch: int
    ) -> list[Any]:
        """The next old quiet checks, oldest first, after the last batch's last row; checks
        that wrote an event (a flip-flop, a page back) are not quiet and stay."""
        keyset, params = "", [cutoff]
        if after is not None:
            keyset, params = " AND (f.fetched_at, f.fetch_id) > (?, ?)", [cutoff, *after]
        return tx.all(
            "SELECT f.fetch_id, f.article_id, f.fetched_at, f.outcome FROM fetches f"
            f" WHERE {_QUIET_SQL} AND f.fetched_at < ?{keyset} AND f.revision IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM events e"
            " WHERE e.article_id = f.article_id AND e.fetch_id = f.fetch_id)"
            f" ORDER BY f.fetched_at, f.fetch_id LIMIT ?{self.FOR_UPDATE}",
            [*params, batch],
        )

    def _count_and_delete(self, tx: Tx, rows: list[Any]) -> int:
        counts = daily_counts(
            (r["article_id"], self._at(r["fetched_at"]), r["outcome"]) for r in rows
        )
        days = sorted({(a, d) for a, d, _ in counts})
        tx.executemany(
            "INSERT INTO fetch_days (article_id, day, not_modified, unchanged) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (article_id, day) DO UPDATE SET"
            " not_modified = fetch_days.not_modified + excluded.not_modified,"
            " unchanged = fetch_days.unchanged + excluded.unchanged",
            [(a, self._day(d), *(counts[(a, d, o)] for o in QUIET)) for a, d in days],
        )
        ids = [r["fetch_id"] for r in rows]
        tx.execute(f"DELETE FROM fetches WHERE fetch_id IN ({', '.join('?' * len(ids))})", ids)
        return len(days)

    def check_days(self, article_id: int) -> list[CheckDay]:
        """The article's rolled-up checks, newest day first (`checks` lists the rest)."""
        with self._tx() as tx:
            rows = tx.all(
                "SELECT day, not_modified, unchanged FROM fetch_days WHERE article_id = ?"
                " ORDER BY day DESC",
                (article_id,),
            )
        return [
            CheckDay(self._to_day(r["day"]), outcome, r[str(outcome)])
            for r in rows
            for outcome in QUIET
            if r[str(outcome)]
        ]
