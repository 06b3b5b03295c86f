"""A bounded tree for trafilatura: a page's size no longer decides how long trafilatura takes.

trafilatura's cost is not linear in its input. Its main pass asks libxml2 for `//p//text()`,
and libxml2 merges the node sets of that path with a duplicate check against every node already
found: the query costs the square of the nodes under paragraphs (64,000 `<div><p>x</p></div>`
blocks, 1.2 MB: 2.9 s a query, twice an extraction). Worse, lxml's strip_tags leaves runs of
text nodes that libxml2 keeps apart: a paragraph of 8,000 `<b>` words, once trafilatura has
unwrapped them, costs 2 s a query. So wide pages took time growing with the square of their size
(600 KB of tiny blocks 3.6 s, 1.2 MB 9.7 s, 2 MB 26 s).

bound_tree() gives trafilatura a tree within two bounds, and every other stage is linear, so
extraction time per byte is bounded:

- no paragraph holds over MAX_INLINE elements, no element over MAX_INLINE inline or void
  children: a crowded one has its inline markup unwrapped, its text kept in one text node;
- no more than MAX_ELEMENTS elements: above that, the blocks holding the most text stay (the
  others are removed, the text around them kept), then, if inline markup still makes too many,
  all of it is unwrapped. Text decides, not repetition: an article's paragraphs among thousands
  of small blocks stay whatever those blocks say.

Measured on the 91-page corpus, as trees reach this stage (furniture cut): at most 760
elements, 75 inline or void children of one element, 32 elements in one paragraph. The bounds
are over ten times that: no real page is touched (its extraction is byte for byte the same).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from lxml import etree
from lxml import html as lxml_html

MAX_ELEMENTS = 10_000  # 13 times the corpus's largest tree at this stage (760 elements)
MAX_INLINE = 1_000  # 13 times the corpus's most inline children of an element (75)


def _names(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Phrasing elements: unwrapped (text kept in place), never removed; void elements go when
# unwrapping (a <br> as a line break). Everything else is a block, removed whole when it holds
# too little text.
INLINE = _names(
    "a abbr acronym b bdi bdo big cite code data del dfn em font i ins kbd mark nobr q s samp "
    "small span strike strong sub sup tt u var"
)
_VOID = _names("br wbr img input embed source track area col param keygen")
_KEPT = frozenset(("html", "body"))
# Positional predicates: libxml2 stops at the (n+1)-th node, so on an ordinary page each query
# is one pass over the tree's nodes in C (a fraction of a millisecond).
_TEXT_NODES = etree.XPath("count(text())")  # not text(): lxml finds each one's parent walking back


@lru_cache(maxsize=8)
def _runs(n: int) -> etree.XPath:
    """Elements of over `n` text nodes: a run among them (more text nodes than a parse gives,
    one per child and one) is left by cutting elements out with their tails kept
    (furniture.drop_invisible) or unwrapping them (lxml's strip_tags)."""
    return etree.XPath(f"descendant-or-self::*[text()[{n + 1}]]")


@lru_cache(maxsize=8)
def _busy(limit: int, n: int) -> etree.XPath:
    """Any sign of a tree over the bounds: more than `limit` elements, an element of more than
    `n` child nodes, a paragraph of more than `n` nodes."""
    return etree.XPath(
        f"descendant-or-self::*[{limit + 1}] | descendant-or-self::*[node()[{n + 1}]]"
        f" | descendant::p[descendant::node()[{n + 1}]]"
    )


_PARSER = etree.HTMLParser(
    collect_ids=False, default_doctype=False, remove_comments=True, remove_pis=True
)
_PARSER.set_element_class_lookup(etree.ElementDefaultClassLookup(element=lxml_html.HtmlElement))
_COUNT = etree.XPath("count(descendant-or-self::*)")
_CROWDED = etree.XPath(
    "descendant-or-self::p[count(descendant::*) > $n] | descendant-or-self::*[count(*) > $n]"
)


def element_count(root: etree._Element) -> int:
    """Elements in `root`, itself included: counted in C."""
    return int(_COUNT(root))


def _text_sizes(root: etree._Element) -> tuple[list[etree._Element], list[int]]:
    """Every element under `root` (in document order) and the characters of text it holds
    (text and tails, each stripped; comments hold none): one walk, whatever the nesting."""
    elements: list[etree._Element] = []
    sizes: list[int] = []
    open_: list[int] = []  # indices of the elements open at this point of the walk
    for event, el in etree.iterwalk(root, events=("start", "end")):
        if event == "start":
            open_.append(len(sizes))
            elements.append(el)
            sizes.append(len(el.text.strip()) if el.text and isinstance(el.tag, str) else 0)
            continue
        size = sizes[open_.pop()]
        if open_:
            sizes[open_[-1]] += size + (len(el.tail.strip()) if el.tail else 0)
    return elements, sizes


def _join_tails(parent: etree._Element, before: etree._Element | None, tails: list[str]) -> None:
    joined = "\n" + "\n".join(tails)
    if before is None:
        parent.text = (parent.text or "") + joined
    else:
        before.tail = (before.tail or "") + joined


def _remove(doomed: list[etree._Element]) -> None:
    """Remove these elements (an element's descendants come with it), keeping their tails: the
    tails of a run of removed siblings join, a line apart, onto the element before the run."""
    chosen = set(doomed)
    parents: dict[etree._Element, None] = {}
    for el in doomed:
        parent = el.getparent()
        if parent is not None and parent not in chosen:
            parents.setdefault(parent)
    for parent in parents:
        tails: list[str] = []
        before: etree._Element | None = None
        for child in list(parent):
            if child in chosen:
                if child.tail and not child.tail.isspace():
                    tails.append(child.tail)
                parent.remove(child)  # its tail goes with it: kept in `tails`
                continue
            if tails:
                _join_tails(parent, before, tails)
                tails = []
            before = child
        if tails:
            _join_tails(parent, before, tails)


def _unwraps(el: etree._Element) -> bool:
    """Inline markup or a void element (a <br>, an image): read through."""
    tag = el.tag
    return isinstance(tag, str) and (tag in INLINE or tag in _VOID)


def _unwrap(block: etree._Element) -> None:
    """Unwrap the inline markup under `block` (void elements go, a <br> as a line break): its
    text stays in place, its blocks become the block's children. Built as lists of strings and
    set once per text: lxml's strip_tags leaves runs of text nodes, which libxml2 keeps apart
    (trafilatura's `//p//text()` then finds each) and lxml reads back in quadratic time."""
    if not any(_unwraps(child) for child in block):
        return
    lead: list[str] = [block.text or ""]
    kept: list[tuple[etree._Element, list[str]]] = []
    current = lead
    stack: list[tuple[Iterator[etree._Element], etree._Element | None]] = [(iter(block), None)]
    while stack:
        children, owner = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if owner is not None:
                current.append(owner.tail or "")
            continue
        if _unwraps(child):
            current.append("\n" if child.tag == "br" else child.text or "")
            stack.append((iter(child), child))
            continue
        current = [child.tail or ""]
        kept.append((child, current))
    for child in list(block):
        block.remove(child)
    block.text = "".join(lead)
    for child, tail in kept:
        block.append(child)
        child.tail = "".join(tail)


def merge_runs(root: etree._Element, crowd: int = MAX_INLINE) -> None:
    """Parse an <html> tree again when it holds a run of over `crowd` text nodes: the parse
    joins them. Serialising reads each node once; lxml reads a run back in quadratic time."""
    if root.tag != "html" or not any(
        _TEXT_NODES(el) > len(el) + 1 + crowd for el in _runs(crowd)(root)
    ):
        return
    fresh = etree.fromstring(etree.tostring(root, method="html", encoding="unicode"), _PARSER)
    if fresh is None or fresh.tag != "html":
        return
    for child in list(root):
        root.remove(child)
    root.text = fresh.text
    root.extend(list(fresh))


def _unwrap_crowds(root: etree._Element, crowd: int) -> None:
    """Unwrap the inline markup of every paragraph holding over `crowd` elements and of every
    element with over `crowd` inline children: their text stays, in place."""
    for el in _CROWDED(root, n=crowd):
        if el.tag == "p" or sum(map(_unwraps, el)) > crowd:
            _unwrap(el)


def bound_tree(root: etree._Element, limit: int = MAX_ELEMENTS, crowd: int = MAX_INLINE) -> int:
    """Thin `root` in place to at most `limit` elements, none of them a paragraph of more than
    `crowd` elements nor an element of more than `crowd` inline children; the number of
    elements removed or unwrapped (0 when the tree is within both bounds: then it is untouched).

    First runs of text nodes are joined (merge_runs) and crowded paragraphs and elements lose
    their inline markup (_unwrap_crowds). Then, on a
    tree still over `limit`, the blocks holding the most text stay: a floor is set at one more
    character than the (limit+1)-th largest block, so at most `limit` blocks hold that much;
    blocks under it go (html and body stay) and, while inline markup still leaves too many
    elements, all of it is unwrapped. Linear in the size of the tree; on a tree within bounds,
    one query in C (_busy).
    """
    if not _busy(limit, crowd)(root):
        return 0
    before = element_count(root)
    merge_runs(root, crowd)
    _unwrap_crowds(root, crowd)
    if element_count(root) <= limit:
        return before - element_count(root)
    elements, sizes = _text_sizes(root)
    blocks = [
        (el, size)
        for el, size in zip(elements, sizes, strict=True)
        if el is not root and (not isinstance(el.tag, str) or el.tag not in INLINE)
    ]
    if len(blocks) > limit:
        floor = sorted((size for _, size in blocks), reverse=True)[limit] + 1
        _remove([el for el, size in blocks if size < floor and el.tag not in _KEPT])
    if element_count(root) > limit:
        for block in [el for el in root.iter() if not _unwraps(el)]:
            _unwrap(block)
    return before - element_count(root)
