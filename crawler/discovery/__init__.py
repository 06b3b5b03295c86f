"""Discovery: from a source's bytes to the article URLs it lists. Pure, bounded, XXE-safe.

    found = discover("feed", body, "https://example.com/feed.xml")
    found.links      # DiscoveredLink(url, title, published, updated), at most `limit`
    found.sitemaps   # child sitemaps of a sitemap index, for the caller to fetch next

Kinds follow `storage.SourceKind`: feed (RSS 2.0, RSS 1.0, Atom), sitemap (urlset, sitemap index,
news sitemap, gzip-compressed or not), page (a section or front page: links matching a regex),
live (a live-feed page: the page itself is the one article). No network, no clock: fetching
is the caller's job (through the egress gate), and so is canonicalising the URLs.
"""

from __future__ import annotations

import re

from redline.crawler.discovery.base import DiscoveredLink, Discovery
from redline.crawler.discovery.feeds import parse_feed
from redline.crawler.discovery.pages import parse_section_page
from redline.crawler.discovery.sitemaps import parse_sitemap
from redline.crawler.errors import DiscoveryError

DEFAULT_LIMITS = {"feed": 1000, "sitemap": 50_000, "page": 1000}


def page_links(body: bytes, base_url: str, pattern: str | re.Pattern[str] | None) -> list[str]:
    """Just the URLs of `parse_section_page`, in page order."""
    return [link.url for link in parse_section_page(body, base_url, pattern)]


def discover(
    kind: str,
    body: bytes,
    base_url: str,
    *,
    pattern: str | re.Pattern[str] | None = None,
    limit: int | None = None,
) -> Discovery:
    """Parse a source of `kind` ("feed", "sitemap", "page" or "live") fetched from `base_url`."""
    kind = str(kind)
    if kind == "live":
        return Discovery(links=(DiscoveredLink(base_url),))
    if kind not in DEFAULT_LIMITS:
        raise ValueError(f"unknown source kind {kind!r}")
    cap = DEFAULT_LIMITS[kind] if limit is None else limit
    if kind == "feed":
        return Discovery(links=parse_feed(body, base_url, limit=cap))
    if kind == "sitemap":
        return parse_sitemap(body, base_url, limit=cap)
    return Discovery(links=parse_section_page(body, base_url, pattern, limit=cap))


__all__ = [
    "DiscoveredLink",
    "Discovery",
    "DiscoveryError",
    "discover",
    "page_links",
    "parse_feed",
    "parse_section_page",
    "parse_sitemap",
]
