"""What one alert is about, as plain values: the input every message is built from.

`facts_for` gathers, once, everything a reader needs to understand an alert at a glance: the
site, the old and new headline (and title, when it changed), each change with its class, notes
and a short excerpt of its word diff, the revision numbers, the fetch time and the links.
Messages, templates and webhook payloads all read these values and nothing else, so an alert
says the same thing on every channel.

Pure: no I/O, no clock. Text here is scraped and therefore hostile; it is kept as it is (the
webhook payload carries it intact) and made safe where it is shown (see messages.py).
Everything is capped: a few hundred characters per change and a few changes per alert, the rest
counted ("… and N more"), so a rewritten 5,000-word article still makes a message read in seconds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from redline.crawler.diff import PatchError, diff_change, render_inline_html, render_terminal
from redline.crawler.diff import compare as compare_pages
from redline.crawler.diff.pieces import Op, Piece, TextDiff
from redline.storage.codec import to_utc
from redline.storage.model import Alert, Article, Change, Event, Page, Revision

MAX_CHANGES = 5  # changes shown per alert; the others are counted in `more_changes`
MAX_MERGED_CHANGES = 10  # changes shown for a burst of revisions merged into one message
EXCERPT_CHARS = 300  # characters of word diff per change
WORDS_CHARS = 200  # characters of added (or removed) text per change
CONTEXT_CHARS = 60  # unchanged characters kept on each side of an edit

# Kinds in the order that decides an alert's main kind (the one its title names).
KIND_LABELS = {
    "article_gone": "Article gone",
    "article_moved": "Article moved",
    "article_back": "Article back",
    "new_article": "New article",
    "headline_changed": "Headline changed",
    "correction": "Correction",
    "stealth_edit": "Stealth edit",
    "title_changed": "Title changed",
    "byline_changed": "Byline changed",
    "text_removed": "Text removed",
    "text_added": "Text added",
    "body_changed": "Text edited",
    "item_updated": "Live item updated",
    "item_added": "Live item added",
    "item_removed": "Live item removed",
}
_FIELD_LABELS = {"headline": "Headline", "title": "Title", "byline": "Byline", "body": "Text"}
_FIELD_LABELS |= {"published": "Published time", "updated": "Updated time"}
_NOTE_LABELS = {"editors_note": "editor's note", "update_notice": "update notice"}
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class ChangeFacts:
    """One change, small: counts, a capped excerpt of the words added and removed, and the word
    diff excerpt as text ([-removed-]{+added+}) and as HTML (<del>/<ins>, all text escaped)."""

    field: str
    label: str  # "Headline", "Text", "Live item <key>"...
    kind: str
    class_: str
    words_added: int
    words_removed: int
    added: str
    removed: str
    notes: tuple[str, ...]
    stealth: bool
    diff_text: str
    diff_html: str
    revision: int | None = None

    @property
    def summary(self) -> str:
        """'changed, substantive; correction; stealth edit': what a reader scans first."""
        tags = [_NOTE_LABELS.get(note, note) for note in self.notes]
        tags += ["stealth edit"] if self.stealth else []
        return "; ".join([f"{self.kind}, {self.class_}", *tags])


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """Everything one alert (or a merged burst of them) says, as plain values."""

    rule: str
    kinds: tuple[str, ...]
    article_id: int
    article_url: str
    site: str
    revision: int | None
    previous_revision: int | None
    old_headline: str | None
    new_headline: str | None
    fetched_at: datetime
    event: str | None = None
    event_detail: str | None = None
    changes: tuple[ChangeFacts, ...] = ()
    more_changes: int = 0
    base_url: str | None = None
    # The SEO or social title before and after, when the revision changed it (its "title"
    # change: the title a search engine shows, the headline where the page has none of its own).
    old_title: str | None = None
    new_title: str | None = None

    @property
    def kind(self) -> str:
        return main_kind(self.kinds)

    @property
    def headline_changed(self) -> bool:
        return self.old_headline is not None and self.old_headline != self.new_headline

    @property
    def title_changed(self) -> bool:
        return None not in (self.old_title, self.new_title) and self.old_title != self.new_title

    @property
    def diff_url(self) -> str | None:
        if self.base_url is None or self.previous_revision is None or self.revision is None:
            return None
        return diff_url(self.base_url, self.article_id, self.previous_revision, self.revision)


def diff_url(base_url: str, article_id: int, old: int, new: int) -> str:
    """The web app's page showing the diff between two revisions of an article."""
    return f"{base_url.rstrip('/')}/articles/{article_id}/diff/{old}/{new}"


def main_kind(kinds: Sequence[str]) -> str:
    """The kind that names an alert: the first in KIND_LABELS' order; unknown kinds last."""
    ranked = ordered_kinds(kinds)
    return ranked[0] if ranked else ""


