"""Discovery parsers: feeds, sitemaps, section pages; bounded and XXE-safe (SEC-18)."""

from __future__ import annotations

import gzip
import resource
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redline.crawler.discovery import (
    DiscoveredLink,
    DiscoveryError,
    discover,
    page_links,
    parse_feed,
    parse_sitemap,
)
from redline.crawler.discovery.pages import parse_section_page
from redline.crawler.errors import Reason
from redline.crawler.fetch_once import fetch_once
from redline.newsite import NewsSite

BASE = "https://news.example.com/feed.xml"


@pytest.fixture(scope="module")
def site():
    with NewsSite(articles=12) as running:
        yield running


def _get(site: NewsSite, path: str) -> bytes:
    return fetch_once(site.url(path), allow_private=True).body


def test_rss_feed_of_the_local_site(site):
    links = parse_feed(_get(site, "/feed.xml"), site.url("/feed.xml"))
    assert [link.url for link in links] == [site.url(a.path) for a in site.articles]
    first = site.articles[0]
    assert links[0].title == first.headline
    assert links[0].published == first.published.replace(microsecond=0)


def test_atom_feed_of_the_local_site(site):
    found = discover("feed", _get(site, "/atom.xml"), site.url("/atom.xml"))
    assert [link.url for link in found.links] == [site.url(a.path) for a in site.articles]
    assert found.links[0].updated == site.articles[0].updated


def test_sitemap_index_then_news_sitemap(site):
    index = discover("sitemap", _get(site, "/sitemap.xml"), site.url("/sitemap.xml"))
    assert index.links == ()
    assert index.sitemaps == (site.url("/sitemap-news.xml"), site.url("/sitemap-articles.xml"))
    news = discover("sitemap", _get(site, "/sitemap-news.xml"), index.sitemaps[0])
    first = site.articles[0]
    assert news.links[0] == DiscoveredLink(
        site.url(first.path), title=first.headline, published=first.published, updated=first.updated
    )
    assert len(news.links) == len(site.articles)


def test_section_page_links_matching_a_pattern(site):
    found = discover(
        "page",
        _get(site, "/"),
        site.url("/"),
        pattern=r"/(news|politics|business|world)/story-\d+$",
    )
    assert [link.url for link in found.links] == [site.url(a.path) for a in site.articles]
    assert found.links[0].title == site.articles[0].headline  # "#comments" links fold into it


def test_live_source_is_the_page_itself(site):
    assert discover("live", b"", site.url("/live")).links == (DiscoveredLink(site.url("/live")),)


def test_new_feed_item_appears_on_the_next_parse(site):
    article = site.add_article("Breaking: river bursts its banks", ["Water rose overnight."])
    links = parse_feed(_get(site, "/feed.xml"), site.url("/feed.xml"))
    assert links[0].url == site.url(article.path)


RSS = b"""<?xml version="1.0"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
<item><title>Relative</title><link>/news/a?utm_source=rss</link>
  <pubDate>Fri, 27 Nov 2026 10:00:00 +0100</pubDate></item>
<item><title>Guid only</title><guid>https://news.example.com/news/b</guid><dc:date>2026-11-27T08:00:00Z</dc:date></item>
<item><title>Not a permalink</title><guid isPermaLink="false">tag:x,2026:1</guid></item>
<item><title>Script</title><link>javascript:alert(1)</link></item>
<item><title>Duplicate</title><link>/news/a?utm_source=rss</link></item>
<item><title>Bad date</title><link>https://news.example.com/news/c#frag</link><pubDate>yesterday</pubDate></item>
</channel></rss>"""


def test_rss_details():
    links = parse_feed(RSS, BASE)
    assert [link.url for link in links] == [
        "https://news.example.com/news/a?utm_source=rss",
        "https://news.example.com/news/b",
        "https://news.example.com/news/c",
    ]
    assert links[0].published == datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    assert links[1].published == datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    assert links[2].published is None


def test_rss_1_rdf_and_atom_with_xml_base():
    rdf = b"""<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
      <item rdf:about="https://news.example.com/rdf-story"><title>R</title></item></rdf:RDF>"""
    assert [link.url for link in parse_feed(rdf, BASE)] == ["https://news.example.com/rdf-story"]
    atom = b"""<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://other.example.com/base/">
      <entry><link rel="edit" href="/edit/1"/><link href="story-1"/><title>A</title>
      <published>2026-11-27T10:00:00+02:00</published></entry></feed>"""
    (link,) = parse_feed(atom, BASE)
    assert link.url == "https://other.example.com/base/story-1"
    assert link.published == datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def test_gzipped_sitemap_and_limits():
    rows = "".join(f"<url><loc>https://news.example.com/s/{i}</loc></url>" for i in range(500))
    body = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{rows}</urlset>'.encode()
    assert len(parse_sitemap(gzip.compress(body), BASE).links) == 500
    assert len(parse_sitemap(body, BASE, limit=10).links) == 10
    assert len(discover("feed", RSS, BASE, limit=1).links) == 1


