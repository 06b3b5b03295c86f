"""The domain model: frozen values that every layer passes around.

Everything here is plain data. Extraction produces `Page` and `FeedItem`, the differ produces
`Change`, the store persists `Revision`, `Event` and `Alert` rows and hands back `Article` and
`Source`. Times are timezone-aware UTC `datetime`s; text is `str`; nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")


class PageKind(StrEnum):
    """What a fetched page turned out to be."""

    ARTICLE = "article"
    LIVE = "live"  # a live blog or "News Feed" page: its items are the news
    NOT_ARTICLE = "not_article"  # paywall, consent wall, soft 404, error page, empty extraction


class SourceKind(StrEnum):
    FEED = "feed"  # RSS or Atom
    SITEMAP = "sitemap"  # sitemap, sitemap index or news sitemap
    PAGE = "page"  # section or front page, links filtered by a pattern
    LIVE = "live"  # a live-feed page tracked as one article


class ArticleStatus(StrEnum):
    ACTIVE = "active"
    GONE = "gone"  # 410, or 404 repeated
    MOVED = "moved"  # redirected to a URL that another article already tracks
    STOPPED = "stopped"  # past its maximum tracking age, or stopped by the operator


class ChangeKind(StrEnum):
    ADDED = "added"
    CHANGED = "changed"
    REMOVED = "removed"
    MOVED = "moved"  # a feed item (or paragraph) whose only change is its position


class ChangeClass(StrEnum):
    COSMETIC = "cosmetic"  # whitespace, punctuation, quote style or case only
    MINOR = "minor"  # a few words
    SUBSTANTIVE = "substantive"
    REWRITE = "rewrite"  # most of the text replaced


class EventKind(StrEnum):
    FIRST_SEEN = "first_seen"
    GONE = "gone"
    BACK = "back"  # answered again after being gone or unavailable
    MOVED = "moved"  # 301/308 to a new URL; history continues under the new URL
    UNAVAILABLE = "unavailable"  # soft 404, paywall or consent page
    FLIP_FLOP = "flip_flop"  # served an older version again (stale cache); no revision
    # The operator's own changes (`redline remove`, `pause`, `resume`): no check records them.
    STOPPED = "stopped"  # no longer tracked; the history is kept
    PAUSED = "paused"  # not checked until resumed
    RESUMED = "resumed"  # checked again, due at once


# The events an operator's command records, as opposed to what a check found.
OPERATOR_EVENTS = frozenset({EventKind.STOPPED, EventKind.PAUSED, EventKind.RESUMED})


class SourceOrigin(StrEnum):
    CLI = "cli"  # `redline sources add`
    CONFIG = "config"  # a [[sources]] table of the config file


class AlertStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after the last retry
    DROPPED = "dropped"  # not sent: a second look found the change gone (a rule's `confirm`)


class Outcome(StrEnum):
    """What one check of one article came to: the closed vocabulary of summaries and logs."""

    NEW = "new"  # first revision of the article
    CHANGED = "changed"  # a new revision
    UNCHANGED = "unchanged"  # fetched and extracted; same content hash as the latest revision
    NOT_MODIFIED = "not_modified"  # 304, or byte-identical body
    GONE = "gone"
    UNAVAILABLE = "unavailable"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One item of a live feed or "News Feed" column.

    `key` is stable across checks: an id or anchor from the markup when there is one, otherwise
    derived from the item's first-seen time and headline. `updated` keeps the page's own
    "(Updated ...)" marker text, or None when the item carries none.
    """

    key: str
    headline: str
    text: str = ""
    time: datetime | None = None
    updated: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """What a reader calls the article, as extraction returned it.

    Page furniture (menus, trending lists, sign-up boxes, relative times, tokens) is never part of
    it. The body is a tuple of normalised paragraphs in reading order.
    """

    headline: str = ""  # the display headline: what the page shows as its heading
    # The SEO and social title (og:title, else <title> without the site's name), where it reads
    # differently from the headline; "" where it is the same.
    title: str = ""
    byline: tuple[str, ...] = ()
    published: datetime | None = None
    updated: datetime | None = None
    body: tuple[str, ...] = ()
    items: tuple[FeedItem, ...] = ()
    kind: PageKind = PageKind.ARTICLE
    language: str | None = None
    canonical_url: str | None = None
    extractor: str = ""
    extractor_version: str = ""
    reason: str | None = None  # why a page is NOT_ARTICLE: "paywall", "soft_404", "empty"...

    @property
    def text(self) -> str:
        """The body as one string, paragraphs separated by a blank line."""
        return "\n\n".join(self.body)


