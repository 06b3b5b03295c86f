"""Live-feed items from JSON-LD, from the generic detector, and keys that survive edits."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from redline.crawler.extract import extract
from redline.storage.model import PageKind

URL = "https://news.example/live/budget"


def _live_blog(updates: list[dict]) -> str:
    data = {
        "@context": "https://schema.org",
        "@type": "LiveBlogPosting",
        "headline": "Budget day: live",
        "datePublished": "2026-03-10T08:00:00Z",
        "liveBlogUpdate": updates,
    }
    return f"""<html><head><title>Budget day: live | News</title>
<script type="application/ld+json">{json.dumps(data)}</script></head>
<body><h1>Budget day: live</h1><p>Follow the budget debate as it happens today.</p></body></html>"""


def test_json_ld_live_blog_updates_become_items() -> None:
    page = extract(
        _live_blog(
            [
                {
                    "@type": "BlogPosting",
                    "@id": "#post-2",
                    "headline": "Vote passes",
                    "articleBody": "The council approved the budget 7-2.",
                    "datePublished": "2026-03-10T10:15:00+01:00",
                    "dateModified": "2026-03-10T10:40:00+01:00",
                },
                {
                    "@type": "BlogPosting",
                    "headline": "Debate opens",
                    "articleBody": "Members took their seats.",
                    "datePublished": "2026-03-10T08:05:00Z",
                },
            ]
        ),
        URL,
    ).page
    assert page.kind is PageKind.LIVE
    assert page.headline == "Budget day: live"
    first, second = page.items
    assert first.key == "id:#post-2"
    assert first.time == datetime(2026, 3, 10, 9, 15, tzinfo=UTC)
    assert first.updated == "Updated: 2026-03-10T09:40:00+00:00"
    assert second.key.startswith("t:") and second.updated is None
    assert second.text == "Members took their seats."


def test_derived_keys_are_stable_and_unique() -> None:
    updates = [
        {"headline": "Same", "articleBody": "one", "datePublished": "2026-03-10T08:05:00Z"},
        {"headline": "Same", "articleBody": "two", "datePublished": "2026-03-10T08:05:00Z"},
    ]
    first = extract(_live_blog(updates), URL).page
    again = extract(_live_blog(updates), URL).page
    assert [i.key for i in first.items] == [i.key for i in again.items]
    assert len({i.key for i in first.items}) == 2


def test_memory_keeps_a_derived_key_when_the_headline_is_edited() -> None:
    update = {
        "headline": "Vote pases",
        "articleBody": "Approved 7-2.",
        "datePublished": "2026-03-10T10:15:00Z",
    }
    first = extract(_live_blog([update]), URL)
    fixed = extract(
        _live_blog([{**update, "headline": "Vote passes"}]),
        URL,
        memory=first.memory,
        previous=first.page,
    )
    assert fixed.page.items[0].headline == "Vote passes"
    assert fixed.page.items[0].key == first.page.items[0].key


ENTRY = '<article{}><time datetime="2026-05-01T{}:00Z">{}</time><h3>{}</h3><p>{}</p></article>'
GENERIC = (
    '<html><body><h1>Election night</h1><div class="stream">'
    + ENTRY.format("", "21:00", "21:00", "Polls close", "Counting begins.")
    + ENTRY.format(' id="e2"', "21:30", "21:30", "First result", "North district declares.")
    + ENTRY.format("", "22:00", "22:00", "Turnout (Updated 22:10)", "Turnout is 61%.")
    + "</div></body></html>"
)


def test_generic_detector_finds_a_timestamped_list() -> None:
    page = extract(GENERIC, URL).page
    assert page.kind is PageKind.LIVE
    assert [i.headline for i in page.items] == ["Polls close", "First result", "Turnout"]
    assert page.items[1].key == "id:e2"
    assert page.items[2].updated == "(Updated 22:10)"
    assert page.items[0].text == "Counting begins."
    assert page.items[0].time == datetime(2026, 5, 1, 21, 0, tzinfo=UTC)


def test_a_sidebar_feed_on_an_article_page_is_not_items() -> None:
    body = "".join(
        f"<p>Paragraph {n} of the article tells the reader a long story about the council.</p>"
        for n in range(12)
    )
    html = GENERIC.replace(
        '<div class="stream">', f'<article class="main">{body}</article><div class="stream">'
    )
    page = extract(html, URL).page
    assert page.kind is PageKind.ARTICLE
    assert page.items == ()
    assert "Counting begins." not in page.text


def test_parts_of_an_article_that_each_carry_a_time_are_not_a_feed() -> None:
    """A meta line, its mobile copy and the text with an "Updated <time>" line in it are three
    timed siblings, but not a list: the article stays an article, its text in the body."""
    paragraphs = [
        f"<p>Paragraph {n} of the story tells the reader about the council's new budget.</p>"
        for n in range(8)
    ]
    stamp = '<time datetime="2026-05-01T09:00:00Z">May 1, 2026</time>'
    html = f"""<html><head><title>Council budget</title></head><body><article>
<header><h1>Council approves the budget</h1></header>
<div class="entry__meta show-for-desktop">By Ann Lee, {stamp}</div>
<div class="entry__image"><img src="/a.jpg"></div>
<div class="entry__meta show-for-mobile">By Ann Lee, {stamp}</div>
<div class="entry__content">{"".join(paragraphs[:4])}
<p>Updated <time datetime="2026-05-01T10:00:00Z">31m ago</time></p>{"".join(paragraphs[4:])}</div>
</article></body></html>"""
    page = extract(html, URL).page
    assert page.kind is PageKind.ARTICLE and page.items == ()
    assert sum("of the story tells the reader" in p for p in page.body) == 8
