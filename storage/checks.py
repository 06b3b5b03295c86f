"""What one check of one article came to, as the store persists it.

`scheduler.decision.decide` makes these values; `Store.record` writes them in one transaction
and decides nothing itself. A check has exactly one typed outcome (a closed set: the classes
below), the article's state after the check (schedule, status, validators, what the crawler
remembers), the URL events it saw and the alert rows it calls for. The store re-checks only what
concurrency requires: the fetch id (a retried commit is a no-op) and, for a new revision, that
the revision it was diffed against is still the latest (otherwise it reports the check stale
and writes nothing, so that the caller compares and decides again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from redline.storage.model import (
    ArticleStatus,
    Change,
    EncodedPage,
    EventKind,
    Outcome,
    Page,
)


@dataclass(frozen=True, slots=True)
class NotModified:
    """304, or the same bytes as last time: nothing was extracted."""

    word = Outcome.NOT_MODIFIED


@dataclass(frozen=True, slots=True)
class Unchanged:
    """Extracted (or re-checked) and the article's text is the latest revision's."""

    word = Outcome.UNCHANGED


@dataclass(frozen=True, slots=True)
class NewRevision:
    """The article's text changed: revision `base_revision + 1`, with its changes against
    revision `base_revision`. `encoded` holds the stored forms when the crawler's pool made
    them; otherwise the store encodes `page` and `raw_html` before its transaction opens."""

    page: Page
    content_hash: str
    base_revision: int
    changes: tuple[Change, ...] = ()
    raw_html: bytes | None = None
    encoded: EncodedPage | None = None
    # What is news, when not all of `changes` is: after an upgrade of extraction, the changes
    # against the previous revision's HTML read again by today's extractor.
    news: tuple[Change, ...] | None = None

    @property
    def word(self) -> Outcome:
        return Outcome.NEW if self.base_revision == 0 else Outcome.CHANGED

    @property
    def newsworthy(self) -> tuple[Change, ...]:
        """The changes alerts are about."""
        return self.changes if self.news is None else self.news


@dataclass(frozen=True, slots=True)
class Gone:
    """410, or 404 seen often enough in a row."""

    word = Outcome.GONE


@dataclass(frozen=True, slots=True)
class Back:
    """A gone article answers again, with the text it had."""

    word = Outcome.UNCHANGED


@dataclass(frozen=True, slots=True)
class Moved:
    """A permanent redirect or rel=canonical to `to`, and nothing else to record. `merged`:
    another article already tracks that URL, so this one is marked moved and its history stays
    where it is; otherwise the article continues under the new URL (`Decision.moved_to`) with
    its text unchanged. A move that comes with an edit is a NewRevision with a MOVED event."""

    to: str
    merged: bool = False

    word = Outcome.UNCHANGED


@dataclass(frozen=True, slots=True)
class Unavailable:
    """A paywall, consent wall, soft 404 or empty page: never a revision."""

    reason: str

    word = Outcome.UNAVAILABLE


@dataclass(frozen=True, slots=True)
class FlipFlop:
    """An older revision's text served again (a stale cache node): not a revision until it
    has stayed for the configured number of checks."""

    older: int  # the revision whose text came back
    content_hash: str

    word = Outcome.UNCHANGED


@dataclass(frozen=True, slots=True)
class Error:
    """No usable answer: `kind` is a crawler.errors.Reason value."""

    kind: str
    message: str = ""

    word = Outcome.ERROR

    @property
    def text(self) -> str:
        return f"{self.kind}: {self.message}" if self.message else self.kind


CheckOutcome = (
    NotModified | Unchanged | NewRevision | Gone | Back | Moved | Unavailable | FlipFlop | Error
)


@dataclass(frozen=True, slots=True)
class EventNote:
    """An event to append: something that happened to the URL itself."""

    kind: EventKind
    detail: str = ""


@dataclass(frozen=True, slots=True)
class PlannedAlert:
    """One outbox row: a rule's message about the revision (`event` None) or about
    `Decision.events[event]`, for one channel. Rows with the same `group_key` are sent as one
    message (a digest, or a burst of edits merged); `due_at` is when it may first be sent."""

    rule: str
    channel: str
    kinds: tuple[str, ...]
    due_at: datetime
    event: int | None = None
    group_key: str | None = None


@dataclass(frozen=True, slots=True)
class CrawlState:
    """The article's state after the check, as absolute values (the check holds its lease).
    `memory` None keeps what the store has (it is large and rarely changes)."""

    etag: str | None = None
    last_modified: str | None = None
    raw_hash: str | None = None
    memory: str | None = None
    missing_count: int = 0  # 404s in a row
    error_count: int = 0  # failed checks in a row
    last_error: str | None = None
    flip_hash: str | None = None  # an older version seen again, and how often in a row
    flip_count: int = 0


@dataclass(frozen=True, slots=True)
class Decision:
    """Everything one check decided: the outcome, what happens to the article next, the events
    and the alert rows. `next_check_at` None stops tracking (past the policy's maximum age)."""

    outcome: CheckOutcome
    next_check_at: datetime | None
    state: CrawlState = CrawlState()
    status: ArticleStatus | None = None  # the new status, when the check changed it
    moved_to: str | None = None  # the URL the article continues under (a permanent move)
    events: tuple[EventNote, ...] = ()
    alert_kinds: tuple[str, ...] = ()  # what the revision is about, for alert rules
    alerts: tuple[PlannedAlert, ...] = ()


@dataclass(frozen=True, slots=True)
class CheckRecord:
    """One check as the store records it, keyed by `fetch_id` (recording it twice is a no-op)."""

    fetch_id: str
    article_id: int
    fetched_at: datetime
    decision: Decision
    owner: str | None = None  # the lease holder: the lease is released
    http_status: int | None = None
