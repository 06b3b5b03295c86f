"""A check's outcome, decided once: a pure function from what was seen to what is recorded.

`decide(article, seen, settings, now)` takes the claimed article's state (`Claim`), what the
fetch showed and what extraction and the differ made of it (`Observation`), the policy settings
and the time, and returns one `Decision`: a typed outcome from a closed set (storage.checks),
the next check time, the article's new state, the URL events and the alert kinds. No I/O, no
clock, no randomness: tested as a table (tests/test_decision.py), one row per HTTP status and
state transition of docs/crawling.md.

The rules: URL states are events, never revisions. 410, or 404 seen `gone_after` times in a
row, is `gone` (and `back` when the page answers again); a permanent redirect (301/308) or a
same-site rel=canonical is a move, and history continues under the new URL unless another
article already tracks it (then this one is marked moved); a paywall, consent wall or soft 404
is `unavailable`; an older version served again is a flip-flop until it has stayed
`flip_confirmations` checks in a row. Lasting states (gone, unavailable) are one event when
they begin, not one per check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from redline.crawler.errors import Reason
from redline.crawler.urls import canonicalize, registrable_domain, resolve_canonical
from redline.scheduler.policy import (
    PolicySettings,
    next_check,
    next_check_after_error,
    settings_for,
)
from redline.storage.checks import (
    Back,
    CheckOutcome,
    CrawlState,
    Decision,
    Error,
    EventNote,
    FlipFlop,
    Gone,
    Moved,
    NewRevision,
    NotModified,
    Unavailable,
    Unchanged,
)
from redline.storage.model import (
    ArticleStatus,
    Change,
    ChangeKind,
    Claim,
    EncodedPage,
    EventKind,
    Page,
    PageKind,
)

PERMANENT = (301, 308)
RATE_LIMITING = (429, 503)
EVENT_TRIGGERS = {
    EventKind.GONE: "article_gone",
    EventKind.BACK: "article_back",
    EventKind.MOVED: "article_moved",
}
LASTING = frozenset({EventKind.GONE, EventKind.UNAVAILABLE})  # one event when the state begins


@dataclass(frozen=True, slots=True)
class CheckSettings:
    """The rules' settings (docs/crawling.md)."""

    gone_after: int = 3  # consecutive 404s before an article is gone
    flip_confirmations: int = 3  # an older version must stay this many checks to count again
    gone_recheck: timedelta = timedelta(days=1)  # how often a gone article is looked at
    policy: PolicySettings = field(default_factory=PolicySettings)
    site_policies: Mapping[str, PolicySettings] = field(default_factory=dict)

    def policy_for(self, site: str) -> PolicySettings:
        """The revisit policy of a site ([policy.sites."..."]), else the default."""
        return settings_for(site, self.policy, self.site_policies)


@dataclass(frozen=True, slots=True)
class Observation:
    """What one fetch showed, and what extraction and the differ made of it.

    `error` is set when there was no usable answer. `page` is None when nothing was
    extracted: either the page was not worth extracting (see `worth_extracting`), or the fast
    re-check found the article's own text unchanged (`same_text`). `moved_owner` is the id of
    another article already tracking `moved_to`; `older_revision` the number of an older
    revision whose text equals this page's (both looked up by the caller)."""

    status: int | None = None
    error: str | None = None
    message: str = ""
    retry_after: float | None = None
    etag: str | None = None
    last_modified: str | None = None
    raw_hash: str | None = None
    moved_to: str | None = None
    moved_detail: str = ""
    moved_owner: int | None = None
    page: Page | None = None
    same_text: bool = False
    content_hash: str | None = None
    changes: tuple[Change, ...] = ()
    raw_html: bytes | None = None
    encoded: EncodedPage | None = None
    memory: str | None = None
    older_revision: int | None = None
    news: tuple[Change, ...] | None = None  # see NewRevision.news

    @property
    def extracted(self) -> bool:
        return self.page is not None or self.same_text


# --- what the fetch showed, before the decision ------------------------------------------------
def redirect_target(
    article: Claim, final_url: str, redirects: Sequence[tuple[str, int]]
) -> str | None:
    """The new URL, when every redirect hop was permanent and it leads somewhere else."""
    if not redirects or any(status not in PERMANENT for _, status in redirects):
        return None
    final = canonicalize(final_url)
    return final if final != canonicalize(article.url) else None


def canonical_target(
    article: Claim, final_url: str, redirects: Sequence[tuple[str, int]], page: Page
) -> str | None:
    """The page's own rel=canonical, when it names another URL of the same site and no
    temporary redirect was involved: one story reached two ways is one article."""
    if page.kind is PageKind.NOT_ARTICLE or not page.canonical_url:
        return None
    if any(status not in PERMANENT for _, status in redirects):
        return None
    canonical = resolve_canonical(final_url or article.url, page.canonical_url)
    if registrable_domain(canonical) != registrable_domain(article.url):
        return None
    return canonical if canonical != canonicalize(article.url) else None


