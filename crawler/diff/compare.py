"""compare(): the changes between two Pages of one article, field by field.

Every field is compared as text (see `field_texts`), cleaned the way the store cleans text, so a
stored patch always applies to the stored old value.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime

from redline.crawler.diff.classify import find_notes, measure
from redline.crawler.diff.patch import patch_to_diff, to_patch
from redline.crawler.diff.pieces import Op, TextDiff
from redline.crawler.diff.text import diff_texts, token_ops
from redline.storage.codec import clean_text, to_utc
from redline.storage.model import Change, ChangeClass, ChangeKind, FeedItem, Page

PAGE_FIELDS = ("headline", "title", "byline", "published", "updated", "body")
BYLINE_SEPARATOR = "; "
_TIME_CLASS = {"published": ChangeClass.SUBSTANTIVE, "updated": ChangeClass.MINOR}
_STEALTHY = (ChangeClass.SUBSTANTIVE, ChangeClass.REWRITE)


def compare(old: Page | None, new: Page) -> tuple[Change, ...]:
    """The changes from `old` to `new`, in a fixed order: headline, title, byline, published,
    updated, body, then feed items in the new page's order, then removed items in the old page's
    order.

    `old=None` is a new article: one ADDED change per non-empty field and per feed item.
    A title that follows the headline on both pages (both empty) is not compared: a new headline
    is one change, not two.
    """
    base = old if old is not None else Page()
    before, after = field_texts(base), field_texts(new)
    changes = [
        _field_change(name, before[name], after[name], base, new)
        for name in PAGE_FIELDS
        if before[name] != after[name] and (name != "title" or base.title or new.title)
    ]
    changes.extend(_item_changes(base.items, new.items))
    return tuple(changes)


def field_texts(page: Page) -> dict[str, str]:
    """Each page field as the text that is diffed (and that Change.old / Change.new hold).

    The title is the one a search engine or a social card shows: the page's own where it has
    one, else its headline (Page.title is "" where the two read the same).
    """
    return {
        "headline": clean_text(page.headline),
        "title": clean_text(page.title or page.headline),
        "byline": clean_text(BYLINE_SEPARATOR.join(page.byline)),
        "published": _time_text(page.published),
        "updated": _time_text(page.updated),
        "body": clean_text(page.text),
    }


def item_text(item: FeedItem) -> str:
    """A feed item as text: its time, headline, text and "(Updated ...)" marker, one per
    paragraph, leaving out the empty ones."""
    parts = (_time_text(item.time), item.headline, item.text, item.updated or "")
    return clean_text("\n\n".join(part for part in parts if part))


def diff_change(change: Change, old_text: str | None = None) -> TextDiff:
    """The diff a stored Change describes, rebuilt from the old text and its patch.

    For the body pass the old revision's `Page.text`; for the other fields the Change holds its
    old value and `old_text` can be left out.
    """
    if old_text is None:
        old_text = change.old or ""
    return patch_to_diff(clean_text(old_text), change.patch, coarse=change.coarse)


def _time_text(value: datetime | None) -> str:
    return "" if value is None else to_utc(value).isoformat()


def _kind(old: str, new: str) -> ChangeKind:
    if not old:
        return ChangeKind.ADDED
    return ChangeKind.REMOVED if not new else ChangeKind.CHANGED


def _field_change(name: str, before: str, after: str, old: Page, new: Page) -> Change:
    change = _text_change(name, before, after, keep_values=name != "body")
    if name in _TIME_CLASS:
        return replace(change, class_=_TIME_CLASS[name])
    if name == "body":
        return replace(change, stealth=old.updated == new.updated and _stealthy(change))
    return change


def _moves_only(diff: TextDiff) -> bool:
    """Paragraphs moved and nothing else changed but the blank lines around them."""
    moved = any(p.op is Op.MOVED_FROM for p in diff.pieces)
    edits = (p for p in diff.pieces if p.op in (Op.DELETE, Op.INSERT))
    return moved and all(p.text.isspace() for p in edits)


def _stealthy(change: Change) -> bool:
    return change.class_ in _STEALTHY and not change.notes and change.kind is ChangeKind.CHANGED


def _text_change(field: str, old: str, new: str, *, keep_values: bool) -> Change:
    diff = diff_texts(old, new)
    numbers = measure(diff)
    kind = _kind(old, new)
    class_ = numbers.class_
    if kind is not ChangeKind.CHANGED:
        class_ = ChangeClass.SUBSTANTIVE
    elif numbers.words_added == numbers.words_removed == 0 and _moves_only(diff):
        kind = ChangeKind.MOVED
    return Change(
        field=field,
        kind=kind,
        class_=class_,
        old=(old or None) if keep_values else None,
        new=(new or None) if keep_values else None,
        patch=to_patch(diff),
        words_added=numbers.words_added,
        words_removed=numbers.words_removed,
        similarity=numbers.similarity,
        notes=find_notes(diff),
        coarse=diff.coarse,
    )


def keyed_items(items: Iterable[FeedItem]) -> dict[str, FeedItem]:
    """Items by the key their changes name (`item:<key>`); a repeated key gets "#2", "#3"...
    so no item is silently dropped."""
    out: dict[str, FeedItem] = {}
    for item in items:
        key, n = clean_text(item.key), 1
        while key in out:
            n += 1
            key = f"{clean_text(item.key)}#{n}"
        out[key] = item
    return out


def _item_changes(old: tuple[FeedItem, ...], new: tuple[FeedItem, ...]) -> Iterator[Change]:
    before, after = keyed_items(old), keyed_items(new)
    moved = _moved_keys(before, after)
    for key, item in after.items():
        previous = before.get(key)
        if previous is None:
            yield _text_change(f"item:{key}", "", item_text(item), keep_values=True)
        elif item_text(previous) != item_text(item):
            yield _item_change(key, previous, item)
        elif key in moved:
            text = item_text(item)
            diff = to_patch(diff_texts(text, text))
            yield Change(f"item:{key}", ChangeKind.MOVED, ChangeClass.MINOR, text, text, diff)
    for key, item in before.items():
        if key not in after:
            yield _text_change(f"item:{key}", item_text(item), "", keep_values=True)


def _item_change(key: str, old: FeedItem, new: FeedItem) -> Change:
    change = _text_change(f"item:{key}", item_text(old), item_text(new), keep_values=True)
    notes = change.notes
    if new.updated and new.updated != old.updated and "update_notice" not in notes:
        notes = (*notes, "update_notice")
    stealth = old.updated == new.updated and _stealthy(change) and not notes
    return replace(change, notes=notes, stealth=stealth)


def _moved_keys(before: dict[str, FeedItem], after: dict[str, FeedItem]) -> set[str]:
    """Keys in both pages that left the longest common order: the items that moved."""
    old_order = [k for k in before if k in after]
    new_order = [k for k in after if k in before]
    if old_order == new_order:
        return set()
    ops, exact = token_ops(old_order, new_order)
    if not exact:
        return set()
    kept: set[str] = set()
    i = 0
    for op, count in ops:
        if op == "=":
            kept.update(old_order[i : i + count])
        if op != "+":
            i += count
    return set(new_order) - kept
