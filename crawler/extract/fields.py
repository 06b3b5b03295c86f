"""Headline, byline, dates, language and canonical URL: profile, then declared, then visible.

The headline is the article's own: a visible <h1> that the declared headline or <title>
confirms wins over both, because what the reader sees is the truth and <title> usually carries
" | Site Name".
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo
from urllib.parse import urljoin, urlsplit

from lxml import etree
from selectolax.lexbor import LexborHTMLParser

from crawler.extract.blocks import element_paragraphs
from crawler.extract.dates import parse_datetime
from crawler.extract.profiles import Selector
from crawler.extract.structured import Declared
from crawler.extract.text import normalise_text

_SITE_SUFFIX = re.compile(r"\s+[|–—·:-]\s+[^|–—·]{1,60}$")
_BY = re.compile(r"^(by|written by|von|par|por|di)\s+", re.IGNORECASE)
_MAX_AUTHORS = 12
_WORD = re.compile(r"\w+")
_SIMILAR = 0.6  # word overlap (Jaccard) between a visible <h1> and a declared headline
_AUTHOR_CSS = ('a[rel="author"]', '[itemprop="author"] [itemprop="name"]', '[itemprop="author"]')


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


def _strip_suffix(title: str) -> str:
    return _SITE_SUFFIX.sub("", title).strip() or title


def _similar(a: str, b: str) -> bool:
    words_a, words_b = set(_WORD.findall(a.lower())), set(_WORD.findall(b.lower()))
    if len(words_a) < 3 or not words_b:
        return False
    return len(words_a & words_b) / len(words_a | words_b) >= _SIMILAR


def choose_headline(tree: LexborHTMLParser, declared: Declared) -> str:
    metas = [normalise_text(m) for m in (declared.headline, declared.og_title, declared.title) if m]
    h1s = [normalise_text(n.text(deep=True, separator=" ")) for n in tree.css("h1")[:8]]
    for h1 in filter(None, h1s):
        for meta in metas:
            if h1 == meta or (len(h1) >= 12 and meta.startswith(h1)):
                return h1
    # The visible headline may run ahead of stale metadata: a close <h1> still wins.
    for h1 in filter(None, h1s):
        if any(_similar(h1, meta) for meta in metas):
            return h1
    if declared.headline:
        return normalise_text(declared.headline)
    if declared.og_title:
        return _strip_suffix(normalise_text(declared.og_title))
    if h1s and h1s[0]:
        return h1s[0]
    return _strip_suffix(normalise_text(declared.title or ""))


def _clean_author(name: str) -> str:
    return _BY.sub("", normalise_text(name)).strip(" ,;")


def choose_byline(tree: LexborHTMLParser, declared: Declared) -> tuple[str, ...]:
    names = list(declared.authors)
    if not names:
        for css in _AUTHOR_CSS:
            names = [n.text(deep=True, separator=" ") for n in tree.css(css)[:_MAX_AUTHORS]]
            if any(n.strip() for n in names):
                break
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
