"""What extraction remembers about one article, to re-check it cheaply next time.

After a full extraction we learn the lowest element that holds (nearly) all of the body, a CSS
selector that finds exactly that element, a selector for the headline, and a fingerprint of their
text plus the declared dates and authors. A later version whose fingerprint is the same has an
unchanged article, whatever moved around it, and the previous Page is reused (a fraction of what
a full extraction costs). Blocks inside the container whose text changed while the Page did not
are remembered as volatile and left out of the fingerprint, and their text out of the body.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, replace

from selectolax.lexbor import LexborHTMLParser, LexborNode

from redline.crawler.extract.text import normalise_text
from redline.storage.model import Page

MEMORY_FORMAT = 1
_COVER = 0.9
_NOT_TEXT = frozenset({"script", "style", "noscript", "template", "textarea"})
_MIN_CHUNK = 3  # shorter text nodes match anywhere in the body
_MAX_ITEMS = 1000
_SUSPECT_CHANGES = 2  # a block must change at this many checks in a row to be learnt
_DECLARED = re.compile(r'"(?:datePublished|dateModified|headline)"\s*:\s*"([^"]{0,300})"')
_DECLARED_META = (
    'meta[property="article:published_time"], meta[property="article:modified_time"], '
    'meta[name="author"], meta[property="og:title"], meta[name="twitter:title"]'
)
# The <title> too: the page's title (Page.title) comes from it where og:title is missing.
_DECLARED_NODES = 'script[type="application/ld+json"], head > title, ' + _DECLARED_META


@dataclass(frozen=True, slots=True)
class ArticleMemory:
    """Opaque to the store: kept as text through to_json()/from_json()."""

    container: str | None = None
    headline: str | None = None
    fingerprint: str | None = None
    blocks: dict[str, str] = field(default_factory=dict)  # signature -> text hash (last version)
    volatile: tuple[str, ...] = ()  # block signatures learnt to be furniture
    suspects: dict[str, int] = field(default_factory=dict)  # signature -> changes in a row
    items: dict[str, str] = field(default_factory=dict)  # time+text -> first-seen item key
    format: int = MEMORY_FORMAT

    def to_json(self) -> str:
        data = asdict(self)
        data["volatile"] = list(self.volatile)
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ArticleMemory:
        """Forgiving: an unreadable or older memory is an empty one (costs one full extraction)."""
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("format") != MEMORY_FORMAT:
                return cls()
            return cls(
                container=data.get("container"),
                headline=data.get("headline"),
                fingerprint=data.get("fingerprint"),
                blocks=dict(data.get("blocks") or {}),
                volatile=tuple(data.get("volatile") or ()),
                suspects=dict(data.get("suspects") or {}),
                items=dict(data.get("items") or {}),
            )
        except (ValueError, TypeError):
            return cls()


def _digest(parts: list[str]) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


def block_signature(node: LexborNode) -> str | None:
    """A block's name across versions: tag and class, for blocks that carry a class."""
    cls = (node.attributes.get("class") or "").strip()
    return f"{node.tag}.{'.'.join(sorted(cls.split()))}" if cls else None


def _volatile_nodes(container: LexborNode, volatile: tuple[str, ...]) -> list[LexborNode]:
    if not volatile:
        return []
    wanted = set(volatile)
    return [n for n in container.traverse() if n.is_element_node and block_signature(n) in wanted]


def _squash(text: str) -> str:
    """Whitespace-insensitive form for fingerprints only: cheaper than full normalisation, and a
    difference it keeps (say NFD for NFC) costs one full extraction, never a missed change."""
    return " ".join(text.split())


def container_text(container: LexborNode, volatile: tuple[str, ...]) -> str:
    skip = {n.mem_id for n in _volatile_nodes(container, volatile)}
    if not skip:
        return _squash(container.text(deep=True, separator=" "))
    parts = []
    for node in container.iter(include_text=False):
        if node.mem_id not in skip:
            parts.append(node.text(deep=True, separator=" "))
    return _squash(" ".join(parts))


def volatile_texts(tree: LexborHTMLParser, memory: ArticleMemory | None) -> frozenset[str]:
    """Normalised texts of the blocks memory knows to be volatile: dropped from the body."""
    if memory is None or not memory.volatile or not memory.container:
        return frozenset()
    found = tree.css(memory.container)
    if len(found) != 1:
        return frozenset()
    return frozenset(
        normalise_text(n.text(deep=True, separator=" "))
        for n in _volatile_nodes(found[0], memory.volatile)
    )