@dataclass(frozen=True, slots=True)
class Change:
    """One field's difference between a revision and the one before it.

    `field` is "headline", "title", "byline", "published", "updated", "body" or "item:<key>".
    `patch` is the differ's compact serialised diff: applying it to `old` gives `new` exactly.
    """

    field: str
    kind: ChangeKind
    class_: ChangeClass
    old: str | None = None
    new: str | None = None
    patch: str = ""
    words_added: int = 0
    words_removed: int = 0
    similarity: float = 1.0
    notes: tuple[str, ...] = ()  # "correction", "editors_note", "update_notice"
    stealth: bool = False  # body changed substantively, declared updated time did not
    coarse: bool = False  # the word diff hit its time bound; paragraph-level diff instead


@dataclass(frozen=True, slots=True)
class Source:
    id: int
    url: str
    kind: SourceKind
    every_seconds: int
    pattern: str | None = None
    enabled: bool = True
    next_check_at: datetime | None = None
    last_checked_at: datetime | None = None
    last_error: str | None = None
    origin: SourceOrigin = SourceOrigin.CLI  # where it was declared


@dataclass(frozen=True, slots=True)
class PurgeCounts:
    """What `redline remove --purge` deleted (or would delete) of one article."""

    url: str
    revisions: int = 0
    events: int = 0
    fetches: int = 0
    alerts: int = 0


# --- keeping the database small: what `redline db compact` and `db stats` report --------------
@dataclass(frozen=True, slots=True)
class Verified:
    """What `verify` read: revisions checked, and damaged parts (Page or raw HTML) found."""

    revisions: int = 0
    damaged: int = 0


@dataclass(frozen=True, slots=True)
class Compacted:
    """What one `compact` call did."""

    revisions: int = 0  # rows given their checksums (re-encoded or kept as keyframes)
    reencoded: int = 0  # of which stored against a keyframe now
    articles: int = 0
    bytes_before: int = 0  # stored bytes of those rows, before and after
    bytes_after: int = 0
    damaged: int = 0  # rows that do not decode: left as they are (and reported on reading)

    def __add__(self, other: Compacted) -> Compacted:
        return Compacted(*(getattr(self, f) + getattr(other, f) for f in self.__dataclass_fields__))


@dataclass(frozen=True, slots=True)
class RolledUp:
    """What one `roll_up_fetches` call did."""

    checks: int = 0  # fetch rows counted and deleted
    counts: int = 0  # daily rows written or added to (a day split between batches: twice)


@dataclass(frozen=True, slots=True)
class CheckDay:
    """One article's checks of one outcome on one day (UTC), rolled up."""

    day: date
    outcome: Outcome
    checks: int


@dataclass(frozen=True, slots=True)
class TableSize:
    """One table with its indexes (and TOAST, FTS shadow tables): rows and bytes in use."""

    name: str
    rows: int
    bytes: int
    estimated: bool = False  # rows from the planner's statistics, not counted


