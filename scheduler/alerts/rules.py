"""Alert rules: which recorded changes go to which channels. Pure, and planned with the check,
so that the outbox rows are written in the check's own transaction.

A rule names triggers (`when`), channels, optional filters (sites, sources, a URL pattern, a
minimum change class, a text pattern) and a delivery mode: `immediate` (default), `digest`
(one message per rule and channel per `every` period), or immediate with `quiet`, which merges
the edits of one article made within that window (from its first edit) into one message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redline.crawler.diff import Op, diff_change
from redline.scheduler.decision import EVENT_TRIGGERS, change_triggers
from redline.storage.checks import Decision, PlannedAlert
from redline.storage.model import Change, ChangeClass, Page

TRIGGERS = frozenset(
    {
        "headline_changed", "title_changed", "byline_changed", "body_changed", "stealth_edit",
        "correction", "item_added", "item_updated", "item_removed", "article_gone",
        "article_back", "article_moved", "new_article", "text_added", "text_removed",
    }
)  # fmt: skip
CLASSED = frozenset(
    {
        "headline_changed", "title_changed", "byline_changed", "body_changed",
        "item_added", "item_updated", "item_removed",
    }
)  # fmt: skip
TEXT_TRIGGERS = frozenset({"text_added", "text_removed"})
MODES = ("immediate", "digest")
CLASS_RANK = {
    ChangeClass.COSMETIC: 0,
    ChangeClass.MINOR: 1,
    ChangeClass.SUBSTANTIVE: 2,
    ChangeClass.REWRITE: 3,
}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One `[[alerts.rules]]` table, validated. Templates are kept as text here; they are
    compiled and checked where the messages are built."""

    name: str
    when: frozenset[str]
    channels: tuple[str, ...]
    min_class: ChangeClass = ChangeClass.MINOR
    pattern: re.Pattern[str] | None = None
    sites: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    url_pattern: re.Pattern[str] | None = None
    mode: str = "immediate"
    every: timedelta | None = None
    quiet: timedelta | None = None
    confirm: bool = False
    title: str | None = None
    body: str | None = None

    def __post_init__(self) -> None:
        problem = _problem(self)
        if problem:
            raise ValueError(problem)

    @property
    def needs_text(self) -> bool:
        """Whether matching needs the words each change added and removed."""
        return bool(self.when & TEXT_TRIGGERS) and self.pattern is not None


def _problem(rule: AlertRule) -> str | None:
    if not NAME.match(rule.name):
        return f"name {rule.name!r}: letters, digits, '.', '_' and '-' only"
    unknown = sorted(rule.when - TRIGGERS)
    if unknown:
        return (
            f"when: unknown trigger(s) {', '.join(unknown)} (known: {', '.join(sorted(TRIGGERS))})"
        )
    if not rule.when:
        return "when: name at least one trigger"
    if not rule.channels:
        return "channels: name at least one channel"
    if rule.mode not in MODES:
        return f"mode: {rule.mode!r} is not one of {', '.join(MODES)}"
    if rule.mode == "digest" and (rule.every is None or rule.every <= timedelta(0)):
        return 'every: a digest needs a period, e.g. every = "1h"'
    if rule.mode != "digest" and rule.every is not None:
        return 'every: only a digest has a period (mode = "digest")'
    if rule.quiet is not None and rule.quiet <= timedelta(0):
        return "quiet: must be a positive duration"
    if rule.pattern is not None and not rule.when & TEXT_TRIGGERS:
        return "pattern: only text_added and text_removed use a pattern"
    return None


@dataclass(frozen=True, slots=True)
class Subject:
    """The article a check was about, as rules filter it."""

    article_id: int
    url: str
    site: str
    source: str | None = None  # the URL of the discovery source that found it


@dataclass(frozen=True, slots=True)
class ChangeText:
    """The words one change added and removed, as text (what a `pattern` is matched against)."""

    added: str = ""
    removed: str = ""


