"""The `Store` logic shared by both SQL backends: every query lives here, written once.

Queries use `?` placeholders; the PostgreSQL backend rewrites them. A backend supplies a
transaction (`_tx`), the conversion of times to and from its column type, and two locking
clauses. Nothing in this module knows which database it talks to.
"""

from __future__ import annotations

from storage.sqlstore.base import Tx, site_of, validate_url
from storage.sqlstore.history import History
from storage.sqlstore.leases import Leases
from storage.sqlstore.outbox import Outbox
from storage.sqlstore.reading import Reading
from storage.sqlstore.stats import Stats
from storage.sqlstore.tracking import Tracking
from storage.sqlstore.writes import Writes


class SqlStore(Reading, Tracking, Leases, Writes, History, Outbox, Stats):
    """Everything a Store does, over a backend-supplied transaction."""


__all__ = ["SqlStore", "Tx", "site_of", "validate_url"]
