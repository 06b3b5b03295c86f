"""The article body: profile selectors first, generic main-content extraction otherwise.

The generic layer is trafilatura in its precision mode (boilerplate in the body costs a false
change alert at every check, a missed sentence costs much less), run on a tree from which
furniture has already been cut. Its plain-text output has one paragraph per line.
"""

from __future__ import annotations

import re
from typing import TypedDict

import trafilatura
from lxml import etree

from redline.crawler.extract.blocks import element_paragraphs
from redline.crawler.extract.bounded import bound_tree
from redline.crawler.extract.furniture import is_furniture_paragraph
from redline.crawler.extract.kind import MIN_WORDS
from redline.crawler.extract.profiles import SiteProfile
from redline.crawler.extract.text import normalise_text, word_count


class TrafilaturaOptions(TypedDict):
    """The keyword arguments we give trafilatura.extract, typed so a wrong one fails mypy."""

    output_format: str
    fast: bool
    favor_precision: bool
    include_comments: bool
    include_tables: bool
    include_images: bool
    include_links: bool
    deduplicate: bool
    with_metadata: bool


TRAFILATURA_OPTIONS: TrafilaturaOptions = {
    "output_format": "txt",
    "fast": True,
    "favor_precision": True,
    "include_comments": False,
    "include_tables": True,
    "include_images": False,
    "include_links": False,
    "deduplicate": False,
    "with_metadata": False,
}
# The plain reading of a shrunk body (core.py) runs trafilatura's whole cascade: in fast mode it
# stops at the first of several containers of one article (a long story split around ad slots),
# where its comparison with readability and justext finds them all.
PLAIN_OPTIONS: TrafilaturaOptions = {**TRAFILATURA_OPTIONS, "fast": False}


def profile_body(root: etree._Element, profile: SiteProfile | None) -> list[str] | None:
    """Paragraphs from the profile's `body` selectors, or None when none of them matches."""
    if profile is None:
        return None
    for selector in profile.body:
        found = [n for n in selector.compiled()(root) if isinstance(n, etree._Element)]
        if found:
            paragraphs: list[str] = []
            for node in found:
                paragraphs.extend(element_paragraphs(node))
            if paragraphs:
                return paragraphs
    return None  # no selector found text (a redesigned site?): the generic layer takes over


# What trafilatura deletes anyway, whatever its options (its MANUALLY_CLEANED and _STRIPPED lists
# less forms, which it keeps when they wrap the page): deleted here in C, before its own
# XPath passes walk them. Same output on the corpus, about a tenth less of its time.
_CLEANED = (
    "aside embed fencedframe footer iframe menu object script applet audio canvas figure map "
    "picture svg video area blink button datalist dialog frame frameset fieldset link input "
    "label legend marquee math menuitem nav noindex noscript optgroup option output param "
    "progress rp rt rtc select source style track textarea time use img meta wbr"
)
_STRIPPED = "abbr acronym address bdi bdo big cite data dfn font hgroup ins mark nobr ruby small "
_PRE_CLEANED = tuple(_CLEANED.split())
_PRE_STRIPPED = tuple((_STRIPPED + "tbody template tfoot thead").split())


def _unmark_quotations(root: etree._Element) -> None:
    """Let quotations through trafilatura's class filters.

    An embedded post (a tweet, an Instagram post) is a <blockquote> that the page shows as
    quoted text, often in a wrapper named "social-embed"; trafilatura drops "social" and "embed"
    classes as share bars. The names of the quotation and of the wrappers that hold nothing else
    are removed, so only its text and place decide.
    """
    for quote in root.iter("blockquote"):
        node: etree._Element | None = quote
        while node is not None and node.tag not in ("body", "html"):
            for name in ("class", "id"):
                if name in node.attrib:
                    del node.attrib[name]
            for inner in node.iter():
                inner.attrib.pop("class", None)
            parent = node.getparent()
            if parent is None or len(parent) != 1 or (parent.text or "").strip():
                break
            node = parent