def plan_alerts(
    rules: Sequence[AlertRule],
    decision: Decision,
    subject: Subject,
    now: datetime,
    texts: Mapping[str, ChangeText] | None = None,
) -> tuple[PlannedAlert, ...]:
    """The outbox rows a decided check calls for: per matching rule and channel, one about
    the revision (its matched kinds) and one about each matching event. `texts` (by change
    field) is needed only by rules with a text pattern."""
    changes = getattr(decision.outcome, "newsworthy", ())
    planned = []
    for rule in rules:
        if not _applies(rule, subject):
            continue
        kinds = revision_kinds(rule, decision.alert_kinds, changes, texts or {})
        if kinds:
            planned.extend(_rows(rule, kinds, subject, now, None))
        for index, event in enumerate(decision.events):
            trigger = EVENT_TRIGGERS.get(event.kind)
            if trigger in rule.when:
                planned.extend(_rows(rule, (trigger,), subject, now, index))
    return tuple(planned)


def revision_kinds(
    rule: AlertRule,
    alert_kinds: Iterable[str],
    changes: Sequence[Change],
    texts: Mapping[str, ChangeText],
) -> tuple[str, ...]:
    """The rule's triggers this revision fires, after its class and text filters."""
    offered = set(alert_kinds)
    if "new_article" in offered:
        return ("new_article",) if "new_article" in rule.when else ()
    kinds: set[str] = set()
    for change in changes:
        for kind in change_triggers(change) & rule.when & offered:
            if kind in CLASSED and CLASS_RANK[change.class_] < CLASS_RANK[rule.min_class]:
                continue
            if kind in TEXT_TRIGGERS and not _text_matches(rule, kind, texts.get(change.field)):
                continue
            kinds.add(kind)
    return tuple(sorted(kinds))


def _text_matches(rule: AlertRule, kind: str, text: ChangeText | None) -> bool:
    if rule.pattern is None:
        return True
    if text is None:
        return False
    words = text.added if kind == "text_added" else text.removed
    return bool(rule.pattern.search(words))


def _applies(rule: AlertRule, subject: Subject) -> bool:
    if rule.sites and not any(_under(subject.site, site) for site in rule.sites):
        return False
    if rule.sources and subject.source not in rule.sources:
        return False
    return rule.url_pattern is None or bool(rule.url_pattern.search(subject.url))


def _under(site: str, parent: str) -> bool:
    site, parent = site.lower().strip("."), parent.lower().strip(".").removeprefix("www.")
    return site == parent or site.endswith("." + parent)


def _rows(
    rule: AlertRule, kinds: tuple[str, ...], subject: Subject, now: datetime, event: int | None
) -> list[PlannedAlert]:
    rows = []
    for channel in rule.channels:
        due, group = now, None
        if rule.mode == "digest" and rule.every is not None:
            due, group = period_end(now, rule.every), f"d|{rule.name}|{channel}"
        elif rule.quiet is not None:
            due, group = now + rule.quiet, f"q|{rule.name}|{channel}|{subject.article_id}"
        rows.append(PlannedAlert(rule.name, channel, kinds, due, event, group))
    return rows


def period_end(now: datetime, every: timedelta) -> datetime:
    """The end of the digest period `now` falls in; periods are counted from the Unix epoch
    (an hourly digest goes out on the hour, a daily one at midnight UTC)."""
    step = every.total_seconds()
    start = (now.timestamp() // step) * step
    return datetime.fromtimestamp(start + step, tz=UTC)


# --- the words a change added and removed -------------------------------------------------------
def change_texts(changes: Sequence[Change], previous: Page | None) -> dict[str, ChangeText]:
    """Per change field, the text its word diff added and removed (moves are neither).
    `previous` is the page the changes were computed against (its body is needed to rebuild
    a body diff)."""
    texts = {}
    for change in changes:
        old = previous.text if change.field == "body" and previous is not None else None
        diff = diff_change(change, old)
        added = " ".join(p.text.strip() for p in diff.pieces if p.op is Op.INSERT)
        removed = " ".join(p.text.strip() for p in diff.pieces if p.op is Op.DELETE)
        texts[change.field] = ChangeText(added, removed)
    return texts