def fingerprint(
    tree: LexborHTMLParser, memory: ArticleMemory, container: LexborNode | None = None
) -> str | None:
    """Hash of the article's own region, or None when the remembered selectors do not fit.
    `container`: the element `memory.container` selects, when the caller has it at hand."""
    if not memory.container:
        return None
    found = [container] if container is not None else tree.css(memory.container)
    if len(found) != 1:
        return None
    parts = [container_text(found[0], memory.volatile)]
    if memory.headline:
        heads = tree.css(memory.headline)
        if len(heads) != 1:
            return None
        parts.append(_squash(heads[0].text(deep=True, separator=" ")))
    for node in tree.css(_DECLARED_NODES):  # one pass for both kinds, in document order
        if node.tag == "script":
            parts.extend(m.group(1) for m in _DECLARED.finditer(node.text(deep=True) or ""))
        elif node.tag == "title":
            parts.append(_squash(node.text(deep=True)))
        else:
            parts.append(node.attributes.get("content") or "")
    return _digest(parts)


_FRAGMENT = "\x1f"  # between text nodes when a subtree's text is read in one call


def _matched(texts: list[str], output: str, words: frozenset[str]) -> int:
    """Characters of these text nodes that appear in the body (short or absent text adds 0).

    A text found in the body has its inner words among the body's whole words: checking one
    word in a set rejects most furniture text without searching the body for it. One loop
    over a subtree's text nodes, not a call per node: this runs for every node of the page.
    """
    total = 0
    for raw in texts:
        if len(raw) < _MIN_CHUNK or raw.isspace():  # most are indentation between tags
            continue
        split = raw.split()
        if len(split) >= 3 and split[1] not in words:
            continue
        text = " ".join(split)  # cheap; exact enough to locate
        if len(text) >= _MIN_CHUNK and text in output:
            total += len(text)
    return total


# Deeper than this, a subtree is weighed as one block of text: the recursion below stays far
# from Python's limit whatever the page's nesting (extraction flattens deep pages anyway).
_MAX_DEPTH = 300


def _weigh(
    node: LexborNode,
    output: tuple[str, frozenset[str]],
    least: float,
    weight: dict[int, tuple[int, int, LexborNode]],
    depth: int = 0,
) -> int:
    """Body characters under `node`, recorded for every element that may reach `least`.

    A child subtree holding less text than `least` cannot cover the body: its text nodes are
    read in one call and only summed, instead of being visited one by one. And only when no
    deeper element covers the body: then `node` cannot be the lowest that does, and whether it
    covers is known without them (the menus, headers and sidebars beside the article's
    ancestors are never searched for).
    """
    total = 0
    small: list[str] = []  # the text nodes of `node` and of its small children
    for child in node.iter(include_text=True):
        if child.is_text_node:
            if node.tag not in _NOT_TEXT:
                small.append(child.text_content or "")
        elif child.tag not in _NOT_TEXT:
            text = child.text(deep=True, separator=_FRAGMENT)
            if len(text) >= least and depth < _MAX_DEPTH:
                total += _weigh(child, output, least, weight, depth + 1)
            else:
                small.extend(text.split(_FRAGMENT))
    if total < least:  # nothing below covers the body: does this element, with the rest?
        total += _matched(small, *output)
    weight[node.mem_id] = (total, depth, node)
    return total


def find_container(tree: LexborHTMLParser, body: tuple[str, ...]) -> LexborNode | None:
    """The lowest element holding at least 90% of the body's text.

    Each text node that appears in the extracted body adds its length to all its ancestors.
    """
    output = "\n".join(body)
    total = len(output) - len(body) + 1
    if not body or tree.body is None:
        return None
    least = _COVER * total
    weight: dict[int, tuple[int, int, LexborNode]] = {}
    body_node = tree.body
    _weigh(body_node, (output, frozenset(output.split())), least, weight)
    covering = [(d, n) for k, (w, d, n) in weight.items() if w >= least and k != body_node.mem_id]
    return max(covering, key=lambda found: found[0])[1] if covering else None


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unique(tree: LexborHTMLParser, css: str, node: LexborNode) -> bool:
    try:
        found = tree.css(css)
    except Exception:
        return False
    return len(found) == 1 and found[0].mem_id == node.mem_id


def _own_selector(tree: LexborHTMLParser, node: LexborNode) -> str | None:
    ident = node.attributes.get("id")
    if ident and _unique(tree, f"{node.tag}[id={_quote(ident)}]", node):
        return f"{node.tag}[id={_quote(ident)}]"
    cls = node.attributes.get("class")
    if cls and _unique(tree, f"{node.tag}[class={_quote(cls)}]", node):
        return f"{node.tag}[class={_quote(cls)}]"
    return None


