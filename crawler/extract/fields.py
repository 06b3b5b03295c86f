"""Byline, dates, language and canonical URL: profile, then declared, then visible.

The headline and the title are chosen in headline.py.
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from urllib.parse import urljoin, urlsplit

from lxml import etree
from selectolax.lexbor import LexborHTMLParser, LexborNode

from redline.crawler.extract import byline
from redline.crawler.extract.blocks import element_paragraphs
from redline.crawler.extract.dates import parse_datetime
from redline.crawler.extract.profiles import Selector
from redline.crawler.extract.structured import Declared
from redline.crawler.extract.text import normalise_text

_BY = re.compile(r"^(by|written by|von|par|por|di)\s+", re.IGNORECASE)
_MAX_AUTHORS = 12
_WORD = re.compile(r"\w+")


def select_values(root: etree._Element, selectors: tuple[Selector, ...]) -> list[str]:
    """Text (or datetime/content attribute) of what the first matching selector finds."""
    for selector in selectors:
        found = selector.compiled()(root)
        if isinstance(found, str):
            found = [found]
        values = []
        for node in found if isinstance(found, list) else []:
            if isinstance(node, etree._Element):
                attr = node.get("datetime") or node.get("content")
                values.append(normalise_text(attr or " ".join(element_paragraphs(node))))
            else:
                values.append(normalise_text(str(node)))
        values = [v for v in values if v]
        if values:
            return values
    return []


def _clean_author(name: str) -> str:
    return _BY.sub("", normalise_text(name)).strip(" ,;")


def choose_byline(
    tree: LexborHTMLParser, declared: Declared, heading: LexborNode | None = None
) -> tuple[str, ...]:
    """The names the page shows as its byline (see crawler/extract/byline.py), looked for
    near `heading`, the display headline's element, when there is one."""
    headline = declared.headline or declared.og_title or declared.title or ""
    url = declared.canonical or declared.meta.get("og:url")
    names = byline.choose(tree, declared.authors, headline, declared.meta, url, heading)
    return dedupe_names(names)


def dedupe_names(names: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for name in names:
        clean = _clean_author(name)
        if clean and clean not in out and len(clean) <= 120:
            out.append(clean)
    return tuple(out[:_MAX_AUTHORS])


def choose_time(values: list[str], declared: str | None, zone: tzinfo) -> datetime | None:
    for value in [*values, declared]:
        found = parse_datetime(value, zone)
        if found is not None:
            return found
    return None


def language_tag(value: str | None) -> str | None:
    if not value:
        return None
    parts = re.split(r"[-_]", value.strip())
    if not parts[0].isalpha() or not 2 <= len(parts[0]) <= 3:
        return None
    tag = parts[0].lower()
    if len(parts) > 1 and parts[1].isalpha() and len(parts[1]) == 2:
        tag += "-" + parts[1].upper()
    return tag


def canonical_url(url: str, declared: Declared) -> str | None:
    if not declared.canonical:
        return None
    found = urljoin(url, declared.canonical.strip())
    return found if urlsplit(found).scheme in ("http", "https") else None
