"""The bottom layer: the domain model, the `Store` protocol and its SQLite and PostgreSQL backends.

Imports nothing else of Redline's.
"""

from storage.base import Compare, Store
from storage.errors import (
    DatabaseUnavailable,
    InvalidInput,
    NotFound,
    SchemaError,
    SchemaOutdated,
    SchemaTooNew,
    StorageError,
)
from storage.model import (
    Alert,
    AlertStatus,
    Article,
    ArticleStatus,
    Change,
    ChangeClass,
    ChangeKind,
    ChangeSummary,
    Claim,
    EncodedPage,
    Event,
    EventKind,
    FeedItem,
    FetchResult,
    Outcome,
    Page,
    PageKind,
    RecordResult,
    Revision,
    RevisionInfo,
    Source,
    SourceKind,
)

__all__ = [
    "Alert",
    "AlertStatus",
    "Article",
    "ArticleStatus",
    "Change",
    "ChangeClass",
    "ChangeKind",
    "ChangeSummary",
    "Claim",
    "Compare",
    "DatabaseUnavailable",
    "EncodedPage",
    "Event",
    "EventKind",
    "FeedItem",
    "FetchResult",
    "InvalidInput",
    "NotFound",
    "Outcome",
    "Page",
    "PageKind",
    "RecordResult",
    "Revision",
    "RevisionInfo",
    "SchemaError",
    "SchemaOutdated",
    "SchemaTooNew",
    "Source",
    "SourceKind",
    "StorageError",
    "Store",
]

from storage.open import open_store

__all__ += ["open_store"]
