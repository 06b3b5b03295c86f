"""Live-feed items: schema.org liveBlogUpdate, profile selectors, or a generic detector.

Keys must survive a re-check: the markup's own id or anchor when there is one ("id:..."), else a
hash of the item's time and headline ("t:..."). A derived key would change when an editor fixes
the headline, so `remembered` (from ArticleMemory) maps an item with the same time and text back
to the key it was first seen with.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import tzinfo
from typing import Any

from lxml import etree

from redline.crawler.extract.blocks import element_paragraphs
from redline.crawler.extract.dates import parse_datetime
from redline.crawler.extract.profiles import Selector, SiteProfile
from redline.crawler.extract.text import normalise_text
from redline.storage.model import FeedItem

_UPDATED = re.compile(r"\(\s*(updated\b[^)]*)\)|^\s*(updated\b.*)$", re.IGNORECASE)
_CLOCK = re.compile(r"^\s*\d{1,2}[:.]\d{2}(\s*[ap]\.?m\.?)?\b", re.IGNORECASE)
_MAX_ITEMS = 500
_HEAD_TAGS = ("h2", "h3", "h4", "h5", "h6")
_MAX_ITEM_DEPTH = 4  # a <time> sits at most this deep inside its item
_MIN_ARTICLE_WORDS = 25


def text_hash(text: str) -> str:
    return hashlib.blake2b(normalise_text(text).encode(), digest_size=6).hexdigest()


def derived_key(time_text: str, headline: str) -> str:
    digest = hashlib.blake2b(f"{time_text}\x1f{normalise_text(headline)}".encode(), digest_size=8)
    return "t:" + digest.hexdigest()


def _first(node: etree._Element, selectors: Iterable[Selector]) -> list[Any]:
    for selector in selectors:
        found = selector.compiled()(node)
        if isinstance(found, list) and found:
            return found
        if isinstance(found, str) and found:
            return [found]
    return []


def _value(found: list[Any]) -> str:
    if not found:
        return ""
    first = found[0]
    if isinstance(first, etree._Element):
        return " ".join(element_paragraphs(first))
    return normalise_text(str(first))


def _time_of(found: list[Any], zone: tzinfo) -> tuple[str, Any]:
    if not found:
        return "", None
    first = found[0]
    if isinstance(first, etree._Element):
        raw = first.get("datetime") or first.get("content") or ""
        shown = normalise_text("".join(first.itertext()))
        return (raw or shown), parse_datetime(raw or shown, zone)
    return normalise_text(str(first)), parse_datetime(str(first), zone)


def _markup_key(node: etree._Element) -> str | None:
    for attr in ("id", "data-id", "data-post-id", "data-item-id", "data-key"):
        value: str | None = node.get(attr)
        if value and value.strip():
            return "id:" + value.strip()
    for link in node.iter("a"):
        href = (link.get("href") or "").strip()
        if href and href != "#":
            return "id:" + href
    return None


def _split_updated(text: str) -> tuple[str, str | None]:
    match = _UPDATED.search(text)
    if not match:
        return text, None
    marker = normalise_text(match.group(0))
    return normalise_text(text[: match.start()] + text[match.end() :]), marker


def _item_from_parts(
    key: str | None, time_text: str, time: Any, headline: str, text: str, updated: str | None
) -> FeedItem:
    time_text, marker = _split_updated(time_text)
    updated = updated or marker
    headline, marker = _split_updated(headline)
    updated = updated or marker
    return FeedItem(
        key=key or derived_key(time.isoformat() if time else time_text, headline),
        headline=headline,
        text=text,
        time=time,
        updated=updated,
    )


def profile_items(root: etree._Element, profile: SiteProfile, zone: tzinfo) -> list[FeedItem]:
    items: list[FeedItem] = []
    for selector in profile.items:
        for node in selector.compiled()(root)[:_MAX_ITEMS]:
            if not isinstance(node, etree._Element):
                continue
            time_text, time = _time_of(_first(node, profile.item_time), zone)
            updated = _value(_first(node, profile.item_updated)) or None
            key = _value(_first(node, profile.item_key)) if profile.item_key else ""
            items.append(
                _item_from_parts(
                    ("id:" + key) if key else _markup_key(node),
                    time_text,
                    time,
                    _value(_first(node, profile.item_headline)),
                    _value(_first(node, profile.item_text)),
                    updated,
                )
            )
        if items:
            break
    return items


def json_ld_items(updates: Iterable[Mapping[str, Any]], zone: tzinfo) -> list[FeedItem]:
    items = []
    for update in list(updates)[:_MAX_ITEMS]:
        raw_key = update.get("@id") or update.get("url")
        published = update.get("datePublished")
        modified = update.get("dateModified")
        time = parse_datetime(published, zone)
        changed = parse_datetime(modified, zone)
        marker = f"Updated: {changed.isoformat()}" if changed and time and changed > time else None
        body = update.get("articleBody") or update.get("text") or ""
        items.append(
            _item_from_parts(
                f"id:{raw_key}" if isinstance(raw_key, str) and raw_key else None,
                str(published or ""),
                time,
                normalise_text(str(update.get("headline") or "")),
                normalise_text(body if isinstance(body, str) else ""),
                marker,
            )
        )
    return items


def _time_element(node: etree._Element) -> etree._Element | None:
    for found in node.iter("time"):
        return found
    return None


def _generic_item(node: etree._Element, zone: tzinfo) -> FeedItem | None:
    time_el = _time_element(node)
    lines = element_paragraphs(node)
    if not lines:
        return None
    if time_el is not None:
        time_text, time = _time_of([time_el], zone)
        shown = normalise_text("".join(time_el.itertext()))
        lines = [ln for ln in lines if ln != shown] if shown else lines
        if shown and lines and lines[0].startswith(shown):
            lines[0] = lines[0][len(shown) :].strip()
    elif (match := _CLOCK.match(lines[0])) is not None:
        time_text, time = match.group(0).strip(), None
        lines[0] = lines[0][match.end() :].strip()
    else:
        return None
    lines = [ln for ln in lines if ln]
    heads = [normalise_text("".join(h.itertext())) for t in _HEAD_TAGS for h in node.iter(t)]
    headline = heads[0] if heads and heads[0] else (lines[0] if lines else "")
    text = " ".join(ln for ln in lines if ln != headline)
    return _item_from_parts(_markup_key(node), time_text, time, headline, text, None)


def generic_items(root: etree._Element, zone: tzinfo) -> list[FeedItem]:
    """The largest run of sibling elements that each carry a <time>: a timestamped list.

    Found from the <time> elements upwards, so a page without any costs nothing.
    """
    holders: dict[etree._Element, set[etree._Element]] = {}
    for time_el in root.iter("time"):
        child, depth = time_el, 0
        while depth < _MAX_ITEM_DEPTH:
            parent = child.getparent()
            if parent is None:
                break
            holders.setdefault(parent, set()).add(child)
            child, depth = parent, depth + 1
    best: list[etree._Element] = []
    for parent, timed in holders.items():
        if len(timed) < 3 or len(timed) <= len(best):
            continue
        children = [c for c in parent if isinstance(c.tag, str)]
        found = [c for c in children if c in timed]
        if len(timed) >= 0.6 * len(children) and _alike(found):
            best = found
    found = [_generic_item(node, zone) for node in best[:_MAX_ITEMS]]
    return [i for i in found if i is not None and (i.headline or i.text)]


def _alike(elements: list[etree._Element]) -> bool:
    """A list's items are alike: one tag, and a class they share (or none at all). The parts of
    an article that each carry a time (a meta line, its mobile copy, the text with an "Updated
    <time>" line in it) are not a list."""
    if len({el.tag for el in elements}) != 1:
        return False
    classes = [set((el.get("class") or "").split()) for el in elements]
    return not any(classes) or bool(set.intersection(*classes))


def items_text(found: Sequence[FeedItem]) -> str:
    """All items' headlines and texts, whitespace-normalised, for `covered`."""
    return " ".join(" ".join(f"{i.headline} {i.text}".split()) for i in found)


def covered(paragraph: str, in_items: str) -> bool:
    """Is this body paragraph item text? It may carry the bullet the body extractor gave a
    list item ("- ..."), and run an item's headline and text together."""
    core = " ".join(paragraph.lstrip("-*•· ").split())
    return bool(core) and core in in_items


def cover_body(found: list[FeedItem], body: tuple[str, ...]) -> bool:
    """Do these items hold most of the page's text (a feed page), or is it an article?"""
    if len(found) < 3:
        return False
    in_items = items_text(found)
    words = sum(len(p.split()) for p in body)
    inside = sum(len(p.split()) for p in body if covered(p, in_items))
    return words < _MIN_ARTICLE_WORDS or inside >= 0.5 * words


def rekey(items: list[FeedItem], remembered: Mapping[str, str]) -> tuple[FeedItem, ...]:
    """Give derived-key items the key they were first seen with; make every key unique."""
    out: list[FeedItem] = []
    seen: set[str] = set()
    for item in items:
        key = item.key
        if key.startswith("t:"):
            ident = f"{item.time.isoformat() if item.time else ''}\x1f{text_hash(item.text)}"
            key = remembered.get(ident, key) if item.text else key
        base, n = key, 1
        while key in seen:
            n += 1
            key = f"{base}#{n}"
        seen.add(key)
        out.append(FeedItem(key, item.headline, item.text, item.time, item.updated))
    return tuple(out)


def item_identities(items: Iterable[FeedItem]) -> dict[str, str]:
    """What ArticleMemory keeps to re-key items whose headline was later edited."""
    return {
        f"{i.time.isoformat() if i.time else ''}\x1f{text_hash(i.text)}": i.key
        for i in items
        if i.key.startswith("t:") and i.text
    }
