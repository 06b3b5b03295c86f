"""Not an article: walls, soft 404s and error pages get a reason and never any text."""

from __future__ import annotations

import pytest

from redline.crawler.extract import extract_page
from redline.storage.model import PageKind

URL = "https://news.example/world/story"


def _page(title: str, body: str, head: str = "") -> str:
    return f"<html><head><title>{title}</title>{head}</head><body><main>{body}</main></body></html>"


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        (
            _page(
                "Page not found | News",
                "<h1>Page not found</h1><p>Sorry, the page you are looking for does not exist. "
                "It may have been moved or deleted. Try the search box or go to the home page.</p>",
            ),
            "soft_404",
        ),
        (
            _page(
                "503 Service Unavailable",
                "<h1>Service Unavailable</h1><p>The server is temporarily unable to service your "
                "request due to maintenance downtime or capacity problems. Please try later.</p>",
            ),
            "error_page",
        ),
        (
            _page(
                "Budget vote delayed | News",
                "<h1>Budget vote delayed</h1><p>The council postponed its budget vote on "
                "Tuesday after a late amendment from the transport committee.</p>"
                "<p>Subscribe to continue reading. Already a subscriber? Sign in.</p>",
            ),
            "paywall",
        ),
        (
            _page(
                "Budget vote delayed | News",
                "<h1>Budget vote delayed</h1><p>The council postponed its budget vote on "
                "Tuesday after a late amendment.</p>",
                '<script type="application/ld+json">{"@type": "NewsArticle", '
                '"headline": "Budget vote delayed", "isAccessibleForFree": false}</script>',
            ),
            "paywall",
        ),
        (
            _page(
                "Before you continue",
                "<p>We and our partners use cookies to store and access information on your "
                "device. Select Accept all cookies to agree, or Manage your privacy choices.</p>",
            ),
            "consent_wall",
        ),
    ],
    ids=["soft-404", "error-page", "paywall-text", "paywall-declared", "consent-wall"],
)
def test_reason_and_no_text(html: str, reason: str) -> None:
    page = extract_page(html, URL)
    assert (page.kind, page.reason) == (PageKind.NOT_ARTICLE, reason)
    assert page.body == () and page.headline == ""


def test_a_long_article_that_mentions_not_found_is_still_an_article() -> None:
    paragraphs = "".join(
        f"<p>Paragraph {n}: the missing hikers were not found until day {n}, rescuers said, "
        "after a long search across the northern ridge and the valley below it.</p>"
        for n in range(8)
    )
    page = extract_page(_page("Hikers not found for days | News", paragraphs), URL)
    assert page.kind is PageKind.ARTICLE
