"""Decided checks for tests that exercise the store directly (what `decide` would hand it).

Not collected (no `test_` prefix). Shared by the storage tests, the CLI tests and the storage
worker, so that each builds `CheckRecord`s the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from redline.storage import (
    ArticleStatus,
    Change,
    CheckOutcome,
    CheckRecord,
    CrawlState,
    Decision,
    EventNote,
    NewRevision,
    Page,
    PlannedAlert,
    Unchanged,
)
from redline.storage.codec import content_hash

NOW = datetime.fromisoformat("2026-11-27T12:00:00+00:00")


def check(
    article_id: int,
    fetch_id: str,
    outcome: CheckOutcome | None = None,
    *,
    at: datetime = NOW,
    next_at: datetime | None = NOW + timedelta(minutes=10),
    state: CrawlState | None = None,
    status: ArticleStatus | None = None,
    events: Sequence[EventNote] = (),
    alerts: Sequence[PlannedAlert] = (),
    moved_to: str | None = None,
    owner: str | None = None,
    http_status: int | None = 200,
) -> CheckRecord:
    decision = Decision(
        outcome=outcome if outcome is not None else Unchanged(),
        next_check_at=next_at,
        state=state or CrawlState(),
        status=status,
        moved_to=moved_to,
        events=tuple(events),
        alerts=tuple(alerts),
    )
    return CheckRecord(fetch_id, article_id, at, decision, owner, http_status)


def new_revision(
    page: Page,
    base: int = 0,
    changes: Sequence[Change] = (),
    raw_html: bytes | None = None,
) -> NewRevision:
    return NewRevision(page, content_hash(page), base, tuple(changes), raw_html)


def revision(
    article_id: int,
    fetch_id: str,
    page: Page,
    *,
    base: int = 0,
    changes: Sequence[Change] = (),
    raw_html: bytes | None = None,
    **kw: object,
) -> CheckRecord:
    """A check that writes revision `base + 1`."""
    return check(article_id, fetch_id, new_revision(page, base, changes, raw_html), **kw)  # type: ignore[arg-type]
