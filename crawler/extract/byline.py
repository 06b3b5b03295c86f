"""Bylines as a reader sees them: the "By ..." line near the headline, else declared authors.

The visible byline is looked for around the headline only (a few ancestors of the `<h1>`), in
elements named for it (class or id with "byline" or "author", `rel=author`, `itemprop=author`)
and in short lines that start with "By", "Written by", "Von", "Por"... It is reduced to names:
no dates, "Updated", roles ("AP Auto Writer"), credentials ("MS, RD"), the outlet after a name
(", CNN Business", "| Fox News"), handles or e-mail. Declared authors (JSON-LD, meta) are
reduced the same way; the visible byline wins when the two disagree, and a declared author the
page never shows (the publisher's own name, a CMS account) is dropped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from selectolax.lexbor import LexborHTMLParser, LexborNode

from redline.crawler.extract.text import normalise_text

_CANDIDATES = (
    'h1, [class*="byline" i], [class*="author" i], [id*="byline" i], [rel~="author"],'
    ' [itemprop~="author"]'
)
_LEVELS = (4, 6)  # ancestors of the <h1> that bound "near the headline"; the wider on a miss
_NEAR = 6  # elements after the <h1> (at each of its first levels) read for a "By" line
_MAX_TEXT = 160  # a byline element with more text than this is a bio or a list, not a byline
# Classes of elements near a byline that are not it: comments, bios, hover cards, roles.
_NOT_BYLINE = re.compile(
    r"comment|bio|avatar|image|photo|credit|caption|related|recent|popular|flyout|card|social"
    r"|share|twitter|facebook|email|mail|icon|title|role|job|position|date|time|more"
    r"|follow|contact|list-item|widget|sidebar",
    re.IGNORECASE,
)
_NOT_ALNUM = re.compile(r"[\W_]+")
_HIDDEN = frozenset({"hidden", "is-hidden", "visually-hidden", "sr-only", "screen-reader-text"})
_PREFIX = re.compile(
    r"^(?:[|/•·:,\s]+)?(?:(?:written|posted|reported|text|words|story|published)\s+)?"
    r"(?:by|von|par|por|di|door|av|af|oleh|autor|auteur|about)\b\s*:?\s*",
    re.IGNORECASE,
)
_LEADING = re.compile(r"^[|/•·:,\-–—\s]+")
# Where the names stop: a separator, a date, "Updated", a handle, an e-mail address.
_CUT = re.compile(
    r"\s[|/•·]|\s[-–—](?:\s|$)|\s(?:on|at|in)\s|\s(?:updated|published|posted|last\s+updated"
    r"|follow|about|biography|email|e-mail|view|more|read)\b|\S+@\S+|@\w|\d|\(|\bhttps?:",
    re.IGNORECASE,
)
_SPLIT = re.compile(r"\s*[,;]\s*|\s+(?:and|&|und|y|et|e|en|og|och|i)\s+", re.IGNORECASE)
_ROLE = re.compile(
    r"\b(?:writer|editor|correspondent|reporter|columnist|contributor|contributing|staff"
    r"|producer|journalist|analyst|critic|photographer|intern|founder|director|ceo|chief"
    r"|president|professor|expert|author|team|desk)s?\b",
    re.IGNORECASE,
)
_CREDENTIAL = re.compile(r"^(?:[A-Z][A-Za-z]{0,3}|[A-Z]{1,5}(?:\s*\([A-Z]{1,3}\))?)$")
_MONTHS = (
    "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june"
    "|july|august|september|october|november|december|mon|tue|wed|thu|fri|sat|sun|monday"
    "|tuesday|wednesday|thursday|friday|saturday|sunday|updated|published"
)
_TRAILING_DATE = re.compile(rf"(?:\s+(?:{_MONTHS})\.?)+$", re.IGNORECASE)
_NOT_NAMES = frozenset(
    {
        "by", "biography", "follow", "email", "share", "more", "view all", "read more", "about",
        "author", "authors", "contributors", "posted", "updated", "published", "staff writer",
        "view author archive", "get author rss feed", "twitter", "facebook", "print",
    }
)  # fmt: skip
_MAX_WORDS = 5
_MAX_NAME = 60


def squash(text: str) -> str:
    """Case, accents, spaces and punctuation aside: 'Al-Bawaba' and 'al bawaba' are one key."""
    return _NOT_ALNUM.sub("", unicodedata.normalize("NFKD", text).casefold())


def _is_name(name: str) -> bool:
    words = name.split()
    if not words or len(words) > _MAX_WORDS or len(name) > _MAX_NAME:
        return False
    if name.casefold() in _NOT_NAMES or not any(c.isalpha() for c in name):
        return False
    # A byline name starts with a capital; a lone lower-case word is an account ("admin").
    return len(words) == 1 or name[0].isupper()


def _is_outlet(part: str, site: tuple[str, ...]) -> bool:
    """'CNN Business' on cnn.com, 'Business Insider' on 'Business Insider Deutschland'."""
    key = squash(part)
    return len(key) >= 3 and any(s.startswith(key) or key.startswith(s) for s in site)


def _is_affiliation(part: str, site: tuple[str, ...]) -> bool:
    """What follows a name after a comma or "|": a role, a credential, the outlet."""
    return bool(_ROLE.search(part) or _CREDENTIAL.match(part)) or _is_outlet(part, site)


def split_names(text: str, site: tuple[str, ...] = ()) -> list[str]:
    """The names in one byline string; [] when it does not read as a byline.

    >>> split_names("By Jane Doe and John Roe | Updated 5 minutes ago")
    ['Jane Doe', 'John Roe']
    """
    text = normalise_text(text)
    text = _PREFIX.sub("", _LEADING.sub("", text), count=1)
    cut = _CUT.search(text)
    if cut is not None:
        text = text[: cut.start()]
    text = _TRAILING_DATE.sub("", text.strip(" ,;:.-–—|")).strip(" ,;:.-–—|")
    names: list[str] = []
    for i, part in enumerate(_SPLIT.split(text)):
        part = _PREFIX.sub("", part.strip(" .,;:|-–—"), count=1)
        if not part or (i and _is_affiliation(part, site)):
            continue
        if site and len(part.split()) > 1:
            part = _strip_site(part, site)
        if not _is_name(part):
            return []
        names.append(part)
    return names


def _strip_site(name: str, site: tuple[str, ...]) -> str:
    """'Elliot Brownstein Florida Today' on floridatoday.com -> 'Elliot Brownstein'."""
    words = name.split()
    for cut in range(1, len(words)):
        if squash(" ".join(words[cut:])) in site:
            return " ".join(words[:cut])
    return name


def site_keys(meta: dict[str, str], url: str | None) -> tuple[str, ...]:
    """The outlet's names as keys ('cnn', 'businessinsider'): og:site_name and the host."""
    host = re.sub(r"^https?://(?:www\.)?", "", url or "").split("/", 1)[0].rsplit(".", 1)[0]
    names = (meta.get("og:site_name"), meta.get("application-name"), host)
    return tuple(dict.fromkeys(key for key in map(squash, filter(None, names)) if key))