def worth_extracting(article: Claim, seen: Observation) -> bool:
    """A full answer whose bytes differ from last time (or that moved) is read; a 304, an
    error or identical bytes are not, except while an older version is being counted (a
    flip-flop): each sighting must be seen to count."""
    if seen.error is not None or seen.status is None or not 200 <= seen.status < 300:
        return False
    changed = seen.raw_hash != article.raw_hash or seen.moved_to is not None
    return changed or article.flip_hash is not None


# --- the decision -------------------------------------------------------------------------------
def decide(article: Claim, seen: Observation, settings: CheckSettings, now: datetime) -> Decision:
    """The one decision about one check (see the module docstring for the rules)."""
    if seen.error is not None:
        return _failed(article, seen, Error(seen.error, seen.message), settings, now)
    status = seen.status or 0
    events = _move_events(seen)
    if seen.moved_to and seen.moved_owner is not None:
        return _decision(
            article,
            Moved(seen.moved_to, merged=True),
            None,
            _kept(article),
            status=ArticleStatus.MOVED,
            events=events,
        )
    if status == 410 or (status == 404 and article.missing_count + 1 >= settings.gone_after):
        return _gone(article, seen, events, settings, now)
    if not (200 <= status < 300 or status == 304):
        reason = Reason.RATE_LIMITED if status in RATE_LIMITING else Reason.HTTP_ERROR
        return _failed(article, seen, Error(str(reason), f"HTTP {status}"), settings, now, events)
    return _answered(article, seen, events, settings, now)


def _answered(
    article: Claim,
    seen: Observation,
    events: list[EventNote],
    settings: CheckSettings,
    now: datetime,
) -> Decision:
    """A 2xx or 304 answer: not modified, unchanged, unavailable, a flip-flop or a revision."""
    page = seen.page
    readable = page is None or page.kind is not PageKind.NOT_ARTICLE
    back = article.status is ArticleStatus.GONE and readable
    if back:
        events.append(EventNote(EventKind.BACK, f"HTTP {seen.status}"))
    state = _kept(article) if not seen.extracted else _fresh(article, seen)
    outcome = _content_outcome(article, seen, settings)
    if isinstance(outcome, Unavailable) and article.last_event is not EventKind.UNAVAILABLE:
        events.append(EventNote(EventKind.UNAVAILABLE, outcome.reason))
    if isinstance(outcome, FlipFlop):
        # What extraction learnt stays the latest revision's: the old page is not (yet) news.
        count = _sightings(article, outcome.content_hash)
        state = _with(state, flip_hash=outcome.content_hash, flip_count=count, memory=None)
        if count == 1:
            events.append(EventNote(EventKind.FLIP_FLOP, f"served revision {outcome.older} again"))
    if isinstance(outcome, NotModified | Unchanged) and (back or seen.moved_to):
        outcome = Back() if back else Moved(seen.moved_to or "")
    changed = isinstance(outcome, NewRevision)
    upcoming = _next(article, settings, now, changed=changed, gone=not back)
    return _decision(
        article,
        outcome,
        upcoming,
        state,
        status=ArticleStatus.ACTIVE if back else None,
        events=events,
        moved_to=seen.moved_to,
        alert_kinds=triggers(outcome.newsworthy, first=outcome.base_revision == 0)
        if isinstance(outcome, NewRevision)
        else (),
    )


def _content_outcome(article: Claim, seen: Observation, settings: CheckSettings) -> CheckOutcome:
    """What the answer's content came to, before URL states are taken into account."""
    page = seen.page
    if not seen.extracted:
        return NotModified()
    if page is None:  # the fast re-check: the article's own text did not change
        return Unchanged()
    if page.kind is PageKind.NOT_ARTICLE:
        return Unavailable(page.reason or "not an article")
    digest = seen.content_hash or ""
    if digest == article.latest_hash:
        return Unchanged()
    if _flip_flop(article, seen, settings):
        return FlipFlop(seen.older_revision or 0, digest)
    return NewRevision(
        page=page,
        content_hash=digest,
        base_revision=article.latest_revision,
        changes=seen.changes,
        raw_html=seen.raw_html,
        encoded=seen.encoded,
        news=seen.news,
    )


def _flip_flop(article: Claim, seen: Observation, settings: CheckSettings) -> bool:
    """An older revision's text served again counts only once it has been seen
    `flip_confirmations` checks in a row (a stale cache node bouncing between versions)."""
    if settings.flip_confirmations <= 0 or not article.latest_revision:
        return False
    if seen.older_revision is None:
        return False
    return _sightings(article, seen.content_hash) < settings.flip_confirmations


def _sightings(article: Claim, content_hash: str | None) -> int:
    """How many checks in a row, this one included, have served this older version."""
    return article.flip_count + 1 if article.flip_hash == content_hash else 1


