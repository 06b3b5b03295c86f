"""The `Store` logic shared by both SQL backends: every query lives here, written once.

Queries use `?` placeholders; the PostgreSQL backend rewrites them. A backend supplies a
transaction (`_tx`), the conversion of times to and from its column type, and two locking
clauses. Nothing in this module knows which database it talks to.
"""

from __future__ import annotations

from redline.storage.sqlstore.base import Tx, site_of, validate_url
from redline.storage.sqlstore.compaction import Compaction
from redline.storage.sqlstore.history import History
from redline.storage.sqlstore.leases import Leases
from redline.storage.sqlstore.outbox import Outbox
from redline.storage.sqlstore.reading import Reading
from redline.storage.sqlstore.sizes import Sizes
from redline.storage.sqlstore.stats import Stats
from redline.storage.sqlstore.tracking import Tracking
from redline.storage.sqlstore.writes import Writes


class SqlStore(Reading, Tracking, Leases, Writes, History, Outbox, Stats, Compaction, Sizes):
    """Everything a Store does, over a backend-supplied transaction."""


__all__ = ["SqlStore", "Tx", "site_of", "validate_url"]
