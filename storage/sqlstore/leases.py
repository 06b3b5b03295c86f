"""Leasing due articles to workers, and giving leases back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from redline.storage.model import (
    OPERATOR_EVENTS,
    ArticleStatus,
    Claim,
    EventKind,
)
from redline.storage.sqlstore.base import (
    _CLAIM_COLUMNS,
    RECENT,
    SqlBase,
    Tx,
)


class Leases(SqlBase):
    """Leasing due articles to workers, and giving leases back."""

    def claim_due(
        self,
        now: datetime,
        owner: str,
        *,
        limit: int,
        lease_seconds: float,
    ) -> list[Claim]:
        claims = self._lease(
            "status IN ('active', 'gone') AND paused = ? AND next_check_at <= ?",
            (False, self._ts(now)),
            "ORDER BY next_check_at, id LIMIT ?",
            (limit,),
            now,
            owner,
            lease_seconds,
        )
        return sorted(claims, key=lambda c: (c.due_at or now, c.article_id))

    def claim_ids(
        self,
        article_ids: Sequence[int],
        now: datetime,
        owner: str,
        *,
        lease_seconds: float,
    ) -> list[Claim]:
        """Lease these articles now, due or not (a one-off `redline check`); articles another
        worker holds, and paused ones, are left out."""
        if not article_ids:
            return []
        marks = ",".join("?" * len(article_ids))
        claims = self._lease(
            f"id IN ({marks}) AND paused = ?",
            (*article_ids, False),
            "",
            (),
            now,
            owner,
            lease_seconds,
        )
        return sorted(claims, key=lambda c: c.article_id)

    def _lease(
        self,
        where: str,
        params: tuple[Any, ...],
        order: str,
        order_params: tuple[Any, ...],
        now: datetime,
        owner: str,
        lease_seconds: float,
    ) -> list[Claim]:
        """One short transaction: lease the matching articles that nobody holds (expired leases
        count as free), skipping rows another worker is leasing at this moment."""
        until = now + timedelta(seconds=lease_seconds)
        with self._tx(write=True) as tx:
            rows = tx.all(
                "UPDATE articles SET lease_owner = ?, lease_until = ? WHERE id IN ("
                f" SELECT id FROM articles WHERE {where}"
                f" AND (lease_until IS NULL OR lease_until < ?) {order}"
                f"{self.FOR_UPDATE}{self.SKIP_LOCKED}) RETURNING {_CLAIM_COLUMNS}",
                (owner, self._ts(until), *params, self._ts(now), *order_params),
            )
            ids = [r["id"] for r in rows]
            recent = self._recent_changes(tx, ids, now)
            events = self._last_events(tx, ids)
        return [
            self._claim(r, owner, until, recent.get(r["id"], 0), events.get(r["id"])) for r in rows
        ]

    def _recent_changes(self, tx: Tx, ids: list[int], now: datetime) -> dict[int, int]:
        if not ids:
            return {}
        rows = tx.all(
            "SELECT article_id, count(*) AS n FROM revisions WHERE fetched_at > ? AND "
            f"article_id IN ({','.join('?' * len(ids))}) GROUP BY article_id",
            (self._ts(now - RECENT), *ids),
        )
        return {r["article_id"]: r["n"] for r in rows}

    def _last_events(self, tx: Tx, ids: list[int]) -> dict[int, EventKind]:
        """Each article's latest event that a check recorded: a lasting state (gone,
        unavailable) is recorded when it begins, not at every check. The operator's events
        (paused, resumed...) say nothing about the page and are passed over."""
        if not ids:
            return {}
        operator = sorted(str(k) for k in OPERATOR_EVENTS)
        rows = tx.all(
            "SELECT article_id, kind FROM events WHERE id IN (SELECT max(id) FROM events "
            f"WHERE article_id IN ({','.join('?' * len(ids))})"
            f" AND kind NOT IN ({','.join('?' * len(operator))}) GROUP BY article_id)",
            (*ids, *operator),
        )
        return {r["article_id"]: EventKind(r["kind"]) for r in rows}

    def _claim(
        self, r: Any, owner: str, until: datetime, recent: int, last_event: EventKind | None
    ) -> Claim:
        return Claim(
            article_id=r["id"],
            url=r["url"],
            owner=owner,
            lease_until=until,
            due_at=self._dt(r["next_check_at"]),
            etag=r["etag"],
            last_modified=r["last_modified"],
            latest_revision=r["revision_count"],
            latest_hash=r["latest_hash"],
            is_live=bool(r["is_live"]),
            site=r["site"],
            first_seen=self._dt(r["first_seen"]),
            last_changed_at=self._dt(r["last_changed_at"]),
            recent_changes=recent,
            raw_hash=r["raw_hash"],
            memory=r["memory"],
            missing_count=r["missing_count"],
            status=ArticleStatus(r["status"]),
            error_count=r["error_count"],
            last_event=last_event,
            flip_hash=r["flip_hash"],
            flip_count=r["flip_count"],
            source_id=r["source_id"],
        )

    def release(self, article_ids: Sequence[int], owner: str) -> int:
        if not article_ids:
            return 0
        with self._tx(write=True) as tx:
            rows = tx.all(
                "UPDATE articles SET lease_owner = NULL, lease_until = NULL "
                f"WHERE lease_owner = ? AND id IN ({','.join('?' * len(article_ids))}) "
                "RETURNING id",
                (owner, *article_ids),
            )
        return len(rows)

    def release_all(self) -> int:
        """Give back every lease: for a single-writer database whose previous writer died
        (SQLite: the one running daemon holds the file lock, so no lease can be live)."""
        with self._tx(write=True) as tx:
            rows = tx.all(
                "UPDATE articles SET lease_owner = NULL, lease_until = NULL "
                "WHERE lease_owner IS NOT NULL RETURNING id"
            )
            for table in ("sources", "alerts"):
                tx.execute(
                    f"UPDATE {table} SET lease_owner = NULL, lease_until = NULL "
                    "WHERE lease_owner IS NOT NULL"
                )
        return len(rows)
