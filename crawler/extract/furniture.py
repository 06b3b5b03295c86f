"""Page furniture: what is never the article, recognised by signals that hold on any site.

Two stages. Before the body is extracted, elements whose class, id or role name them as ads,
share bars, newsletter boxes, cookie banners, trending or related lists, or that a reader cannot
see (hidden), are cut from the tree. After extraction, whole paragraphs that are furniture by
their text alone ("Read more: ..." link lines, "Advertisement", "5 minutes ago", "1.2K shares")
are dropped. Both are deliberately narrow: a real paragraph must never match.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import pairwise

from lxml import etree

_WORD_LIST = (
    "ad ads advert adverts advertisement advertising adslot adunit adcontainer gpt "
    "dfp sponsor sponsored promo promotion newsletter newsletters signup subscribe subscription "
    "share shares sharing sharebar social socialshare related readmore recirc recirculation "
    "trending mostread mostpopular popular cookie cookies consent gdpr outbrain taboola "
    "timeago relativetime viewcount pageviews commentcount banner btn button"
)
_WORDS = _WORD_LIST.split()
_FURNITURE_TOKENS = frozenset(_WORDS)
_PAIRS = frozenset(
    {
        ("read", "more"),
        ("read", "also"),
        ("most", "read"),
        ("most", "popular"),
        ("sign", "up"),
        ("ad", "slot"),
        ("time", "ago"),
        ("view", "count"),
        ("comment", "count"),
        ("more", "stories"),
        ("you", "may"),
        ("also", "like"),
    }
)
_SPLIT = re.compile(r"[^a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_ROLES = frozenset(
    {"complementary", "banner", "contentinfo", "navigation", "alertdialog", "dialog"}
)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_MAX_PARAGRAPHS_IN_FURNITURE = 4
_DROPPED = (
    "script style noscript template svg iframe button figcaption "
    "picture video audio input select textarea"
)
_ALWAYS_DROP = tuple(_DROPPED.split())
_DROP_UNLESS_ARTICLE = frozenset({"form", "figure", "aside", "nav", "footer", "dialog"})
_NEVER_FURNITURE = frozenset({"main", "article"})


_PAIR_HEADS = frozenset(first for first, _ in _PAIRS)


def _tokens(value: str) -> list[str]:
    """The words of a class or id value; "shareBar" is "share bar" (most values need no
    camel-case split: they are already lower case)."""
    lowered = value if value.islower() else _CAMEL.sub(" ", value).lower()
    return _SPLIT.split(lowered)  # may hold empty strings, which match no word


@lru_cache(maxsize=8192)
def is_furniture_name(value: str) -> bool:
    """True when a class or id value names furniture ("ad-slot", "shareBar", "most-read").

    Set operations first: a page has hundreds of class values, and few name furniture.
    """
    tokens = _tokens(value)
    if not _FURNITURE_TOKENS.isdisjoint(tokens):
        return True
    if _PAIR_HEADS.isdisjoint(tokens):
        return False
    return any(pair in _PAIRS for pair in pairwise(t for t in tokens if t))


_TELLING = frozenset({"class", "id", "hidden", "aria-hidden", "style", "role"})


def _is_furniture(el: etree._Element, names: list[str]) -> bool:
    """Furniture by its attributes: hidden, a landmark role, or a class/id naming furniture.

    Reads the attribute names first and only the telling values: decoding every attribute value
    (long hrefs, srcsets, data-*) costs more than the whole check.
    """
    for name in names:
        if name not in _TELLING:
            continue
        value = el.get(name) or ""
        if name == "class" or name == "id":
            if value and is_furniture_name(value):
                return True
        elif name == "hidden":
            return True
        elif name == "aria-hidden":
            if value == "true":
                return True
        elif name == "style":
            if _HIDDEN_STYLE.search(value):
                return True
        elif value in _ROLES:
            return True
    return False


def _holds_article(el: etree._Element) -> bool:
    """An element with many paragraphs is a container, whatever its class says; one holding a
    quotation is an embedded post (a "social-embed" tweet), which readers see as quoted text."""
    if el.find(".//blockquote") is not None:
        return True
    for count, _ in enumerate(el.iter("p"), start=1):
        if count > _MAX_PARAGRAPHS_IN_FURNITURE:
            return True
    return False


def drop_invisible(root: etree._Element) -> None:
    """Remove what a reader never sees as text (scripts, styles, media, form controls)."""
    etree.strip_elements(root, *_ALWAYS_DROP, with_tail=False)  # in C; tails stay


def strip_furniture(root: etree._Element) -> None:
    """Remove furniture elements from an lxml tree, in place (after drop_invisible).

    One walk over the elements: cheaper than an XPath pre-selection, whose per-element
    predicates cost more than the Python check.
    """
    body = root.find(".//body")
    start = body if body is not None else root
    doomed = []
    for el in start.iter(etree.Element):
        tag = el.tag
        if tag in _DROP_UNLESS_ARTICLE:
            pass
        elif tag in _NEVER_FURNITURE or el is start:
            continue
        else:
            names = el.keys()
            if not names or not _is_furniture(el, names):
                continue
        if not _holds_article(el):
            doomed.append(el)
    for el in doomed:
        _drop(el)


# Inline elements inside a paragraph that hold several links: hover cards ("more on this person"
# pop-ups hidden by the site's stylesheet), inline link lists. Prose with links has words
# between them; such a cluster is nearly all link text.
_LINK_CLUSTERS = etree.XPath("//p//*[not(self::a)][count(.//a) >= 3]")
_CLUSTER_LINK_SHARE = 0.9
_MIN_OWN_TEXT = 20  # characters of the paragraph outside the cluster


def _text_length(el: etree._Element) -> int:
    return len("".join(el.itertext()).strip())


def _is_link_cluster(el: etree._Element) -> bool:
    total = _text_length(el)
    linked = sum(_text_length(a) for a in el.iter("a"))
    return total > 0 and linked >= _CLUSTER_LINK_SHARE * total


def drop_link_clusters(root: etree._Element) -> None:
    """Remove the innermost link clusters nested in paragraphs (see _LINK_CLUSTERS)."""
    found = [el for el in _LINK_CLUSTERS(root) if _is_link_cluster(el)]
    inner = set(found)
    for el in found:
        for ancestor in el.iterancestors():
            inner.discard(ancestor)
    for el in [el for el in found if el in inner]:
        paragraph = next(el.iterancestors("p"), None)
        if paragraph is None or el.getparent() is None:
            continue
        if _text_length(paragraph) - _text_length(el) >= _MIN_OWN_TEXT:
            _drop(el)


def _drop(el: etree._Element) -> None:
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    if tail and tail.strip():
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


_LABELLED_LINK = re.compile(
    r"^(read more|read also|also read|see more|more reading|related|related articles?|"
    r"related stories|see also|recommended|more on this( story)?|more from|watch|listen|"
    r"don't miss|must read|further reading|editor's picks|trending)\b\s*[:|»›>–—-]",
    re.IGNORECASE,
)
_ALONE = re.compile(
    r"^(advertisement|advertising|sponsored( content)?|story continues below( advertisement)?|"
    r"scroll to continue( with content)?|continue reading( below)?|skip advert(isement)?|"
    r"(updated |posted |published )?(\d+|an?|one) (seconds?|minutes?|mins?|hours?|hrs?|days?|"
    r"weeks?|months?) ago|just now|[\d.,]+\s*[km]?\s*(views?|shares?|comments?|reads?|likes?)|"
    r"share( this)?( article| story)?|comments?|print|email|don't miss|see more|read more|"
    r"related( articles| stories)?|see also|more stories|most read|most popular|trending( now)?|"
    r"recommended( for you)?|latest( news| stories)?|you may also like|you might also like|"
    r"click to tweet|tweet this|more|also)(\.{0,3}|…)?:?$",
    re.IGNORECASE,
)
_MAX_LABELLED_WORDS = 30


# A dateline of the page itself ("Updated at 1:23 p.m.", "Published 12 May 2019") or a
# copyright line: page metadata, never article text. Short lines with a digit only.
_STAMP = re.compile(
    r"^((last )?(updated|refreshed)|posted|published|first published|modified)\b[^.]{0,40}\d"
    r"|^(©|\(c\)|copyright\b)",
    re.IGNORECASE,
)
_MAX_STAMP_WORDS = 12
# A teaser line stamped with a time relative to the reader's visit ("... 46 minutes ago").
_RELATIVE_END = re.compile(
    r"\b(\d+|an?|one) (seconds?|minutes?|mins?|hours?|hrs?|days?) ago$", re.IGNORECASE
)
_MAX_TEASER_WORDS = 25


def is_furniture_paragraph(text: str) -> bool:
    """A whole paragraph that is furniture by its words alone."""
    if _ALONE.match(text):
        return True
    words = len(text.split())
    if words <= _MAX_STAMP_WORDS and _STAMP.match(text):
        return True
    if words <= _MAX_TEASER_WORDS and _RELATIVE_END.search(text):
        return True
    return bool(_LABELLED_LINK.match(text)) and len(text.split()) <= _MAX_LABELLED_WORDS
