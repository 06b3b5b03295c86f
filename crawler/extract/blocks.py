"""Reading-order paragraphs of an element: what a profile's `body` selector yields.

Every block element (paragraph, heading, list item, quotation, div...) starts and ends a
paragraph; inline markup (links, emphasis) is read through; <br> breaks a line. The walk is
iterative, so 5,000 levels of nesting cost time, never the interpreter's recursion limit.
"""

from __future__ import annotations

from lxml import etree

from redline.crawler.extract.text import normalise_text

_BREAKING = (
    "p h1 h2 h3 h4 h5 h6 li blockquote pre "
    "dd dt tr td th figcaption caption summary div section "
    "article main header footer aside nav ul ol dl table "
    "tbody thead details figure hr br address center"
)
BREAKING_TAGS = frozenset(_BREAKING.split())


def element_paragraphs(root: etree._Element) -> list[str]:
    """Paragraphs under `root`, in document order, normalised, empty ones dropped."""
    out: list[str] = []
    current: list[str] = []

    def flush() -> None:
        text = normalise_text("".join(current))
        current.clear()
        if text:
            out.append(text)

    for event, el in etree.iterwalk(root, events=("start", "end")):
        tag = el.tag if isinstance(el.tag, str) else None
        breaking = tag in BREAKING_TAGS
        if event == "start":
            if breaking:
                flush()
            if tag is not None and el.text:
                current.append(el.text)
        else:
            if breaking:
                flush()
            if el is not root and el.tail:
                current.append(el.tail)
    flush()
    return out
