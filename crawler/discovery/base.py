"""What discovery returns, and the safe XML parsing every XML source shares.

XML from the web is hostile input: the parser never resolves entities (XXE, billion laughs),
never touches the network (external DTDs), keeps libxml2's size limits (huge_tree=False), and
gzip-compressed sitemaps are inflated only up to the sitemap protocol's 50 MB.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urldefrag, urljoin, urlsplit

from lxml import etree

from redline.crawler.errors import DiscoveryError, Reason

MAX_URL_LENGTH = 2048
MAX_XML_BYTES = 50 * 2**20  # sitemaps.org: at most 50 MB uncompressed


@dataclass(frozen=True, slots=True)
class DiscoveredLink:
    """One article URL a source listed, with what the source said about it."""

    url: str
    title: str | None = None
    published: datetime | None = None  # UTC
    updated: datetime | None = None  # UTC (a sitemap's lastmod)


@dataclass(frozen=True, slots=True)
class Discovery:
    links: tuple[DiscoveredLink, ...] = ()
    sitemaps: tuple[str, ...] = ()  # child sitemaps listed by a sitemap index

    @property
    def urls(self) -> tuple[DiscoveredLink, ...]:
        """Another name for `links` (the daemon's first wiring used it)."""
        return self.links


def parse_xml(body: bytes) -> etree._Element:
    """The root element, parsed without entities, DTDs or network; broken XML is recovered."""
    data = inflate_if_gzip(body).lstrip(b"\xef\xbb\xbf \t\r\n")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        recover=True,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise DiscoveryError(Reason.PARSE_ERROR, f"not XML: {exc}") from exc
    if root is None:
        raise DiscoveryError(Reason.PARSE_ERROR, "not XML: empty document")
    return root


def inflate_if_gzip(body: bytes, limit: int = MAX_XML_BYTES) -> bytes:
    """sitemap.xml.gz served without Content-Encoding: inflate it, at most `limit` bytes."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise DiscoveryError(Reason.DECODE_ERROR, f"corrupt gzip: {exc}") from exc
    if len(data) > limit:
        raise DiscoveryError(Reason.TOO_LARGE, f"more than {limit} bytes once inflated")
    return data


def local_name(element: etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].lower()


def children(element: etree._Element, name: str) -> list[etree._Element]:
    """Children called `name` in any namespace (case-insensitive: feeds in the wild vary)."""
    return [child for child in element if local_name(child) == name]


def named_children(element: etree._Element, name: str):
    """Children called exactly `name`, in any namespace: the fast path for large sitemaps."""
    return element.iterchildren(f"{{*}}{name}")


def child_text(element: etree._Element, *names: str) -> str | None:
    """Text of the first child with one of `names` (namespace ignored), stripped."""
    for name in names:
        for child in children(element, name):
            text = "".join(child.itertext()).strip()
            if text:
                return text
    return None


def absolute_url(href: str | None, base_url: str) -> str | None:
    """An absolute http(s) URL without fragment, or None for anything else."""
    if not href:
        return None
    href = href.strip()
    if not href or len(href) > MAX_URL_LENGTH:
        return None
    absolute = href[:8].lower() == "https://" or href[:7].lower() == "http://"
    if absolute and not any(c in href for c in "#\\\t\r\n"):
        return href  # the common case, without urljoin's cost (50,000 per sitemap)
    try:
        url = urldefrag(urljoin(base_url, href)).url
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


def parse_time(text: str | None) -> datetime | None:
    """ISO 8601 (Atom, sitemaps) or RFC 822 (RSS) to an aware UTC datetime; None if neither."""
    if not text:
        return None
    text = text.strip()
    moment: datetime | None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
