"""RSS 2.0, RSS 1.0 (RDF) and Atom feeds to article links, newest information kept as given."""

from __future__ import annotations

from lxml import etree

from redline.crawler.discovery.base import (
    DiscoveredLink,
    absolute_url,
    child_text,
    children,
    local_name,
    parse_time,
    parse_xml,
)
from redline.crawler.errors import DiscoveryError, Reason

_PUBLISHED = ("published", "pubdate", "issued", "date", "created")
_UPDATED = ("updated", "modified")


def parse_feed(body: bytes, base_url: str, *, limit: int = 1000) -> tuple[DiscoveredLink, ...]:
    """Entries of an RSS or Atom feed, in feed order, at most `limit`, duplicates dropped."""
    root = parse_xml(body)
    kind = local_name(root)
    if kind == "rss":
        channel = next(iter(children(root, "channel")), root)
        entries = children(channel, "item")
    elif kind == "rdf":
        entries = children(root, "item")
    elif kind == "feed":
        base_url = _xml_base(root, base_url)
        entries = children(root, "entry")
    else:
        raise DiscoveryError(Reason.PARSE_ERROR, f"not a feed: <{kind}>")
    found: dict[str, DiscoveredLink] = {}
    for entry in entries:
        link = _atom_entry(entry, base_url) if kind == "feed" else _rss_item(entry, base_url)
        if link is not None and link.url not in found:
            found[link.url] = link
            if len(found) >= limit:
                break
    return tuple(found.values())


def _rss_item(item: etree._Element, base_url: str) -> DiscoveredLink | None:
    url = absolute_url(child_text(item, "link"), base_url)
    if url is None:
        url = absolute_url(item.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about"), base_url)
    if url is None:
        for guid in children(item, "guid"):
            if guid.get("isPermaLink", "true").lower() != "false":
                url = absolute_url("".join(guid.itertext()), base_url)
    if url is None:
        return None
    return DiscoveredLink(
        url,
        title=child_text(item, "title"),
        published=parse_time(child_text(item, *_PUBLISHED)),
        updated=parse_time(child_text(item, *_UPDATED)),
    )


def _atom_entry(entry: etree._Element, base_url: str) -> DiscoveredLink | None:
    base_url = _xml_base(entry, base_url)
    url = None
    for link in children(entry, "link"):
        if link.get("rel", "alternate") == "alternate":
            url = absolute_url(link.get("href"), base_url)
            if url is not None:
                break
    if url is None:
        return None
    return DiscoveredLink(
        url,
        title=child_text(entry, "title"),
        published=parse_time(child_text(entry, *_PUBLISHED)),
        updated=parse_time(child_text(entry, *_UPDATED)),
    )


def _xml_base(element: etree._Element, base_url: str) -> str:
    declared = element.get("{http://www.w3.org/XML/1998/namespace}base")
    return absolute_url(declared, base_url) or base_url if declared else base_url