def _step(node: LexborNode) -> str:
    index, sibling = 1, node.prev
    while sibling is not None:
        if sibling.tag == node.tag:
            index += 1
        sibling = sibling.prev
    return f"{node.tag}:nth-of-type({index})"


def selector_for(tree: LexborHTMLParser, node: LexborNode, max_steps: int = 8) -> str | None:
    """A CSS selector that matches exactly this node: its id or class, else a short path
    of :nth-of-type steps down from the nearest ancestor that has one (or from <body>)."""
    steps: list[str] = []
    current: LexborNode | None = node
    while current is not None and len(steps) <= max_steps:
        is_root = current.tag in ("body", "html")
        anchor = current.tag if is_root else _own_selector(tree, current)
        if anchor:
            css = " > ".join([anchor, *reversed(steps)])
            return css if _unique(tree, css, node) else None
        steps.append(_step(current))
        current = current.parent
    return None


def headline_selector(
    tree: LexborHTMLParser, headline: str, heading: LexborNode | None = None
) -> str | None:
    """A selector for the element showing the headline: `heading` when extraction found it,
    else the first <h1> (or <h2>) that reads as the headline."""
    wanted = normalise_text(headline)
    if not wanted:
        return None
    nodes = [heading] if heading is not None else (*tree.tags("h1"), *tree.tags("h2"))
    for node in nodes:
        if normalise_text(node.text(deep=True, separator=" ")) == wanted:
            tag = node.tag or ""
            return selector_for(tree, node) or (tag if len(tree.tags(tag)) == 1 else None)
    return None


def block_texts(container: LexborNode) -> dict[str, str]:
    """Text of each small classed block that occurs once in the container.

    Only blocks holding under a fifth of the container's text are candidates, and only classes
    used once: a wrapper around the article, or the class of every paragraph, is never furniture.
    """
    limit = len(normalise_text(container.text(deep=True, separator=" "))) // 5
    once: dict[str, LexborNode] = {}
    repeated: set[str] = set()
    for node in container.traverse():
        if not node.is_element_node or node.mem_id == container.mem_id:
            continue
        sig = block_signature(node)
        if not sig or sig in repeated:
            continue
        if sig in once:
            repeated.add(sig)
            continue
        once[sig] = node
    out = {}
    for sig, node in once.items():  # text read only for the classes used once
        if sig not in repeated:
            text = normalise_text(node.text(deep=True, separator=" "))
            if len(text) <= limit:
                out[sig] = text
    return out


def _hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def _explained(page: Page, previous: Page, texts: list[str]) -> bool:
    """Do the changed blocks account for every difference between the two Pages?"""
    same_fields = (page.headline, page.byline, page.published, page.updated, page.items) == (
        previous.headline,
        previous.byline,
        previous.published,
        previous.updated,
        previous.items,
    )
    if not same_fields:
        return False
    before, after = set(previous.body), set(page.body)
    added = [p for p in page.body if p not in before]
    removed = [p for p in previous.body if p not in after]
    inside = all(any(p in t for t in texts) for p in added)
    return inside and len(removed) <= len(added) + len(texts)


def learn(
    tree: LexborHTMLParser,
    page: Page,
    before: ArticleMemory | None,
    previous: Page | None,
    items: dict[str, str],
    heading: LexborNode | None = None,
) -> ArticleMemory:
    """The memory to keep after a full extraction of this version (`heading`: the element
    showing the headline, when extraction found it)."""
    volatile = set(before.volatile) if before else set()
    suspects: dict[str, int] = {}
    node = find_container(tree, page.body)
    container = selector_for(tree, node) if node is not None else None
    texts = block_texts(node) if node is not None and container else {}
    blocks = {s: _hash(t) for s, t in texts.items()}
    if before is not None and previous is not None and before.container == container:
        changed = [s for s, h in blocks.items() if s in before.blocks and before.blocks[s] != h]
        if changed and _explained(page, previous, [texts[s] for s in changed]):
            for sig in changed:
                suspects[sig] = before.suspects.get(sig, 0) + 1
                if suspects[sig] >= _SUSPECT_CHANGES or page == previous:
                    volatile.add(sig)
    memory = ArticleMemory(
        container=container,
        headline=headline_selector(tree, page.headline, heading),
        blocks=blocks,
        volatile=tuple(sorted(volatile)),
        suspects=suspects,
        items=dict(list({**(before.items if before else {}), **items}.items())[-_MAX_ITEMS:]),
    )
    # The container's selector names `node` alone (selector_for checks it): no need to run it.
    return replace(memory, fingerprint=fingerprint(tree, memory, node if container else None))
