"""What extraction learns about a whole site: recirculation blocks inside its articles.

Some furniture sits inside the article, looks like text, and differs on every article: a
"story card" linking to another article of the site, with a plain class name. One page cannot
tell it apart; the site can. A block whose name (tag and class) recurs inside the articles of
a site, with different text each time, and that is mostly a link elsewhere, is recirculation,
not reporting. Only link-dominated blocks are considered, so a standfirst or a lede paragraph
(different on every article too, but not a link) is never learnt this way.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from selectolax.lexbor import LexborNode

from redline.crawler.extract.memory import block_signature
from redline.crawler.extract.text import normalise_text

SITE_FORMAT = 1
_MIN_ARTICLES = 3  # seen in this many articles, with this many different texts
_LINK_SHARE = 0.6  # at least this share of the block's text is link text
_MAX_WORDS = 40
_KEEP = 8  # article and text hashes kept per signature
_MAX_SIGNATURES = 400


@dataclass(frozen=True, slots=True)
class SiteMemory:
    """Opaque to the store: one per site, kept as text through to_json()/from_json()."""

    seen: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    furniture: tuple[str, ...] = ()
    format: int = SITE_FORMAT

    def to_json(self) -> str:
        data = {"seen": self.seen, "furniture": list(self.furniture), "format": self.format}
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> SiteMemory:
        """Forgiving: unreadable or older memory is an empty one."""
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("format") != SITE_FORMAT:
                return cls()
            seen = {
                str(sig): {"a": list(entry["a"]), "t": list(entry["t"])}
                for sig, entry in dict(data.get("seen") or {}).items()
            }
            return cls(seen=seen, furniture=tuple(str(s) for s in data.get("furniture") or ()))
        except (ValueError, TypeError, KeyError):
            return cls()


def _hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def link_blocks(container: LexborNode) -> dict[str, str]:
    """Classed blocks in the container that are short and mostly a link: signature -> text."""
    out: dict[str, str] = {}
    for node in container.traverse():
        if not node.is_element_node or node.mem_id == container.mem_id:
            continue
        sig = block_signature(node)
        if not sig or sig in out or node.tag == "a":
            continue
        text = normalise_text(node.text(deep=True, separator=" "))
        if not text or len(text.split()) > _MAX_WORDS:
            continue
        linked = sum(len(normalise_text(a.text(deep=True, separator=" "))) for a in node.css("a"))
        if linked >= _LINK_SHARE * len(text):
            out[sig] = text
    return out


def furniture_texts(container: LexborNode, site: SiteMemory | None) -> frozenset[str]:
    """Texts of the blocks this site's memory knows to be recirculation."""
    if site is None or not site.furniture:
        return frozenset()
    known = set(site.furniture)
    return frozenset(t for s, t in link_blocks(container).items() if s in known)


def observe(site: SiteMemory | None, article: str, container: LexborNode) -> SiteMemory:
    """The site memory after seeing one more version of one article."""
    seen = {
        sig: {"a": list(e["a"]), "t": list(e["t"])}
        for sig, e in (site.seen if site else {}).items()
    }
    key = _hash(article)
    for sig, text in link_blocks(container).items():
        entry = seen.pop(sig, {"a": [], "t": []})  # re-inserted last: most recently seen
        for name, value in (("a", key), ("t", _hash(text))):
            if value not in entry[name]:
                entry[name] = [*entry[name], value][-_KEEP:]
        seen[sig] = entry
    while len(seen) > _MAX_SIGNATURES:
        seen.pop(next(iter(seen)))
    furniture = tuple(
        sorted(
            s
            for s, e in seen.items()
            if len(e["a"]) >= _MIN_ARTICLES and len(e["t"]) >= _MIN_ARTICLES
        )
    )
    return SiteMemory(seen=seen, furniture=furniture)
