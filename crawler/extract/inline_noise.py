"""Furniture among the article's own paragraphs, told apart by what a reader sees in it.

Sites put blocks between the paragraphs of an article: a "Read more" label over links to other
stories, an "Advertisement" label (alone or over a sponsor's link), a newsletter sign-up box, a
share or comment count, an "Updated 5 minutes ago" line. Their class names are often bland
("inline-block") or hashed, and their text changes at every load, so neither furniture names
(furniture.strip_furniture) nor memory across versions (memory.py) catch them at the first
re-check. What they say does. They are cut here, before trafilatura, so that it reads the same
tree as without them: a line dropped only after extraction can still sway its choices.

Only the siblings of paragraphs (<p>) are looked at, and one is cut when
    - every line of it is a furniture line (furniture.is_furniture_paragraph), or
    - it starts with a label over other stories or a sponsor ("Read more", "Related",
      "Sponsored") and the rest is nearly all link text; a label alone goes with the list of
      links right after it, or
    - it is a newsletter box: a short call to sign up first ("Sign up to First Edition") with a
      newsletter or an inbox named in it, or a title first and a sign-up form's consent line
      last ("By signing up, you agree to our Privacy Policy").
A child holding more than four paragraphs, a quotation or over 600 characters is never cut.
"""

from __future__ import annotations

import re

from lxml import etree

from redline.crawler.extract.blocks import element_paragraphs
from redline.crawler.extract.furniture import (
    LINK_LABEL,
    drop_element,
    is_furniture_paragraph,
    is_sign_up_box,
)
from redline.crawler.extract.text import normalise_text

_MAX_CHARS = 600  # characters of text in a block of furniture: a box, never the article
_MAX_PARAGRAPHS = 4
_LINK_SHARE = 0.75  # of the word characters after the label, in links
_WORD_CHAR = re.compile(r"\w")
# The words furniture lines and labels start with (or a digit): a cheap first look at a child,
# which the rules then read in full.
_OPENING = re.compile(
    r"\W*(\d|advert|ads?\b|sponsor|promot|paid|partner|story|article|content|scroll|continue|"
    r"skip|last|updated|posted|published|first|modified|refreshed|share|comment|view|like|repl|"
    r"respons|print|email|don|see|read|related|more|most|trending|recommended|latest|you|click|"
    r"tweet|also|an?\b|one\b|just|sign|subscri|get\b|join|receive|want|enjoy|by\b|watch|listen|"
    r"further|must|editor|©|\(c\)|copyright)",
    re.IGNORECASE,
)
_TEXT_LENGTH = etree.XPath("string-length(.)")


def _word_chars(text: str) -> int:
    return len(_WORD_CHAR.findall(text))


def _first_text(el: etree._Element) -> str:
    text = el.text
    if text and not text.isspace():  # most paragraphs start with their own text
        return str(text).strip()
    for text in el.itertext():
        stripped: str = text.strip()
        if stripped:
            return stripped
    return ""


def _link_share(el: etree._Element, label: str = "") -> float:
    """Share of the word characters of `el` after its `label` that are link text."""
    skip = _word_chars(label)
    rest = _word_chars(_text(el)) - skip
    links = [el] if el.tag == "a" else list(el.iter("a"))
    if not links or rest <= 0:
        return 0.0
    linked = sum(_word_chars(_text(a)) for a in links)
    if label and _first_text(links[0]) == label:
        linked -= skip  # the label is itself a link ("<a>Read more</a>")
    return min(linked, rest) / rest


def _text(el: etree._Element) -> str:
    return "".join(el.itertext())


def _small(el: etree._Element) -> bool:
    if _TEXT_LENGTH(el) > _MAX_CHARS or el.find(".//blockquote") is not None:
        return False
    return sum(1 for _ in el.iter("p")) <= _MAX_PARAGRAPHS


def _is_noise(el: etree._Element, first: str) -> bool:
    lines = element_paragraphs(el)
    if not lines:
        return False
    if all(is_furniture_paragraph(line) for line in lines):
        return True
    if LINK_LABEL.fullmatch(normalise_text(first)) and _link_share(el, first) >= _LINK_SHARE:
        return True
    return is_sign_up_box(lines)


def drop_inline_noise(root: etree._Element) -> None:
    """Remove furniture blocks that sit among the article's paragraphs, in place.

    Every block is judged on the page as it came, then the cuts are made: a box is read whole
    even when a line inside it (its consent line) is furniture on its own.
    """
    parents = {p.getparent() for p in root.iter("p")}
    doomed = [el for parent in parents if parent is not None for el in _noise_among(parent)]
    for el in doomed:
        drop_element(el)


def _noise_among(parent: etree._Element) -> list[etree._Element]:
    """The children of `parent` that are furniture; a label alone ("Don't miss") goes with the
    list of links after it, furniture and empty elements between them aside."""
    found: list[etree._Element] = []
    label: etree._Element | None = None
    for child in parent.iterchildren(etree.Element):
        if label is None and _reads_as_prose(child):
            continue  # a paragraph of the article, the common case
        first = _first_text(child)
        if not first:
            continue
        opening = _OPENING.match(first) is not None
        if label is None and not opening and (child.tag == "p" or not _may_be_form_box(child)):
            continue  # opens as no furniture does, and holds no sign-up form's consent line
        if not _small(child):
            label = None
            continue
        if opening and LINK_LABEL.fullmatch(normalise_text(_text(child))):
            label = child
        if _is_noise(child, first):
            found.append(child)  # between a label and its links, too
        elif label is not None and label is not child:
            if _link_share(child) >= _LINK_SHARE:
                found += [el for el in (label, child) if el not in found]
            label = None
    return found


def _reads_as_prose(el: etree._Element) -> bool:
    """A paragraph that starts with its own text, and not as furniture does."""
    own = el.text
    return el.tag == "p" and bool(own) and not own.isspace() and not _OPENING.match(own)


def _may_be_form_box(el: etree._Element) -> bool:
    """A small block that may hold the consent line of a sign-up form."""
    if _TEXT_LENGTH(el) > _MAX_CHARS:
        return False
    text = _text(el).lower()
    return "privacy" in text or "terms" in text
