"""The seed page (Kyiv Independent): article, byline, dates, News Feed column, boilerplate."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from redline.crawler.extract import builtin_profiles, extract, extract_page, profile_for
from redline.storage.model import PageKind

FIXTURES = Path(__file__).parent / "fixtures" / "extract"
ARTICLE_URL = "https://kyivindependent.com/north-korean-troops-suffer-over-1-000-losses/"
FEED_URL = "https://kyivindependent.com/news-feed/"
HEADLINE = (
    "North Korean troops suffer over 1,000 losses in Kursk Oblast in past week, "
    "White House official says"
)
FURNITURE = (
    "pre-order now",
    "Skip to content",
    "Edit post",
    "This audio is created with AI assistance",
    "News Feed",
    "Zelensky arrives in South Africa",
    "MORE NEWS",
    "Editors' Picks",
    "Subscribe",
    "indicates required",
    "boost Russia’s manpower",
    "Saul Loeb/AFP",  # the photo caption: not part of the body (docs/extraction.md)
)


def _article(profiled: bool) -> object:
    html = (FIXTURES / "kyivindependent_article.html").read_bytes()
    profile = profile_for(ARTICLE_URL, builtin_profiles()) if profiled else None
    return extract_page(html, ARTICLE_URL, profile=profile)


@pytest.mark.parametrize("profiled", [True, False], ids=["profile", "generic"])
def test_article_fields(profiled: bool) -> None:
    page = _article(profiled)
    assert page.kind is PageKind.ARTICLE
    assert page.headline == HEADLINE
    assert page.byline == ("Volodymyr Ivanyshyn",)
    assert page.published == datetime(2024, 12, 28, 5, 33, tzinfo=UTC)  # 7:33 AM in Kyiv
    assert page.updated == datetime(2024, 12, 28, 5, 41, 12, tzinfo=UTC)
    assert page.language == "en"
    assert page.canonical_url.startswith("https://kyivindependent.com/north-korean-troops")
    assert len(page.body) == 10
    assert page.body[0].startswith("North Korean troops are experiencing mass casualties")
    assert page.body[-1].endswith("in future negotiations with Russia.")
    assert page.items == ()  # on an article page the News Feed column is furniture


@pytest.mark.parametrize("profiled", [True, False], ids=["profile", "generic"])
def test_furniture_never_reaches_the_body(profiled: bool) -> None:
    text = _article(profiled).text
    for words in FURNITURE:
        assert words not in text, words


@pytest.mark.parametrize("profiled", [True, False], ids=["profile", "generic"])
def test_news_feed_page_is_live_with_items(profiled: bool) -> None:
    html = (FIXTURES / "kyivindependent_news_feed.html").read_bytes()
    profile = profile_for(FEED_URL, builtin_profiles()) if profiled else None
    page = extract(html, FEED_URL, profile=profile).page
    assert page.kind is PageKind.LIVE
    assert [i.headline for i in page.items] == [
        "Zelensky arrives in South Africa to meet President Ramaphosa.",
        "Trump says he may meet Putin 'shortly' after May Middle East visit.",
        "Ukrainians react to US proposal of recognizing Crimea as Russian.",
        "Trump says 'nobody is asking' Ukraine to recognize Crimea as Russian.",
    ]
    first, *_, last = page.items
    assert first.key == "id:/news-feed/zelensky-arrives-in-south-africa/"
    assert first.time == datetime(2025, 4, 25, 5, 6, tzinfo=UTC)
    assert first.text.startswith('"We count on South Africa’s meaningful participation')
    assert first.updated is None
    assert last.updated == "(Updated: )"
    assert "Subscribe" not in " ".join(i.text for i in page.items)
    assert page.body == ()  # every word of it is in the items


def test_an_edited_item_keeps_its_key_and_shows_the_change() -> None:
    html = (FIXTURES / "kyivindependent_news_feed.html").read_text("utf-8")
    before = extract(html, FEED_URL).page
    after = extract(html.replace("ceasefire negotiations", "peace talks"), FEED_URL).page
    assert [i.key for i in before.items] == [i.key for i in after.items]
    assert before.items[1].text != after.items[1].text
    assert before.items[0] == after.items[0]