def ordered_kinds(kinds: Sequence[str]) -> tuple[str, ...]:
    """Kinds without repeats, most telling first."""
    return tuple(sorted(dict.fromkeys(kinds), key=_rank))


def _rank(kind: str) -> int:
    order = list(KIND_LABELS)
    return order.index(kind) if kind in order else len(order)


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind) or kind.replace("_", " ").capitalize()


def facts_for(
    alert: Alert,
    article: Article,
    *,
    revision: Revision | None,
    previous: Revision | None,
    event: Event | None,
    base_url: str | None,
) -> AlertFacts:
    """The facts of one outbox row.

    For a revision alert pass its revision and the one before (None for a first revision). For
    an event alert (gone, back, moved) pass the event and, when there is one, the article's
    latest revision: it only names the headline; no revision numbers or changes are reported.
    """
    about = revision if event is None else None  # an event's revision only names the headline
    changes = about.changes if about is not None else ()
    shown = changes[:MAX_CHANGES]
    number = about.number if about is not None else None
    title = next((c for c in changes if c.field == "title"), None)
    return AlertFacts(
        rule=alert.rule,
        kinds=tuple(alert.kinds),
        article_id=article.id,
        article_url=article.url,
        site=article.site,
        revision=number,
        previous_revision=previous.number if previous is not None and about else None,
        old_headline=_headline(previous) if about is not None else None,
        new_headline=_headline(revision),
        fetched_at=_when(alert, revision, event),
        event=str(event.kind) if event is not None else None,
        event_detail=(event.detail or None) if event is not None else None,
        changes=tuple(change_facts(c, previous, number) for c in shown),
        more_changes=len(changes) - len(shown),
        base_url=base_url,
        old_title=title.old if title is not None else None,
        new_title=title.new if title is not None else None,
    )


def _headline(revision: Revision | None) -> str | None:
    return (revision.page.headline or None) if revision is not None else None


def _when(alert: Alert, revision: Revision | None, event: Event | None) -> datetime:
    if event is not None:
        return event.at
    return revision.fetched_at if revision is not None else alert.created_at


def change_facts(change: Change, previous: Revision | None, revision: int | None) -> ChangeFacts:
    """A Change made small. The body's diff is rebuilt from the previous revision's text."""
    diff = _rebuild(change, previous)
    shown = excerpt(diff)
    return ChangeFacts(
        field=change.field,
        label=field_label(change.field),
        kind=str(change.kind),
        class_=str(change.class_),
        words_added=change.words_added,
        words_removed=change.words_removed,
        added=_joined(diff, Op.INSERT),
        removed=_joined(diff, Op.DELETE),
        notes=tuple(change.notes),
        stealth=change.stealth,
        diff_text=render_terminal(shown, color=False),
        diff_html=render_inline_html(shown),
        revision=revision,
    )


def field_label(field: str) -> str:
    if field.startswith("item:"):
        return f"Live item {field[5:]}"
    return _FIELD_LABELS.get(field, field)


def _rebuild(change: Change, previous: Revision | None) -> TextDiff:
    """The change's word diff; from its old and new values alone when the patch does not apply
    (a missing or wrong previous revision must not stop an alert)."""
    try:
        if change.field == "body":
            return diff_change(change, previous.page.text if previous is not None else "")
        return diff_change(change)
    except PatchError:
        pieces = (Piece(Op.DELETE, change.old or ""), Piece(Op.INSERT, change.new or ""))
        return TextDiff(tuple(p for p in pieces if p.text))


def excerpt(diff: TextDiff, limit: int = EXCERPT_CHARS) -> TextDiff:
    """The diff cut to about `limit` characters: whitespace squeezed, unchanged stretches cut
    to CONTEXT_CHARS on each side of an edit, the rest dropped after an ellipsis. Cutting the
    pieces (not the rendered text) keeps both renderings well formed."""
    pieces = [p for p in diff.pieces if p.text]
    out: list[Piece] = []
    room = limit
    for index, piece in enumerate(pieces):
        text = _SPACE.sub(" ", piece.text)
        if piece.op is Op.EQUAL:
            text = _context(text, after_edit=index > 0, before_edit=index < len(pieces) - 1)
        if len(text) > room:
            out.append(replace(piece, text=clip(text, room)))
            break
        out.append(replace(piece, text=text))
        room -= len(text)
    return TextDiff(tuple(out), coarse=diff.coarse)


def _context(text: str, *, after_edit: bool, before_edit: bool) -> str:
    keep = CONTEXT_CHARS
    if not after_edit and not before_edit:
        return clip(text, 2 * keep)
    if len(text) <= keep * (after_edit + before_edit) + 5:
        return text
    head = clip(text, keep) if after_edit else "…"
    if not before_edit:
        return head
    tail = text[-keep:]
    if not text[-keep - 1].isspace() and " " in tail:
        tail = tail[tail.index(" ") :]
    return f"{head} {tail.lstrip()}"


