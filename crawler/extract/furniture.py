"""Page furniture: what is never the article, recognised by signals that hold on any site.

Two stages. Before the body is extracted, elements whose class, id or role name them as ads,
share bars, newsletter boxes, cookie banners, trending or related lists, or that a reader cannot
see (hidden), are cut from the tree. After extraction, whole paragraphs that are furniture by
their text alone ("Read more: ..." link lines, "Advertisement", "5 minutes ago", "1.2K shares")
are dropped. Both are deliberately narrow: a real paragraph must never match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

from lxml import etree

from redline.crawler.extract.bounded import merge_runs
from redline.crawler.extract.kind import reads_as_wall

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


def _is_hidden(el: etree._Element, names: list[str]) -> bool:
    """What a reader cannot see: the `hidden` attribute, aria-hidden, display:none."""
    return (
        "hidden" in names
        or el.get("aria-hidden") == "true"
        or bool(_HIDDEN_STYLE.search(el.get("style") or ""))
    )


# Names of walls and sign-up boxes ("cookie-consent", "subscribe-box"): never spared for the text
# they hold, as a wall must never be read as the article.
_WALL_WORDS = frozenset(
    {"cookie", "cookies", "consent", "gdpr", "subscribe", "subscription", "signup"}
    | {"newsletter", "newsletters"}
)


def _is_wall_name(value: str) -> bool:
    tokens = _tokens(value)
    return not _WALL_WORDS.isdisjoint(tokens) or ("sign", "up") in pairwise(t for t in tokens if t)


def _is_wall(el: etree._Element) -> bool:
    """A wall: named as one (or a dialog), and saying what walls say. However many paragraphs of
    consent text it holds, it is never the article."""
    named = el.tag == "dialog" or el.get("role") in ("dialog", "alertdialog")
    named = named or any(v and _is_wall_name(v) for v in (el.get("class"), el.get("id")))
    return named and reads_as_wall(" ".join(el.itertext()))


def _named_only(el: etree._Element, names: list[str]) -> bool:
    """Furniture by a name alone: not hidden, no landmark role, no wall's name. Only such a cut
    can be wrong about the article (a wrapper named "ad-container" around the whole story)."""
    if _is_hidden(el, names) or el.get("role") in _ROLES:
        return False
    values = (el.get("class"), el.get("id"))
    return not any(v and is_furniture_name(v) and _is_wall_name(v) for v in values)


# Characters of paragraph text (spaces collapsed), in C: the measure of where the article is. A
# paragraph inside a link is a teaser card leading elsewhere, never the article: not counted.
_PARAGRAPH_TEXT = etree.XPath(
    "string-length(normalize-space(str:concat(descendant-or-self::p[not(ancestor::a)])))",
    namespaces={"str": "http://exslt.org/strings"},
)


def paragraph_chars(el: etree._Element) -> int:
    """Characters of text in the paragraphs of `el` (see _PARAGRAPH_TEXT)."""
    return int(_PARAGRAPH_TEXT(el))


_CONTAINER = _MAX_PARAGRAPHS_IN_FURNITURE + 1


def _paragraph_count(el: etree._Element) -> int:
    """Paragraphs in `el`, counted up to _CONTAINER: an element with that many is a container,
    whatever its class says. So is one holding a quotation: an embedded post (a "social-embed"
    tweet), which readers see as quoted text."""
    if el.find(".//blockquote") is not None:
        return _CONTAINER
    count = 0
    for count, _ in enumerate(el.iter("p"), start=1):
        if count == _CONTAINER:
            break
    return count


def _unmark(el: etree._Element) -> None:
    """Take the furniture names off an element that holds the article: trafilatura's own class
    filters ("ad-", "related") would otherwise cut what this stage kept. Other names stay."""
    value = el.get("class")
    if value and is_furniture_name(value):
        el.set("class", " ".join(t for t in value.split() if not is_furniture_name(t)))
    value = el.get("id")
    if value and is_furniture_name(value):
        del el.attrib["id"]


def drop_invisible(root: etree._Element) -> None:
    """Remove what a reader never sees as text (scripts, styles, media, form controls)."""
    etree.strip_elements(root, *_ALWAYS_DROP, with_tail=False)  # in C; tails stay
    merge_runs(root)  # the tails of thousands of cut elements: a run of as many text nodes


# Cut by their tag, and deleted before trafilatura anyway (body._PRE_CLEANED): text no reading
# of the page keeps.
_ALWAYS_UNREAD = frozenset(_DROP_UNLESS_ARTICLE - {"form"})
_TEXT_OUTSIDE_LINKS = etree.XPath(".//text()[not(ancestor::a)]")


@dataclass(frozen=True, slots=True)
class Cuts:
    """What strip_furniture removed, for core.py to check the body against a plain reading."""

    paragraph_chars: int = 0  # paragraph text (see _PARAGRAPH_TEXT) the cuts by name removed
    doomed: tuple[etree._Element, ...] = ()  # every cut, detached

    def words(self) -> int:
        """Words outside links in the cuts a plain reading would not make (all but hidden
        elements and what trafilatura deletes anyway): about the most it can add, the rest of the
        page reading the same both ways. Counted only when asked: only short bodies ask."""
        doomed = set(self.doomed)
        count = 0
        for el in self.doomed:
            if el.tag in _ALWAYS_UNREAD or _is_hidden(el, el.keys()):
                continue
            if not any(a in doomed for a in el.iterancestors()):
                count += len(" ".join(_TEXT_OUTSIDE_LINKS(el)).split())
        return count


def strip_furniture(root: etree._Element, *, hidden_only: bool = False) -> Cuts:
    """Remove furniture elements from an lxml tree, in place (after drop_invisible), and say what
    was cut (Cuts), for core.py to check the body.

    No cut by a name alone removes the article: an element named as furniture that holds more
    than half of the page's paragraph text stays, and loses its furniture names. Two elements
    that are not nested cannot both hold more than half, so this spares one chain of ancestors at
    most: the article's. Hidden elements, landmark roles and walls' names get no such protection.
    `hidden_only` cuts only what a reader cannot see (and still unmarks the article), for the
    plain reading itself.
    One walk over the elements: cheaper than an XPath pre-selection, whose per-element
    predicates cost more than the Python check.
    """
    body = root.find(".//body")
    start = body if body is not None else root
    page_chars = -1  # measured once, when a paragraph first sits in an element named furniture
    cut_chars = 0
    doomed = []
    named: set[etree._Element] = set()
    for el in start.iter(etree.Element):
        tag = el.tag
        names = None
        if tag in _DROP_UNLESS_ARTICLE:
            if hidden_only:
                continue
        elif tag in _NEVER_FURNITURE or el is start:
            continue
        else:
            names = el.keys()
            if not names or not _is_furniture(el, names):
                continue
        paragraphs = _paragraph_count(el)
        if paragraphs and names and _named_only(el, names):
            if page_chars < 0:
                page_chars = paragraph_chars(start)
            chars = paragraph_chars(el)
            if 2 * chars > page_chars:
                _unmark(el)  # most of the page's paragraph text: the article, whatever its name
                continue
            if hidden_only or paragraphs == _CONTAINER:
                continue
            if not any(a in named for a in el.iterancestors()):
                cut_chars += chars
            named.add(el)
        elif paragraphs == _CONTAINER:
            if hidden_only or not _is_wall(el):
                continue  # many paragraphs: a container, whatever its name, unless a wall
        elif hidden_only and not (names and _is_hidden(el, names)):
            continue
        doomed.append(el)
    for el in doomed:
        drop_element(el)
    return Cuts(cut_chars, tuple(doomed))


# Inline elements inside a paragraph that hold several links: hover cards ("more on this person"
# pop-ups hidden by the site's stylesheet), inline link lists. Prose with links has words
# between them; such a cluster is nearly all link text.
_MIN_CLUSTER_LINKS = 3
_CLUSTER_LINK_SHARE = 0.9
_MIN_OWN_TEXT = 20  # characters of the paragraph outside the cluster


def _text_length(el: etree._Element) -> int:
    return len("".join(el.itertext()).strip())


def _is_link_cluster(el: etree._Element) -> bool:
    total = _text_length(el)
    linked = sum(_text_length(a) for a in el.iter("a"))
    return total > 0 and linked >= _CLUSTER_LINK_SHARE * total


def _cluster_candidates(root: etree._Element) -> list[etree._Element]:
    """Elements inside a paragraph, other than links, that hold three links or more, in
    document order. Walked from the paragraphs that hold three links at all: linear in the
    page's size, where an XPath over every paragraph's descendants grew with its square."""
    found: list[etree._Element] = []
    seen: set[etree._Element] = set()
    for paragraph in root.iter("p"):
        if sum(1 for _ in paragraph.iter("a")) < _MIN_CLUSTER_LINKS:
            continue
        for el in paragraph.iterdescendants(etree.Element):
            if el.tag == "a" or el in seen:
                continue
            seen.add(el)
            if sum(1 for _ in el.iter("a")) >= _MIN_CLUSTER_LINKS:
                found.append(el)
    return found


def drop_link_clusters(root: etree._Element) -> None:
    """Remove the innermost link clusters nested in paragraphs (see _cluster_candidates)."""
    found = [el for el in _cluster_candidates(root) if _is_link_cluster(el)]
    inner = set(found)
    for el in found:
        for ancestor in el.iterancestors():
            inner.discard(ancestor)
    for el in [el for el in found if el in inner]:
        paragraph = next(el.iterancestors("p"), None)
        if paragraph is None or el.getparent() is None:
            continue
        if _text_length(paragraph) - _text_length(el) >= _MIN_OWN_TEXT:
            drop_element(el)


def drop_element(el: etree._Element) -> None:
    """Remove an element, keeping its tail text (which is not part of it)."""
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


# Labels over links to other stories ("Read more", "Related coverage", "More from Sport"): a line
# that starts with one and a separator is a link line, whatever follows.
_RECIRCULATION = (
    r"read more|read also|also read|read next|see more|see also|more reading|"
    r"related( articles?| stories| coverage| content| links| reading)?|"
    r"recommended( for you| reading| stories)?|more on this( story| topic)?|"
    r"more from( [\w'’&. ]{1,30})?|more stories|you may also like|you might also like|"
    r"further reading|don['’]t miss|must read|editor['’]s picks|trending( now)?|most read|"
    r"most popular|watch|listen"
)
# Labels of paid placements, over a sponsor's link.
_PAID = (
    r"advertisement|advertising|ads?|sponsored( content| post| by [^:|]{1,40})?|"
    r"promoted( by [^:|]{1,40})?|paid (content|post|partnership)|partner content"
)
# Not when it ends as a sentence ends: "Related: The mayor said ... ." is prose after a label.
_LABELLED_LINK = re.compile(
    rf"^({_RECIRCULATION}|read)\b\s*[:|»›>–—-].*(?<![^.]\.)$", re.IGNORECASE
)
# The whole label of a block over links ("Read more", "Sponsored:"), for inline_noise.py.
LINK_LABEL = re.compile(rf"({_RECIRCULATION}|{_PAID}|read)\s*[:|»›>–—-]?", re.IGNORECASE)
_MAX_LABELLED_WORDS = 30

# A line made only of furniture phrases: labels ("Advertisement", "Share", "Updated"), counts
# ("1.2K shares", "Comments (345)") and times relative to the reader's visit ("5 minutes ago",
# "31m ago"), one or several ("1.2K shares · 345 comments", "Published 5 hours ago · Updated 3m
# ago"), spaces or not between them (inline counters run together).
_AGO_N = (
    r"(\d+|an?|one)\s?(seconds?|secs?|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|wks?|w|"
    r"months?) ago"
)
_COUNTED = r"(views?|shares?|comments?|reads?|likes?|reactions?|replies|responses)"
_PHRASE = (
    r"(advertisement|advertising|ad|sponsored( content)?|skip advert(isement)?|"
    r"(story|article|content) continues (below|after (this|the) (ad|advertisement))"
    r"( advertisement)?|scroll to continue( with content)?|continue reading( below)?|"
    rf"(last )?updated|posted|published|{_AGO_N}|just now|"
    rf"[\d.,]+\s*[km]?\s*{_COUNTED}|{_COUNTED}\s*\(?[\d.,]+\s*[km]?\)?|"
    r"share( this)?( article| story)?|comments?|print|email|don['’]t miss|see more|read more|"
    r"related( articles| stories)?|see also|more stories|most read|most popular|trending( now)?|"
    r"recommended( for you)?|latest( news| stories)?|you may also like|you might also like|"
    r"click to tweet|tweet this|more|also)(?![a-z])"
)
_ALONE = re.compile(rf"^{_PHRASE}:?(\s*[-·•|/,:–—]?\s*{_PHRASE}:?)*(\.{{0,3}}|…)?$", re.IGNORECASE)
_MAX_ALONE_WORDS = 15

# A dateline of the page itself ("Updated at 1:23 p.m.", "Published 12 May 2019") or a
# copyright line: page metadata, never article text. Short lines with a digit only.
_STAMP = re.compile(
    r"^((last )?(updated|refreshed)|posted|published|first published|modified)\b[^.]{0,40}\d"
    r"|^(©|\(c\)|copyright\b)",
    re.IGNORECASE,
)
_MAX_STAMP_WORDS = 12
# A teaser line stamped with a time relative to the reader's visit ("... 46 minutes ago").
_RELATIVE_END = re.compile(rf"\b{_AGO_N}$", re.IGNORECASE)
_MAX_TEASER_WORDS = 25

# A call to sign up for the site's newsletter ("Sign up for our daily newsletter", "Want more?
# Get the briefing in your inbox"), and the consent line under a sign-up form ("By signing up,
# you agree to our Privacy Policy"): the site addressing its reader, never the story.
_CALL_OPENING = (
    r"^(want more\b[^?]{0,40}\?\s*|enjoy(ing|ed)?\b[^?]{0,40}\?\s*|"
    r"like (this|what you)[^?]{0,40}\?\s*)?"
)
# "Sign up"/"Subscribe" is a call by itself; "get", "join" or "receive" only when the site
# speaks of its own newsletter or the reader's inbox ("Get our newsletter", "in your inbox").
_SIGN_UP_VERB = (
    r"((sign(ing)?[ -]?up|subscribe)\b.{0,100}?|"
    r"(get|join|receive)\b.{0,100}?\b(our|your)\b.{0,60}?)"
)
_SIGN_UP = re.compile(rf"{_CALL_OPENING}{_SIGN_UP_VERB}\b(newsletters?|inbox)\b", re.IGNORECASE)
# A box that opens with the call ("Sign up to First Edition") may name its newsletter a briefing.
_CALL = re.compile(_CALL_OPENING + r"(sign(ing)?[ -]?up|subscribe|get|join)\b", re.IGNORECASE)
_SIGN_UP_ANYWHERE = re.compile(
    rf"{_SIGN_UP_VERB}\b(newsletters?|inbox|briefings?|digest)\b", re.IGNORECASE
)
_CONSENT = re.compile(
    r"^by (signing up|subscribing|registering|submitting|clicking|entering)\b.{0,150}?"
    r"\b(privacy|terms)\b",
    re.IGNORECASE,
)
_MAX_SIGN_UP_WORDS = 40


def is_furniture_paragraph(text: str) -> bool:
    """A whole paragraph (or list item, "- ...") that is furniture by its words alone."""
    if text.startswith("- "):
        text = text[2:]
    words = len(text.split())
    if words <= _MAX_ALONE_WORDS and _ALONE.match(text):
        return True
    if words <= _MAX_STAMP_WORDS and _STAMP.match(text):
        return True
    if words <= _MAX_TEASER_WORDS and _RELATIVE_END.search(text):
        return True
    if words <= _MAX_SIGN_UP_WORDS and (_SIGN_UP.match(text) or _CONSENT.match(text)):
        return True
    return words <= _MAX_LABELLED_WORDS and bool(_LABELLED_LINK.match(text))


_MAX_CALL_WORDS = 20  # "Want more tech news? Sign up for Today, our free tech briefing."
_MAX_TITLE_WORDS = 12


def is_sign_up_box(lines: list[str]) -> bool:
    """A newsletter box by its lines: a call to sign up first ("Sign up to First Edition")
    with a newsletter or an inbox in what follows, or a title first and the consent line of a
    sign-up form last ("By signing up, you agree to our Privacy Policy")."""
    first = len(lines[0].split()) if lines else _MAX_CALL_WORDS + 1
    called = first <= _MAX_CALL_WORDS and _CALL.match(lines[0])
    if called and _SIGN_UP_ANYWHERE.search(" ".join(lines)):
        return True
    return first <= _MAX_TITLE_WORDS and bool(_CONSENT.match(lines[-1]))