@dataclass(frozen=True, slots=True)
class StoreSizes:
    tables: tuple[TableSize, ...]
    total_bytes: int  # what the database takes (its pages in use, or its relations)
    revisions: int
    legacy_revisions: int  # written before schema 8, not yet compacted
    fetches: int  # itemised checks
    oldest_fetch: datetime | None
    oldest_quiet: datetime | None  # the oldest quiet check not yet rolled up
    rolled_up_checks: int
    oldest_rolled_up: date | None

    @property
    def bytes_per_revision(self) -> float | None:
        return self.total_bytes / self.revisions if self.revisions else None

    def table(self, name: str) -> TableSize | None:
        return next((t for t in self.tables if t.name == name), None)


@dataclass(frozen=True, slots=True)
class Article:
    id: int
    url: str
    site: str
    first_seen: datetime
    status: ArticleStatus = ArticleStatus.ACTIVE
    is_live: bool = False
    source_id: int | None = None
    next_check_at: datetime | None = None
    last_checked_at: datetime | None = None
    last_changed_at: datetime | None = None
    revision_count: int = 0
    etag: str | None = None
    last_modified: str | None = None
    error_count: int = 0
    last_error: str | None = None
    paused: bool = False  # not checked until resumed (the status stays what it was)

    @property
    def state(self) -> str:
        """What a listing shows: the status, or "paused" for a paused active or gone one."""
        if self.paused and self.status in (ArticleStatus.ACTIVE, ArticleStatus.GONE):
            return "paused"
        return str(self.status)


@dataclass(frozen=True, slots=True)
class ChangeSummary:
    """The (field, kind, class) of one change: what a history listing shows."""

    field: str
    kind: ChangeKind
    class_: ChangeClass


@dataclass(frozen=True, slots=True)
class RevisionInfo:
    """A revision without its Page: one line of an article's history."""

    article_id: int
    number: int
    fetched_at: datetime
    content_hash: str
    headline: str
    changes: tuple[ChangeSummary, ...] = ()
    title: str = ""  # the page's SEO title where it differs from the headline ("" before 0005)


