"""Section and front pages: the links whose absolute URL matches the source's pattern."""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

from redline.crawler.discovery.base import DiscoveredLink, absolute_url
from redline.crawler.errors import DiscoveryError, Reason
from redline.crawler.urls import canonicalize, registrable_domain

MAX_HTML_BYTES = 20 * 2**20


def parse_section_page(
    body: bytes,
    base_url: str,
    pattern: str | re.Pattern[str] | None,
    *,
    limit: int = 1000,
) -> tuple[DiscoveredLink, ...]:
    """Links in page order whose absolute URL matches `pattern` (re.search); with no pattern,
    every link on the page's own site. One link per canonical URL; the first text seen wins."""
    if len(body) > MAX_HTML_BYTES:
        raise DiscoveryError(Reason.TOO_LARGE, f"page over {MAX_HTML_BYTES} bytes")
    matcher = re.compile(pattern) if isinstance(pattern, str) else pattern
    document = _parse_html(body)
    if document is None:
        return ()
    base = _base_href(document, base_url)
    site = registrable_domain(base_url)
    found: dict[str, DiscoveredLink] = {}
    for anchor in document.iter("a"):
        url = absolute_url(anchor.get("href"), base)
        if url is None or url == base_url:
            continue
        if matcher is not None and not matcher.search(url):
            continue
        if matcher is None and registrable_domain(url) != site:
            continue
        key = canonicalize(url)
        text = " ".join(anchor.text_content().split()) or None
        if key not in found:
            found[key] = DiscoveredLink(url, title=text)
            if len(found) >= limit:
                break
        elif found[key].title is None and text:
            found[key] = DiscoveredLink(found[key].url, title=text)
    return tuple(found.values())


def _parse_html(body: bytes):
    if not body.strip():
        return None
    parser = lxml.html.HTMLParser(no_network=True, huge_tree=False, remove_comments=True)
    try:
        return lxml.html.document_fromstring(body, parser=parser)
    except (etree.ParserError, ValueError):
        return None


def _base_href(document, base_url: str) -> str:
    for base in document.iter("base"):
        href = absolute_url(base.get("href"), base_url)
        if href is not None:
            return href
    return base_url
