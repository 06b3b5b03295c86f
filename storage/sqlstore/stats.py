"""Counts for the web app's /metrics, read at scrape time: cheap by construction.

Revisions and changes are append-only, so a caller keeps running totals and asks only for the
rows above the last id it counted (`revision_tally`: a range of the primary key, never the
whole table after the first call). The queue and the outbox are read through their indexes
(`queue_gauges`): the due queue by `articles_due`, pending alerts by `alerts_pending`; the
other alert statuses are one grouped count of the outbox (small next to the revisions).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from redline.storage.sqlstore.base import SqlBase

# What changed, in the groups of the recent-changes filters (storage.model.CHANGE_GROUPS).
_GROUP = (
    "CASE WHEN field IN ('headline', 'title', 'byline', 'body') THEN field "
    "WHEN field IN ('published', 'updated') THEN 'dates' "
    "WHEN substr(field, 1, 5) = 'item:' THEN 'item' ELSE 'other' END"
)


class Stats(SqlBase):
    def last_revision_id(self) -> int:
        """The highest revision id written so far (0 for none): where a tally may stop."""
        with self._tx() as tx:
            row = tx.one("SELECT max(id) AS n FROM revisions")
        return int(row["n"] or 0)

    def revision_tally(self, after: int = 0, upto: int | None = None) -> dict[str, Any]:
        """Revisions with `after < id <= upto` (no upper bound for None) and their changes:
        {"revisions": n, "first_revisions": n (number 1: an article's first text),
        "changes": {(group, class): n}}; groups as in CHANGE_GROUPS ("other" for none)."""
        bound = "" if upto is None else " AND {} <= ?"
        params: tuple[Any, ...] = (after,) if upto is None else (after, upto)
        with self._tx() as tx:
            revisions = tx.one(
                "SELECT count(*) AS n, coalesce(sum(CASE WHEN number = 1 THEN 1 ELSE 0 END), 0)"
                " AS first FROM revisions WHERE id > ?" + bound.format("id"),
                params,
            )
            changes = tx.all(
                f"SELECT {_GROUP} AS grp, class, count(*) AS n FROM changes"
                " WHERE revision_id > ?" + bound.format("revision_id") + " GROUP BY grp, class",
                params,
            )
        return {
            "revisions": int(revisions["n"]),
            "first_revisions": int(revisions["first"]),
            "changes": {(r["grp"], r["class"]): int(r["n"]) for r in changes},
        }

    def queue_gauges(self, now: datetime) -> dict[str, Any]:
        """{"due": articles due now (what the daemon would lease), "oldest_due": the earliest
        next_check_at among them or None, "alerts": {status: n}}."""
        with self._tx() as tx:
            due = tx.one(
                "SELECT count(*) AS n, min(next_check_at) AS oldest FROM articles"
                " WHERE status IN ('active', 'gone') AND paused = ? AND next_check_at <= ?",
                (False, self._ts(now)),
            )
            alerts = tx.all("SELECT status, count(*) AS n FROM alerts GROUP BY status")
        return {
            "due": int(due["n"]),
            "oldest_due": self._dt(due["oldest"]),
            "alerts": {r["status"]: int(r["n"]) for r in alerts},
        }
