"""The alert outbox: rows written with their revision or event, leased to the worker that
sends them, and settled (sent, retried later, failed, dropped).

Delivery is at least once, never twice for the same key: a row is leased (`FOR UPDATE SKIP
LOCKED` on PostgreSQL) so that several workers send each message once; the message carrying a
row gets its key (`batch`) when first tried, so every retry sends the same message under the
same idempotency key, and rows that joined the group later go out in a message of their own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from redline.storage.errors import NotFound
from redline.storage.model import Alert, AlertBatch, AlertStatus
from redline.storage.sqlstore.base import SqlBase, Tx

_COLUMNS = (
    "id, channel, rule, article_id, revision, event_id, kinds, idempotency_key, created_at,"
    " status, attempts, next_attempt_at, sent_at, last_error, group_key, batch"
)


class Outbox(SqlBase):
    """The alert outbox: leasing due alerts to a sender, settling them, reading them."""

    def claim_alerts(
        self,
        now: datetime,
        owner: str,
        *,
        limit: int,
        lease_seconds: float,
        channels: Sequence[str] | None = None,
    ) -> list[AlertBatch]:
        """Lease up to `limit` due alerts, each with the rest of its message: the rows of the
        same batch (a retry), or the pending rows of the same group (a digest, or edits of one
        article merged), whether due or not. Rows another worker is leasing are skipped."""
        if channels is not None and not channels:
            return []
        until = now + timedelta(seconds=lease_seconds)
        with self._tx(write=True) as tx:
            seeds = self._due_alerts(tx, now, limit, channels)
            taken: dict[int, Any] = {r["id"]: r for r in seeds}
            for row in seeds:
                for mate in self._alert_mates(tx, row, now):
                    taken.setdefault(mate["id"], mate)
            batches = _batches(list(taken.values()))
            for key, rows in batches.items():
                self._lease_alerts(tx, [r["id"] for r in rows], owner, until, key)
        return [
            AlertBatch(
                key, rows[0]["channel"], rows[0]["rule"], tuple(self._alert(r) for r in rows)
            )
            for key, rows in batches.items()
        ]

    def _due_alerts(
        self, tx: Tx, now: datetime, limit: int, channels: Sequence[str] | None
    ) -> list[Any]:
        where, params = "", []
        if channels is not None:
            where, params = f" AND channel IN ({', '.join('?' * len(channels))})", list(channels)
        return tx.all(
            f"SELECT {_COLUMNS} FROM alerts WHERE status = 'pending' AND next_attempt_at <= ?"
            f" AND (lease_until IS NULL OR lease_until < ?){where}"
            f" ORDER BY next_attempt_at, id LIMIT ?{self.FOR_UPDATE}{self.SKIP_LOCKED}",
            [self._ts(now), self._ts(now), *params, limit],
        )

    def _alert_mates(self, tx: Tx, row: Any, now: datetime) -> list[Any]:
        """The other rows of a seed's message."""
        if row["batch"] is not None:
            column, value, extra = "batch", row["batch"], ""
        elif row["group_key"] is not None:
            column, value, extra = "group_key", row["group_key"], " AND batch IS NULL"
        else:
            return []
        return tx.all(
            f"SELECT {_COLUMNS} FROM alerts WHERE {column} = ? AND status = 'pending'{extra}"
            " AND (lease_until IS NULL OR lease_until < ?)"
            f" ORDER BY id{self.FOR_UPDATE}{self.SKIP_LOCKED}",
            [value, self._ts(now)],
        )

    def _lease_alerts(
        self, tx: Tx, ids: list[int], owner: str, until: datetime, batch: str
    ) -> None:
        tx.execute(
            "UPDATE alerts SET lease_owner = ?, lease_until = ?, batch = ? "
            f"WHERE id IN ({', '.join('?' * len(ids))})",
            [owner, self._ts(until), batch, *ids],
        )

    def settle_alerts(
        self,
        ids: Sequence[int],
        now: datetime,
        *,
        status: AlertStatus,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> int:
        """After a send: SENT; PENDING again with `retry_at` (a failed try); FAILED (the last
        try failed) or DROPPED. Counts the attempt and gives the lease back. Only rows still
        pending change: a row another worker already settled stays as it is."""
        if not ids:
            return 0
        sent_at = now if status is AlertStatus.SENT else None
        with self._tx(write=True) as tx:
            rows = tx.all(
                "UPDATE alerts SET status = ?, attempts = attempts + 1, last_error = ?,"
                " sent_at = ?, next_attempt_at = coalesce(?, next_attempt_at),"
                " lease_owner = NULL, lease_until = NULL"
                f" WHERE status = 'pending' AND id IN ({', '.join('?' * len(ids))}) RETURNING id",
                [str(status), error, self._ts(sent_at), self._ts(retry_at), *map(int, ids)],
            )
        return len(rows)

    def orphan_alerts(self, channels: Sequence[str], now: datetime) -> int:
        """Pending alerts for a channel not among `channels` (removed from the configuration)
        are marked failed, saying so, instead of waiting for ever."""
        marks = ", ".join("?" * len(channels)) or "NULL"
        with self._tx(write=True) as tx:
            rows = tx.all(
                "UPDATE alerts SET status = 'failed', last_error = 'channel ' || channel || "
                "' is not configured', lease_owner = NULL, lease_until = NULL "
                f"WHERE status = 'pending' AND channel NOT IN ({marks}) RETURNING id",
                list(channels),
            )
        return len(rows)

    def retry_alerts(self, ids: Sequence[int] | None, now: datetime) -> int:
        """Make failed or dropped alerts (these ids, or every failed one when None) pending
        and due now, attempts counted from zero again; each keeps its idempotency key."""
        if ids is not None and not ids:
            return 0
        where, params = "status = 'failed'", []
        if ids is not None:
            marks = ", ".join("?" * len(ids))
            where, params = f"status IN ('failed', 'dropped') AND id IN ({marks})", list(ids)
        with self._tx(write=True) as tx:
            rows = tx.all(
                "UPDATE alerts SET status = 'pending', attempts = 0, next_attempt_at = ?,"
                f" lease_owner = NULL, lease_until = NULL WHERE {where} RETURNING id",
                [self._ts(now), *params],
            )
        return len(rows)

    def alert(self, alert_id: int) -> Alert:
        with self._tx() as tx:
            row = tx.one(f"SELECT {_COLUMNS} FROM alerts WHERE id = ?", (alert_id,))
        if row is None:
            raise NotFound(f"no alert with id {alert_id}")
        return self._alert(row)

    def alerts(self, status: AlertStatus | None = None, *, limit: int | None = None) -> list[Alert]:
        """Alerts, oldest first (the newest `limit` when a limit is given)."""
        where, params = "", list[Any]()
        if status is not None:
            where, params = " WHERE status = ?", [str(status)]
        order = " ORDER BY id"
        if limit is not None:
            order, params = " ORDER BY id DESC LIMIT ?", [*params, limit]
        with self._tx() as tx:
            rows = tx.all(f"SELECT {_COLUMNS} FROM alerts{where}{order}", params)
        return sorted((self._alert(r) for r in rows), key=lambda a: a.id)

    def alert_counts(self) -> dict[str, int]:
        with self._tx() as tx:
            rows = tx.all("SELECT status, count(*) AS n FROM alerts GROUP BY status")
        return {r["status"]: r["n"] for r in rows}

    def _alert(self, r: Any) -> Alert:
        return Alert(
            id=r["id"],
            channel=r["channel"],
            article_id=r["article_id"],
            idempotency_key=r["idempotency_key"],
            kinds=tuple(json.loads(r["kinds"])),
            created_at=self._at(r["created_at"]),
            revision=r["revision"],
            event_id=r["event_id"],
            status=AlertStatus(r["status"]),
            attempts=r["attempts"],
            next_attempt_at=self._dt(r["next_attempt_at"]),
            sent_at=self._dt(r["sent_at"]),
            last_error=r["last_error"],
            rule=r["rule"],
            group_key=r["group_key"],
            batch=r["batch"],
        )


def _batches(rows: list[Any]) -> dict[str, list[Any]]:
    """Leased rows by the message that carries them: their batch when already tried, else
    one new message per group (its key: the first row's key and how many more it carries),
    else one message per row (its own key)."""
    messages: dict[str, list[Any]] = {}
    grouped: dict[str, list[Any]] = {}
    for row in sorted(rows, key=lambda r: r["id"]):
        if row["batch"] is not None:
            messages.setdefault(row["batch"], []).append(row)
        elif row["group_key"] is not None:
            grouped.setdefault(row["group_key"], []).append(row)
        else:
            messages[row["idempotency_key"]] = [row]
    for members in grouped.values():
        first = members[0]["idempotency_key"]
        key = first if len(members) == 1 else f"{first}+{len(members) - 1}"
        messages[key] = members
    return messages