def generic_body(root: etree._Element, *, cascade: bool = False) -> list[str]:
    """trafilatura on the cleaned tree, one paragraph per line of its text output.

    The tree is trafilatura's from here on: a tree over the bounds of bounded.py is thinned to
    them (trafilatura's time grows with the square of its input: bounded input, bounded time),
    and what trafilatura would delete anyway is deleted first. `cascade` runs its whole
    cascade (PLAIN_OPTIONS), for the plain reading of a shrunk body.
    """
    head = root.find("head")
    if head is not None:
        head.clear()
    _unmark_quotations(root)
    bound_tree(root)  # first: the cuts below leave runs of text nodes, which it would not see
    etree.strip_elements(root, *_PRE_CLEANED, with_tail=False)
    etree.strip_tags(root, *_PRE_STRIPPED)
    text = trafilatura.extract(root, **(PLAIN_OPTIONS if cascade else TRAFILATURA_OPTIONS))
    if not text:
        return []
    return [normalise_text(line) for line in text.split("\n")]


_ITEMPROP = etree.XPath("//*[@itemprop]")
_MIN_DECLARED_WORDS = 50
_COVER = 0.9
_WORD = re.compile(r"\w+")


def declared_body(root: etree._Element) -> list[str]:
    """Paragraphs of the publisher's own microdata body element (`itemprop="articleBody"`)."""
    found = [el for el in _ITEMPROP(root) if "articleBody" in (el.get("itemprop") or "").split()]
    if not found:
        return []
    element = max(found, key=lambda el: len(el.xpath("string()")))
    return element_paragraphs(element)


def cross_check(declared: list[str], paragraphs: list[str]) -> list[str]:
    """Trust the publisher's own microdata body element when the generic layer missed much of it.

    `itemprop="articleBody"` marks visible text, so reading it is still "what the reader sees".
    It only replaces the generic result when that result lacks over a tenth of its words.
    """
    words = _WORD.findall(" ".join(declared))
    if len(words) < _MIN_DECLARED_WORDS:
        return paragraphs
    have = set(_WORD.findall(" ".join(paragraphs)))
    covered = sum(1 for w in words if w in have) / len(words)
    return declared if covered < _COVER else paragraphs


def _compared(text: str) -> str:
    """Text as trafilatura leaves a body line (characters neither printable nor spaces, such as a
    bidi override, gone), normalised: a headline and a paragraph repeating it compare equal."""
    if not text.isprintable():
        text = "".join(c for c in text if c.isprintable() or c.isspace())
    return normalise_text(text).casefold()


def finish_body(paragraphs: list[str], headline: str, dropped: frozenset[str]) -> tuple[str, ...]:
    """Drop empty lines, furniture lines, learnt volatile blocks and a repeated headline."""
    out: list[str] = []
    heading = _compared(headline)
    for para in paragraphs:
        if not para or para in dropped or is_furniture_paragraph(para):
            continue
        if len(out) < 2 and heading and _compared(para) == heading:
            continue
        out.append(para)
    return tuple(out)


def body_words(body: tuple[str, ...]) -> int:
    return sum(word_count(p) for p in body)


# The plain reading replaces Redline's body only when it holds at least twice the words and at
# least an article's worth more (kind.MIN_WORDS): what is at stake is a lost article, never a
# sentence either way, so a close call always keeps Redline's own, more precise, result.
_PLAIN_GAIN = 2
_ABOUT_AS_BEFORE = 0.8


def looks_shrunk(body: tuple[str, ...], words: int, readable: int, before: int) -> bool:
    """Did Redline's body keep under half of what it could have kept?

    Under half of the paragraph text it could have been read from (`readable`, characters: what
    trafilatura was given, and what the cuts by name removed), or under half of the article's
    previous body (`before`, words; 0 when there is none). Such a body, like a short one, is
    checked against a plain reading (core.py), which then runs trafilatura's whole cascade.
    """
    return _PLAIN_GAIN * sum(map(len, body)) < readable or _PLAIN_GAIN * words < before


def prefer_plain(kept: int, plain: int, before: int = 0) -> bool:
    """Take the plain reading (`plain` words) over Redline's body (`kept` words)?

    Yes when it holds far more: at least twice the words and MIN_WORDS more. Yes also when
    Redline's body fell under half of the previous one (`before` words) while the plain reading
    keeps about as much as before (four fifths or more): the article did not shrink, the cut did.
    """
    if plain >= _PLAIN_GAIN * kept and plain - kept >= MIN_WORDS:
        return True
    return _PLAIN_GAIN * kept < before and plain > kept and plain >= _ABOUT_AS_BEFORE * before
