"""What `redline db stats` shows: rows and bytes on disk per table, bytes per revision, and the
fetch log's age. Read from the backend's own catalogue (SQLite: the dbstat virtual table, else
page counts; PostgreSQL: pg_total_relation_size), so the figures are what the disk holds."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from redline.storage.model import StoreSizes, TableSize
from redline.storage.sqlstore.base import Tx
from redline.storage.sqlstore.fetchlog import FetchLog

EXACT_ROWS = 1_000_000  # PostgreSQL: tables estimated above this are not counted row by row


class Sizes(FetchLog):
    """Table sizes and the fetch log's age."""

    def _table_sizes(self, tx: Tx) -> tuple[dict[str, int], dict[str, int], int]:
        """Backend hook: (bytes per table, estimated rows per table (-1: none), total)."""
        raise NotImplementedError

    def store_sizes(self) -> StoreSizes:
        """Rows and bytes per table, the revisions, and how far back the fetch log goes."""
        with self._tx() as tx:
            sizes, estimates, total = self._table_sizes(tx)
            tables = tuple(
                self._table_size(tx, name, size, estimates.get(name, -1))
                for name, size in sorted(sizes.items(), key=lambda item: (-item[1], item[0]))
            )
            counts = {t.name: t.rows for t in tables}
            return StoreSizes(
                tables=tables,
                total_bytes=total,
                revisions=counts.get("revisions", 0),
                legacy_revisions=_count(
                    tx, "SELECT count(*) AS n FROM revision_content WHERE page_sum IS NULL"
                ),
                fetches=counts.get("fetches", 0),
                oldest_fetch=self._oldest_fetch(tx),
                oldest_quiet=self._dt(
                    tx.one(
                        "SELECT min(fetched_at) AS t FROM fetches"
                        " WHERE outcome IN ('not_modified', 'unchanged')"
                    )["t"]
                ),
                rolled_up_checks=_count(
                    tx, "SELECT coalesce(sum(not_modified + unchanged), 0) AS n FROM fetch_days"
                ),
                oldest_rolled_up=_maybe_day(
                    self, tx.one("SELECT min(day) AS d FROM fetch_days")["d"]
                ),
            )

    def _table_size(self, tx: Tx, name: str, size: int, estimate: int) -> TableSize:
        if estimate > EXACT_ROWS:
            return TableSize(name, estimate, size, estimated=True)
        return TableSize(name, _count(tx, f"SELECT count(*) AS n FROM {name}"), size)

    def _oldest_fetch(self, tx: Tx) -> datetime | None:
        """The oldest check still itemised (a scan of the fetch log: `db stats` only)."""
        return self._dt(tx.one("SELECT min(fetched_at) AS t FROM fetches")["t"])


def _count(tx: Tx, sql: str) -> int:
    return int(tx.one(sql)["n"])


def _maybe_day(store: FetchLog, value: Any) -> date | None:
    return None if value is None else store._to_day(value)
