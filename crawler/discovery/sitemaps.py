"""Sitemaps: urlset (with news:publication_date and lastmod) and sitemap indexes."""

from __future__ import annotations

from redline.crawler.discovery.base import (
    DiscoveredLink,
    Discovery,
    absolute_url,
    child_text,
    children,
    local_name,
    named_children,
    parse_time,
    parse_xml,
)
from redline.crawler.errors import DiscoveryError, Reason


def parse_sitemap(body: bytes, base_url: str, *, limit: int = 50_000) -> Discovery:
    """Article links of a urlset, or the child sitemaps of a sitemap index (at most `limit`)."""
    root = parse_xml(body)
    kind = local_name(root)
    if kind == "sitemapindex":
        urls: dict[str, None] = {}
        for entry in children(root, "sitemap"):
            url = absolute_url(child_text(entry, "loc"), base_url)
            if url is not None:
                urls[url] = None
                if len(urls) >= limit:
                    break
        return Discovery(sitemaps=tuple(urls))
    if kind != "urlset":
        raise DiscoveryError(Reason.PARSE_ERROR, f"not a sitemap: <{kind}>")
    found: dict[str, DiscoveredLink] = {}
    for entry in named_children(root, "url"):
        url = absolute_url(_text(entry, "loc"), base_url)
        if url is None or url in found:
            continue
        news = next(named_children(entry, "news"), None)
        found[url] = DiscoveredLink(
            url,
            title=child_text(news, "title") if news is not None else None,
            published=parse_time(child_text(news, "publication_date"))
            if news is not None
            else None,
            updated=parse_time(_text(entry, "lastmod")),
        )
        if len(found) >= limit:
            break
    return Discovery(links=tuple(found.values()))


def _text(entry, name: str) -> str | None:
    for child in named_children(entry, name):
        text = (child.text or "").strip()
        if text:
            return text
    return None