def test_gzip_bomb_sitemap_is_refused():
    bomb = gzip.compress(b"<urlset>" + b" " * (60 * 2**20))
    with pytest.raises(DiscoveryError) as info:
        parse_sitemap(bomb, BASE)
    assert info.value.reason is Reason.TOO_LARGE


@pytest.mark.parametrize(
    "body", [b"", b"not xml at all", b"<html><body>hi</body></html>", b"<urlset"]
)
def test_what_is_not_a_feed_is_a_parse_error(body):
    with pytest.raises(DiscoveryError) as info:
        parse_feed(body, BASE)
    assert info.value.reason is Reason.PARSE_ERROR


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        discover("carrier-pigeon", b"", BASE)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><item><title>&lol9;</title><link>https://news.example.com/x</link></item>
</channel></rss>"""


def test_billion_laughs_does_not_expand():
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.process_time()
    try:  # libxml2 stops at its amplification limit; recovery keeps what came before
        links = parse_feed(BILLION_LAUGHS, BASE)
    except DiscoveryError as exc:
        assert exc.reason is Reason.PARSE_ERROR
        links = ()
    assert all("lollol" not in (link.title or "") for link in links)
    assert time.process_time() - started < 2  # a bound, not a benchmark: expanded it takes minutes
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 50 * 1024  # KiB


def test_external_entities_and_dtds_are_never_fetched_or_read():
    with NewsSite(articles=1) as canary:
        body = f"""<?xml version="1.0"?>
<!DOCTYPE rss SYSTEM "{canary.url("/evil.dtd")}" [
  <!ENTITY file SYSTEM "file:///etc/passwd">
  <!ENTITY remote SYSTEM "{canary.url("/entity")}">
]>
<rss version="2.0"><channel><item><title>&file;&remote;</title>
<link>https://news.example.com/x</link></item></channel></rss>""".encode()
        (link,) = parse_feed(body, BASE)
        assert canary.requests == []
    assert "root:" not in (link.title or "")


def test_section_page_details():
    html = b"""<html><head><base href="https://news.example.com/section/"></head><body>
      <a href="story-1">First <b>story</b></a>
      <a href="story-1#comments"></a>
      <a href="/about">About</a>
      <a href="https://elsewhere.example.net/story-9">Elsewhere</a>
      <a href="javascript:void(0)">JS</a>
      <a href="mailto:desk@example.com">Mail</a>
      <a href="story-2?utm_source=home">Second</a>
    </body></html>"""
    links = parse_section_page(html, "https://news.example.com/", r"/story-\d")
    assert [(link.url, link.title) for link in links] == [  # the pattern decides, even off-site
        ("https://news.example.com/section/story-1", "First story"),
        ("https://elsewhere.example.net/story-9", "Elsewhere"),
        ("https://news.example.com/section/story-2?utm_source=home", "Second"),
    ]
    everything = parse_section_page(html, "https://news.example.com/", None)
    assert "https://elsewhere.example.net/story-9" not in [link.url for link in everything]
    assert "https://news.example.com/about" in [link.url for link in everything]
    assert parse_section_page(b"", "https://news.example.com/", None) == ()
    assert len(parse_section_page(html, "https://news.example.com/", None, limit=1)) == 1


XML_PIECES = st.sampled_from(
    [
        "<rss>", "</rss>", "<channel>", "<item>", "</item>", "<link>", "</link>", "<feed>",
        "<entry>", '<link href="', '"/>', "<urlset>", "<url>", "<loc>", "</loc>", "<lastmod>",
        "2026-13-45T99:00", "Fri, 31 Feb 2026", "http://a.example/x", "/rel", "javascript:x",
        "&amp;", "&bogus;", "<![CDATA[", "]]>", "<!DOCTYPE x [<!ENTITY e 'v'>]>", "\x00", "é",
    ]
)  # fmt: skip


@given(st.lists(XML_PIECES, max_size=30).map("".join), st.sampled_from(["feed", "sitemap", "page"]))
def test_parsers_never_fail_with_anything_but_discovery_error(text, kind):
    """FUZZ-04: hostile bytes give links or a DiscoveryError, never a crash."""
    try:
        found = discover(kind, text.encode("utf-8", "surrogatepass"), BASE, pattern=r"example")
    except DiscoveryError:
        return
    assert all(link.url.startswith(("http://", "https://")) for link in found.links)


def test_convenience_names(site):
    body = _get(site, "/")
    urls = page_links(body, site.url("/"), r"/story-\d+$")
    assert urls == [site.url(a.path) for a in site.articles if "/story-" in a.path]
    news = parse_sitemap(_get(site, "/sitemap-news.xml"), site.url("/sitemap-news.xml"))
    assert news.urls == news.links
    with pytest.raises(ValueError):  # a DiscoveryError is bad input to callers
        parse_feed(b"<html/>", BASE)