def _excluded(node: LexborNode) -> bool:
    attrs = node.attributes
    named = f"{attrs.get('class') or ''} {attrs.get('id') or ''}"
    style = (attrs.get("style") or "").replace(" ", "")
    return (
        bool(_NOT_BYLINE.search(named))
        or not _HIDDEN.isdisjoint(named.split())
        or "display:none" in style
        or "hidden" in attrs
    )


def _node_text(node: LexborNode) -> str:
    return node.text(deep=True, separator=" ", strip=True)


def _headline_node(tree: LexborHTMLParser, headline: str) -> LexborNode | None:
    first = None
    key = squash(headline)
    for node in tree.tags("h1")[:8]:
        text = squash(_node_text(node))
        if not text:
            continue
        if key and (text == key or key.startswith(text) or text.startswith(key)):
            return node
        first = first or node
    return first


def _region(h1: LexborNode, levels: int) -> LexborNode:
    node = h1
    for _ in range(levels):
        parent = node.parent
        if parent is None or parent.tag in ("body", "html"):
            break
        node = parent
    return node


def _element_byline(region: LexborNode, h1: LexborNode | None, site: tuple[str, ...]) -> list[str]:
    """The first byline element after the headline, else the last one before it.

    When that element holds smaller ones that read as bylines ("By <a class=author>A</a> and
    <a class=author>B</a>, Associated Press"), their names win over the whole line's.
    """
    seen = h1 is None
    found = [n for n in region.css(_CANDIDATES) if n.tag == "h1" or not _excluded(n)]
    for i, node in enumerate(found):
        if node.tag == "h1":
            seen = seen or (h1 is not None and node.mem_id == h1.mem_id)
        elif seen:
            names = _names_in(node, site)
            if names:
                return _inner_names(node, found[i + 1 :], site) or names
    before = [n for n in found if n.tag != "h1"]
    for node in reversed(before[: len(before) if h1 is None else None]):
        if _is_before(node, found, h1):
            names = _names_in(node, site)
            if names:
                return names
    return []