@dataclass(frozen=True, slots=True)
class Revision:
    """An immutable, numbered version of an article (1, 2, 3...)."""

    article_id: int
    number: int
    fetched_at: datetime
    content_hash: str
    page: Page
    fetch_id: str
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened to the URL itself: gone, back, moved, unavailable..."""

    article_id: int
    at: datetime
    kind: EventKind
    detail: str = ""
    id: int | None = None
    fetch_id: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """One outbox row per (revision or event, channel), delivered at least once."""

    id: int
    channel: str
    article_id: int
    idempotency_key: str
    kinds: tuple[str, ...]  # "headline_changed", "body_changed", "item_updated"...
    created_at: datetime
    revision: int | None = None
    event_id: int | None = None
    status: AlertStatus = AlertStatus.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    last_error: str | None = None
    rule: str = ""  # the alert rule (configuration) that matched
    group_key: str | None = None  # rows with the same key go out as one message
    batch: str | None = None  # the key of the message that carries it, once first tried


@dataclass(frozen=True, slots=True)
class AlertBatch:
    """Outbox rows leased to one worker, to go out as ONE message under `key` (its
    idempotency key: the same on every retry)."""

    key: str
    channel: str
    rule: str
    alerts: tuple[Alert, ...]


@dataclass(frozen=True, slots=True)
class Claim:
    """A due article leased to one worker, with what the fetch needs to be conditional."""

    article_id: int
    url: str
    owner: str
    lease_until: datetime
    due_at: datetime | None
    etag: str | None = None
    last_modified: str | None = None
    latest_revision: int = 0
    latest_hash: str | None = None
    is_live: bool = False
    site: str = ""
    first_seen: datetime | None = None
    last_changed_at: datetime | None = None
    recent_changes: int = 0  # revisions in the last 7 days: the revisit policy's change rate
    raw_hash: str | None = None  # hash of the last body's bytes: identical bytes skip extraction
    memory: str | None = None  # what extraction learnt about this article (opaque JSON)
    missing_count: int = 0  # consecutive 404s so far
    status: ArticleStatus = ArticleStatus.ACTIVE
    error_count: int = 0  # failed checks in a row so far
    last_event: EventKind | None = None  # the latest event of the article's URL
    flip_hash: str | None = None  # an older version seen again in the last checks...
    flip_count: int = 0  # ...this many checks in a row
    source_id: int | None = None  # the discovery source that found it


@dataclass(frozen=True, slots=True)
class EncodedPage:
    """A Page and its raw HTML in the forms the store keeps, made ahead of the write (by
    `storage.codec.encode_fetch`, in the crawler's process pool) so that the process that
    writes does no hashing or compression. The store trusts it to match the Page it comes with.
    """

    content_hash: str
    page: bytes  # canonical JSON, zstd
    raw_html: bytes | None = None  # the raw HTML, zstd
    # Checksums of the canonical JSON and of the raw HTML (storage.delta.checksum): what a
    # stored row says it decodes to. None: the store computes them.
    page_sum: bytes | None = None
    raw_sum: bytes | None = None


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What `Store.record` did with one check."""

    outcome: Outcome
    revision: int | None = None
    duplicate: bool = False  # this fetch_id was already recorded: nothing was written
    # The check's new revision was diffed against a revision that is no longer the latest
    # (another worker wrote one since): nothing was written, the lease is still held, and the
    # caller compares against the latest revision and decides again.
    stale: bool = False


# --- reading history in pages: what the web app, the JSON API and the feeds list ---------------
# Every listing is keyset-paginated: a call returns at most `limit` rows and an opaque `cursor`
# string for the next call (None on the last page), so the 100,000th row costs what the first does.

CHANGE_GROUPS = ("headline", "title", "byline", "dates", "body", "item", "gone", "moved")


@dataclass(frozen=True, slots=True)
class ChangeQuery:
    """Filters of a recent-changes listing; every field narrows it, empty ones do not.

    `groups` name what changed: "headline", "title", "byline", "dates" (published or updated),
    "body", "item" (a live-feed item), and the URL events "gone" and "moved". `classes` keeps
    revisions with at least one change of these classes. Times bound `at` (inclusive since,
    exclusive until)."""

    site: str | None = None
    article_id: int | None = None
    groups: frozenset[str] = frozenset()
    classes: frozenset[ChangeClass] = frozenset()
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChangeEntry:
    """One line of a recent-changes listing: a revision (number 2 and up) with its changes, or a
    URL event (gone, moved, back, unavailable)."""

    article_id: int
    url: str  # the article's current URL
    site: str
    at: datetime
    revision: int | None = None  # None for an event
    headline: str = ""  # the revision's headline (for an event: the article's latest headline)
    old_headline: str | None = None  # the previous revision's headline, when it changed
    changes: tuple[Change, ...] = ()  # full rows (patch, counts, notes, stealth), position order
    event: Event | None = None


@dataclass(frozen=True, slots=True)
class CheckInfo:
    """One check of an article (a row of `fetches`): the article page's check history."""

    fetch_id: str
    at: datetime
    outcome: Outcome
    http_status: int | None = None
    revision: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SearchHit:
    """An article whose revisions matched a search: which did, and whether the text is gone.

    `first` and `last` are the first and last matching revision numbers; `latest` is the
    article's latest revision. `removed_in` is the revision after `last` when the latest no
    longer matches ("when did it disappear"), else None."""

    article_id: int
    url: str
    site: str
    headline: str  # of the last matching revision
    first: int
    last: int
    latest: int
    first_at: datetime
    last_at: datetime
    removed_in: int | None = None
    removed_at: datetime | None = None
    snippet: str = ""  # plain text around the first match in the last matching revision


@dataclass(frozen=True, slots=True)
class Listing(Generic[T]):
    """One page of a keyset-paginated listing."""

    rows: tuple[T, ...]
    cursor: str | None = None  # pass back for the next page; None: this was the last