def _gone(
    article: Claim,
    seen: Observation,
    events: list[EventNote],
    settings: CheckSettings,
    now: datetime,
) -> Decision:
    if not (article.status is ArticleStatus.GONE and article.last_event is EventKind.GONE):
        events.append(EventNote(EventKind.GONE, f"HTTP {seen.status}"))
    missing = article.missing_count + 1 if seen.status == 404 else 0
    return _decision(
        article,
        Gone(),
        now + settings.gone_recheck,
        CrawlState(memory=None, missing_count=missing),
        status=ArticleStatus.GONE,
        events=events,
        moved_to=seen.moved_to,
    )


def _failed(
    article: Claim,
    seen: Observation,
    error: Error,
    settings: CheckSettings,
    now: datetime,
    events: list[EventNote] | None = None,
) -> Decision:
    """No usable answer: validators and memory are kept, the failure counted (a flip-flop's
    count starts again: it counts checks in a row), and the next try is when the host asked
    (Retry-After) or backs off from minutes to a day."""
    missing = article.missing_count + 1 if seen.status == 404 else article.missing_count
    state = _with(
        _kept(article),
        missing_count=missing,
        error_count=article.error_count + 1,
        last_error=error.text,
    )
    upcoming = _retry_at(article, settings, now, seen.retry_after)
    return _decision(article, error, upcoming, state, events=events or [], moved_to=seen.moved_to)


# --- pieces -------------------------------------------------------------------------------------
def _decision(
    article: Claim,
    outcome: CheckOutcome,
    upcoming: datetime | None,
    state: CrawlState,
    *,
    status: ArticleStatus | None = None,
    events: list[EventNote],
    moved_to: str | None = None,
    alert_kinds: tuple[str, ...] = (),
) -> Decision:
    if upcoming is None and status in (None, ArticleStatus.ACTIVE):
        status = ArticleStatus.STOPPED  # past the policy's maximum age: stop tracking
    merged = status is ArticleStatus.MOVED
    return Decision(
        outcome=outcome,
        next_check_at=upcoming,
        state=state,
        status=status,
        moved_to=None if merged else moved_to,
        events=tuple(events),
        alert_kinds=alert_kinds,
    )


def _move_events(seen: Observation) -> list[EventNote]:
    if not seen.moved_to:
        return []
    return [EventNote(EventKind.MOVED, seen.moved_detail or seen.moved_to)]


def _kept(article: Claim) -> CrawlState:
    """The state of a check that read nothing new: validators and bytes' hash kept."""
    return CrawlState(
        etag=article.etag,
        last_modified=article.last_modified,
        raw_hash=article.raw_hash,
    )


def _fresh(article: Claim, seen: Observation) -> CrawlState:
    """The state after a full answer that was read: its validators and bytes' hash."""
    return CrawlState(
        etag=seen.etag,
        last_modified=seen.last_modified,
        raw_hash=seen.raw_hash,
        memory=seen.memory,
    )


def _with(state: CrawlState, **changes: Any) -> CrawlState:
    return replace(state, **changes)


def _next(
    article: Claim, settings: CheckSettings, now: datetime, *, changed: bool, gone: bool
) -> datetime | None:
    if gone and article.status is ArticleStatus.GONE and not changed:
        return now + settings.gone_recheck
    return next_check(
        now=now,
        first_seen=article.first_seen or now,
        last_changed=now if changed else article.last_changed_at,
        recent_changes=article.recent_changes + (1 if changed else 0),
        settings=settings.policy_for(article.site),
        key=article.url,
    )


def _retry_at(
    article: Claim, settings: CheckSettings, now: datetime, retry_after: float | None
) -> datetime | None:
    """When the host asked (Retry-After), else backing off from minutes to a day as
    failures repeat (scheduler.policy.next_check_after_error)."""
    if retry_after is not None:
        return now + timedelta(seconds=max(retry_after, 1.0))
    return next_check_after_error(
        now=now,
        first_seen=article.first_seen or now,
        failures=article.error_count + 1,
        settings=settings.policy_for(article.site),
        key=article.url,
    )


# --- alert kinds --------------------------------------------------------------------------------
def triggers(changes: Sequence[Change], *, first: bool) -> tuple[str, ...]:
    """What a revision is about, as alert rules name it, in a fixed order. A first revision
    is `new_article` and nothing else."""
    if first:
        return ("new_article",)
    kinds: set[str] = set()
    for change in changes:
        kinds.update(change_triggers(change))
    return tuple(sorted(kinds))


def change_triggers(change: Change) -> set[str]:
    """The alert kinds one change fires (before any rule's class or text filter)."""
    kinds = set()
    if change.field.startswith("item:"):
        kinds.add(_ITEM_TRIGGERS.get(change.kind, ""))
    elif change.field in ("headline", "title", "byline", "body"):
        kinds.add(f"{change.field}_changed")
    if "correction" in change.notes or "editors_note" in change.notes:
        kinds.add("correction")
    if change.stealth:
        kinds.add("stealth_edit")
    if change.words_added:
        kinds.add("text_added")
    if change.words_removed:
        kinds.add("text_removed")
    kinds.discard("")
    return kinds


_ITEM_TRIGGERS = {
    ChangeKind.ADDED: "item_added",
    ChangeKind.CHANGED: "item_updated",
    ChangeKind.REMOVED: "item_removed",
}