def clip(text: str, limit: int) -> str:
    """At most about `limit` characters, cut at a word boundary, with "…" when cut."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit, 0)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


def _joined(diff: TextDiff, op: Op) -> str:
    parts = [_SPACE.sub(" ", p.text).strip() for p in diff.pieces if p.op is op]
    return clip(" … ".join(part for part in parts if part), WORDS_CHARS)


def merge_facts(entries: Sequence[AlertFacts]) -> AlertFacts:
    """A burst of alerts about ONE article as one: the first old headline, the last new one,
    (the same for the title, among the entries that changed it), the revision range, every kind
    and every change (capped)."""
    ordered = sorted(entries, key=lambda e: e.fetched_at)
    first, last = ordered[0], ordered[-1]
    titled = [e for e in ordered if e.old_title is not None or e.new_title is not None]
    changes = [c for e in ordered for c in e.changes]
    with_event = [e for e in ordered if e.event is not None]
    numbers = [e.revision for e in ordered if e.revision is not None]
    return replace(
        last,
        kinds=ordered_kinds([k for e in ordered for k in e.kinds]),
        revision=max(numbers) if numbers else None,
        previous_revision=first.previous_revision,
        old_headline=first.old_headline,
        old_title=titled[0].old_title if titled else None,
        new_title=titled[-1].new_title if titled else None,
        event=with_event[-1].event if with_event else None,
        event_detail=with_event[-1].event_detail if with_event else None,
        changes=tuple(changes[:MAX_MERGED_CHANGES]),
        more_changes=sum(e.more_changes for e in ordered)
        + max(len(changes) - MAX_MERGED_CHANGES, 0),
    )


def fetched_text(value: datetime) -> str:
    """'2026-11-27 12:00 UTC': the fetch time as people read it."""
    return to_utc(value).strftime("%Y-%m-%d %H:%M UTC")


def change_payload(change: ChangeFacts) -> dict[str, Any]:
    return {
        "field": change.field,
        "label": change.label,
        "kind": change.kind,
        "class": change.class_,
        "summary": change.summary,
        "words_added": change.words_added,
        "words_removed": change.words_removed,
        "added": change.added,
        "removed": change.removed,
        "notes": list(change.notes),
        "stealth": change.stealth,
        "revision": change.revision,
        "diff": change.diff_text,
        "diff_html": change.diff_html,
    }


def entry_payload(facts: AlertFacts) -> dict[str, Any]:
    """The facts as JSON-ready values: one entry of a webhook payload, and what templates see."""
    changes = [change_payload(c) for c in facts.changes]
    return {
        "rule": facts.rule,
        "kind": facts.kind,
        "kinds": list(facts.kinds),
        "label": kind_label(facts.kind),
        "article_id": facts.article_id,
        "url": facts.article_url,
        "site": facts.site,
        "headline": facts.new_headline or facts.old_headline,
        "old_headline": facts.old_headline,
        "new_headline": facts.new_headline,
        "headline_changed": facts.headline_changed,
        "old_title": facts.old_title,
        "new_title": facts.new_title,
        "title_changed": facts.title_changed,
        "revision": facts.revision,
        "previous_revision": facts.previous_revision,
        "fetched_at": to_utc(facts.fetched_at).isoformat(timespec="milliseconds"),
        "fetched": fetched_text(facts.fetched_at),
        "event": facts.event,
        "event_detail": facts.event_detail,
        "changes": changes,
        "more_changes": facts.more_changes,
        "diff": changes[0]["diff"] if changes else "",
        "diff_html": changes[0]["diff_html"] if changes else "",
        "diff_url": facts.diff_url,
    }


_SAMPLE_BODY = (
    "The city council approved a budget of 120 million on Tuesday.",
    "The mayor said the vote was close.",
)


def sample_facts() -> AlertFacts:
    """Realistic facts (a headline edit and a corrected paragraph, diffed for real) to render
    templates against at start-up, before any real alert exists."""
    at = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    old = Page(headline="Council approves city budget", body=_SAMPLE_BODY)
    new = Page(
        headline="Council approves revised city budget",
        body=(
            _SAMPLE_BODY[0].replace("120", "125"),
            _SAMPLE_BODY[1],
            "Correction: an earlier version of this article gave the wrong amount.",
        ),
    )
    previous = Revision(1, 2, at, "h2", old, "f2")
    revision = Revision(1, 3, at, "h3", new, "f3", changes=compare_pages(old, new))
    kinds = ("headline_changed", "body_changed", "correction")
    alert = Alert(1, "desk", 1, "sample", kinds, at, revision=3, rule="sample")
    article = Article(1, "https://news.example.org/2026/11/budget", "news.example.org", at)
    base = "https://redline.example.org"
    return facts_for(
        alert, article, revision=revision, previous=previous, event=None, base_url=base
    )
