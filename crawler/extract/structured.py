"""Structured data a page declares about itself: JSON-LD, OpenGraph and plain meta tags.

Used for the fields a publisher states explicitly (headline, authors, dates, language, canonical
URL, live-blog updates) and never for the body text: JSON-LD `articleBody` is often truncated or
stale, and what the reader sees is the truth.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import unescape
from typing import Any

import jstyleson
from selectolax.lexbor import LexborHTMLParser

ARTICLE_TYPES = frozenset(
    {
        "article",
        "newsarticle",
        "reportagenewsarticle",
        "analysisnewsarticle",
        "opinionnewsarticle",
        "reviewnewsarticle",
        "backgroundnewsarticle",
        "blogposting",
        "liveblogposting",
        "socialmediaposting",
        "scholarlyarticle",
        "techarticle",
        "report",
    }
)
_MAX_JSONLD = 2_000_000
_MAX_LENIENT = 200_000


@dataclass(frozen=True, slots=True)
class Declared:
    """What the page's markup declares, before any visible-text check."""

    headline: str | None = None
    authors: tuple[str, ...] = ()
    published: str | None = None
    modified: str | None = None
    language: str | None = None
    canonical: str | None = None
    og_title: str | None = None
    title: str | None = None
    site_names: tuple[str, ...] = ()  # og:site_name, application-name, the publisher's name
    types: frozenset[str] = frozenset()
    free: bool | None = None  # isAccessibleForFree
    live_updates: tuple[dict[str, Any], ...] = ()
    meta: dict[str, str] = field(default_factory=dict)


def _loads(raw: str) -> Any:
    raw = raw.strip()
    if raw.startswith("<!--"):
        raw = raw[4:]
    if raw.endswith("-->"):
        raw = raw[:-3]
    try:
        return json.loads(raw, strict=False)
    except ValueError:
        pass
    if len(raw) > _MAX_LENIENT:
        return None  # the lenient parser is pure Python: bounded time needs a bounded input
    try:  # comments, trailing commas: what extruct's jstyleson fallback forgives
        return jstyleson.loads(re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", " ", raw))
    except (ValueError, TypeError, IndexError, RecursionError):
        return None


def _walk(data: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    if depth > 12:
        return
    if isinstance(data, list):
        for entry in data:
            yield from _walk(entry, depth + 1)
    elif isinstance(data, dict):
        yield data
        graph = data.get("@graph")
        if graph is not None:
            yield from _walk(graph, depth + 1)


def _types(obj: dict[str, Any]) -> set[str]:
    raw = obj.get("@type")
    values = raw if isinstance(raw, list) else [raw]
    return {v.rsplit("/", 1)[-1].lower() for v in values if isinstance(v, str)}


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        # CMS plug-ins often write HTML entities into JSON-LD ("&#8220;", "&amp;").
        return unescape(value).strip() or None
    if isinstance(value, list) and value:
        return _text(value[0])
    if isinstance(value, dict):
        return _text(value.get("@value") or value.get("name"))
    return None


def _names(value: Any) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    names = []
    for entry in values:
        name = _text(entry.get("name")) if isinstance(entry, dict) else _text(entry)
        if name and not name.startswith("http") and name not in names:
            names.append(name)
    return tuple(names)


def json_ld_objects(tree: LexborHTMLParser) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for node in tree.css('script[type="application/ld+json"]'):
        raw = node.text(deep=True) or ""
        if len(raw) > _MAX_JSONLD:
            continue
        objects.extend(_walk(_loads(raw)))
    return objects


def _meta(tree: LexborHTMLParser) -> dict[str, str]:
    found: dict[str, str] = {}
    for node in tree.css("meta[content]"):
        attrs = node.attributes
        key = attrs.get("property") or attrs.get("name") or attrs.get("itemprop")
        if key and key.lower() not in found:
            found[key.lower()] = (attrs.get("content") or "").strip()
    return found


def _main_object(objects: list[dict[str, Any]]) -> dict[str, Any]:
    for obj in objects:
        if _types(obj) & ARTICLE_TYPES:
            return obj
    return {}


def _site_names(main: dict[str, Any], meta: dict[str, str]) -> tuple[str, ...]:
    found = [meta.get("og:site_name"), meta.get("application-name"), meta.get("twitter:site")]
    publisher = main.get("publisher")
    found.append(_text(publisher.get("name")) if isinstance(publisher, dict) else _text(publisher))
    names = [name.strip().removeprefix("@") for name in found if name and name.strip()]
    return tuple(dict.fromkeys(names))


def read_declared(tree: LexborHTMLParser) -> Declared:
    """Collect declared metadata; tolerant of broken JSON-LD and missing tags."""
    objects = json_ld_objects(tree)
    main = _main_object(objects)
    meta = _meta(tree)
    html = tree.css_first("html")
    canonical = tree.css_first('link[rel="canonical"]')
    title = tree.css_first("title")
    free = main.get("isAccessibleForFree")
    if isinstance(free, str):
        free = free.strip().lower() not in ("false", "0", "no")
    updates = main.get("liveBlogUpdate") or ()
    return Declared(
        headline=_text(main.get("headline")) or _text(main.get("name")),
        authors=_names(main.get("author"))
        or _names(meta.get("author") or meta.get("article:author")),
        published=_text(main.get("datePublished"))
        or meta.get("article:published_time")
        or meta.get("datepublished"),
        modified=_text(main.get("dateModified"))
        or meta.get("article:modified_time")
        or meta.get("datemodified"),
        language=(html.attributes.get("lang") if html else None)
        or _text(main.get("inLanguage"))
        or meta.get("og:locale"),
        canonical=(canonical.attributes.get("href") if canonical else None) or meta.get("og:url"),
        og_title=meta.get("og:title") or meta.get("twitter:title"),
        title=title.text(deep=True) if title else None,
        site_names=_site_names(main, meta),
        types=frozenset(t for obj in objects for t in _types(obj)),
        free=free if isinstance(free, bool) else None,
        live_updates=tuple(u for u in _walk(updates) if isinstance(u, dict)),
        meta=meta,
    )
