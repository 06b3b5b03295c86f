"""Hostile input: always a Page or a clear NOT_ARTICLE, never an exception, never a hang."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redline.crawler.extract import extract, extract_page, load_profiles
from redline.storage.codec import content_hash, page_to_dict
from redline.storage.model import PageKind

URL = "https://example.com/story"
PARA = "<p>The council met on Tuesday to discuss the budget and the new bridge over the river.</p>"
TOPICS = ("schools", "roads", "parks", "libraries", "buses", "water", "housing", "police")


def paragraphs(n: int) -> str:
    """Distinct paragraphs: extractors drop text repeated word for word."""
    return "".join(
        f"<p>On item {i} the members turned to {TOPICS[i % 8]} and spent {i + 3} minutes on it.</p>"
        for i in range(n)
    )


CYRILLIC = "Міська рада у вівторок обговорила бюджет і новий міст через річку. "
SEED = Path(__file__).parent / "fixtures" / "extract" / "kyivindependent_article.html"


def _sane(page) -> None:
    """Whatever came back can be stored: it serialises and hashes."""
    page_to_dict(page)
    content_hash(page)
    if page.kind is PageKind.NOT_ARTICLE:
        assert page.reason and not page.body and not page.headline


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        (b"", "empty"),
        (b"   \n\t ", "empty"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40, "binary"),
        (b"%PDF-1.7\n" + os.urandom(4000), "binary"),
        (bytes(range(32)) * 500, "binary"),
        (
            b"<html><head><script>var a = 1;</script></head><body><script>go()</script></body>",
            "empty",
        ),
        (b"<html><body>" + b"<div>" * 5000 + b"</div>" * 5000 + b"</body></html>", "empty"),
    ],
    ids=["empty", "blank", "png", "pdf", "control-bytes", "scripts-only", "deep-and-empty"],
)
def test_not_an_article_with_a_reason(html: bytes, reason: str) -> None:
    page = extract_page(html, URL)
    assert page.kind is PageKind.NOT_ARTICLE
    assert page.reason == reason
    _sane(page)


def test_random_bytes_never_raise() -> None:
    for seed in range(20):
        _sane(extract_page(os.urandom(2000 + seed), URL))


def test_malformed_html_still_yields_the_text() -> None:
    html = (
        b"<html><body><div><p>Unclosed <b>bold <i>"
        + (PARA + paragraphs(4)).encode()
        + b"</td></table></span>"
    )
    page = extract_page(html, URL)
    assert page.kind is PageKind.ARTICLE
    assert "new bridge over the river" in page.text


def test_truncated_page_keeps_what_arrived() -> None:
    raw = SEED.read_bytes()
    cut = raw[: raw.index(b"Kirby said that North Korean units")]
    page = extract_page(cut, URL)
    assert page.kind is PageKind.ARTICLE
    assert page.body[0].startswith("North Korean troops are experiencing")


ARTICLE = f"<article>{PARA}<p>{CYRILLIC * 6}</p>{paragraphs(3)}</article>"


@pytest.mark.parametrize(
    ("raw", "header"),
    [
        (('<meta charset="utf-8">' + ARTICLE).encode("cp1251"), "utf-8"),
        (ARTICLE.encode("cp1251"), None),
        (('<meta charset="windows-1251">' + ARTICLE).encode(), "windows-1251"),
        (ARTICLE.encode(), "koi8-r"),
    ],
    ids=["1251-claims-utf8", "1251-no-charset", "utf8-claims-1251", "utf8-claims-koi8"],
)
def test_wrong_or_missing_charset(raw: bytes, header: str | None) -> None:
    page = extract_page(raw, URL, encoding=header)
    assert CYRILLIC.strip() in page.text


def test_ten_megabytes_of_scripts_around_an_article() -> None:
    html = "<html><head><script>" + "var x = 1;" * 1_000_000 + "</script></head><body><article>"
    page = extract_page((html + PARA + paragraphs(10) + "</article></body></html>").encode(), URL)
    assert page.kind is PageKind.ARTICLE
    assert "new bridge" in page.text


def test_ten_megabytes_of_markup_is_refused_cleanly() -> None:
    html = "<html><body><article>" + PARA * 120_000 + "</article></body></html>"
    page = extract_page(html.encode(), URL)
    assert (page.kind, page.reason) == (PageKind.NOT_ARTICLE, "too_large")


@pytest.mark.parametrize("closed", [True, False])
def test_five_thousand_levels_of_nesting(closed: bool) -> None:
    html = "<html><body>" + "<div><span>" * 5000 + paragraphs(5)
    if closed:
        html += "</span></div>" * 5000
    page = extract_page(html.encode(), URL)
    _sane(page)


def test_five_thousand_levels_under_a_profile_selector() -> None:
    profile = load_profiles({"example.com": {"body": "body", "headline": "h1"}})["example.com"]
    html = "<html><body><h1>Deep</h1>" + "<div>" * 5000 + paragraphs(5) + "</div>" * 5000
    _sane(extract(html.encode(), URL, profile=profile).page)


def test_str_input_with_nul_and_lone_surrogates() -> None:
    html = "<html><body><article>" + PARA[:-4] + " \ud800 and \x00 more.</p>" + paragraphs(5)
    page = extract_page(html, URL)
    assert page.kind is PageKind.ARTICLE
    assert "\ud800" not in page.text and "\x00" not in page.text


def test_broken_json_ld_is_forgiven() -> None:
    html = (
        """<html><head><script type="application/ld+json">
    {"@type": "NewsArticle", "headline": "Forgiven headline", // a comment
     "datePublished": "2026-01-02T03:04:05Z",}
    </script></head><body><article>"""
        + paragraphs(6)
        + "</article></body></html>"
    )
    page = extract_page(html, URL)
    assert page.published is not None and page.published.year == 2026
    assert page.headline == "Forgiven headline"


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=400))
def test_any_text_gives_a_storable_page(text: str) -> None:
    _sane(extract_page(text, URL))


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_give_a_storable_page(data: bytes) -> None:
    _sane(extract_page(data, URL))


def test_huge_malformed_json_ld_is_skipped_not_crawled_through() -> None:
    items = ",".join(f'"{i}"' for i in range(60_000))
    html = (
        '<html><head><script type="application/ld+json">{"@type": "NewsArticle", "a": ['
        + items
        + "],}</script></head><body><article>"
        + paragraphs(6)
        + "</article></body></html>"
    )
    page = extract_page(html, URL)
    assert page.kind is PageKind.ARTICLE