def _names_in(node: LexborNode, site: tuple[str, ...]) -> list[str]:
    text = _node_text(node)
    return split_names(text, site) if text and len(text) <= _MAX_TEXT else []


def _is_before(node: LexborNode, found: list[LexborNode], h1: LexborNode | None) -> bool:
    for other in found:
        if h1 is not None and other.mem_id == h1.mem_id:
            return False
        if other.mem_id == node.mem_id:
            return True
    return False


def _inner_names(outer: LexborNode, later: list[LexborNode], site: tuple[str, ...]) -> list[str]:
    names: list[str] = []
    for node in later:
        if not _inside(node, outer):
            break
        for name in split_names(_node_text(node), site):
            known = squash(name) in map(squash, names)
            if not known and not (names and _is_affiliation(name, site)):
                names.append(name)
    return names


def _inside(node: LexborNode, outer: LexborNode) -> bool:
    parent = node.parent
    for _ in range(12):
        if parent is None:
            return False
        if parent.mem_id == outer.mem_id:
            return True
        parent = parent.parent
    return False


def _line_byline(h1: LexborNode, site: tuple[str, ...]) -> list[str]:
    """A short "By ..." line among the elements that follow the headline."""
    node: LexborNode | None = h1
    for _ in range(2):
        if node is None:
            break
        sibling = node.next
        for _ in range(_NEAR):
            if sibling is None:
                break
            if sibling.tag != "-text" and sibling.tag not in ("script", "style"):
                text = _node_text(sibling)
                if text and len(text) <= _MAX_TEXT and _PREFIX.match(text):
                    names = split_names(text, site)
                    if names:
                        return names
            sibling = sibling.next
        node = node.parent
    return []


def visible_byline(
    tree: LexborHTMLParser,
    headline: str,
    site: tuple[str, ...],
    heading: LexborNode | None = None,
) -> list[str]:
    """Names near `heading` (the display headline's element), else near the <h1> that reads
    as `headline`, else the page's first byline element."""
    h1 = heading if heading is not None else _headline_node(tree, headline)
    if h1 is None:  # no headline to stand by: the page's first byline element
        return _element_byline(tree.body, None, site) if tree.body is not None else []
    for levels in _LEVELS:
        names = _element_byline(_region(h1, levels), h1, site)
        if names:
            return names
    return _line_byline(h1, site)


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def _shown(names: list[str], tree: LexborHTMLParser) -> list[str]:
    """The names that the page's text shows (scripts and styles aside)."""
    body = tree.body
    if body is None:
        return []
    text = _fold(body.text(separator=" "))
    hidden = _fold(" ".join(n.text() for n in body.css("script, style, noscript, template")))
    return [n for n in names if text.count(_fold(n)) > hidden.count(_fold(n))]


def _declared_form(name: str, stated: list[str]) -> str:
    """'Michael Hiltzik Business Columnist' seen, 'Michael Hiltzik' declared: the declared."""
    key = squash(name)
    for other in stated:
        if key != squash(other) and key.startswith(squash(other)):
            return other
    return name


def choose(
    tree: LexborHTMLParser,
    declared: Iterable[str],
    headline: str,
    meta: dict[str, str],
    url: str | None,
    heading: LexborNode | None = None,
) -> list[str]:
    """The byline: visible names, else declared ones that the page shows a reader."""
    site = site_keys(meta, url)
    stated = [n for raw in declared for n in split_names(raw, site) or [normalise_text(raw)]]
    seen = visible_byline(tree, headline, site, heading)
    if seen:
        return [_declared_form(n, stated) for n in seen]
    if not stated:
        return []
    # Declared but not seen near the headline: the publisher's own name, or a name the page
    # never shows (a CMS account), is metadata, not a byline.
    return _shown([n for n in stated if squash(n) not in site], tree)
