"""Articles with real histories for the web tests: pages compared by the real differ and
recorded through the store's write protocol, as the daemon would.

Not collected (no `test_` prefix).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from redline.crawler.diff import compare
from redline.storage import FeedItem, Page, Store
from tests.records import NOW, revision

XSS = (
    '<script>alert(1)</script><img src=x onerror="alert(2)">'
    '<a href="javascript:alert(3)">x</a>\u202egnp.exe'
)


def record_pages(store: Store, url: str, pages: Sequence[Page], *, step: int = 60) -> int:
    """Track `url` and record each page as its next revision, `step` minutes apart."""
    article, _ = store.add_article(url, NOW)
    previous: Page | None = None
    for number, page in enumerate(pages):
        at = NOW + timedelta(minutes=step * (number + 1))
        changes = compare(previous, page) if previous is not None else ()
        store.record(
            revision(article.id, f"{url}#{number}", page, base=number, changes=changes, at=at)
        )
        previous = page
    return article.id


def story(store: Store, url: str = "https://news.example.org/2026/12/05/minister") -> int:
    """Three revisions: a headline rewrite, then a paragraph quietly removed and a correction."""
    first = Page(
        headline="Minister resigns after budget row",
        byline=("Jane Doe",),
        body=(
            "The finance minister resigned on Friday after a row over the budget.",
            "She said the decision was her own and thanked her staff.",
            "Opposition leaders called for an early election.",
        ),
    )
    second = Page(
        headline="Minister quits as budget row deepens",
        byline=("Jane Doe",),
        body=first.body,
    )
    third = Page(
        headline="Minister quits as budget row deepens",
        byline=("Jane Doe", "John Roe"),
        body=(
            "The finance minister resigned on Friday after a bitter row over the budget.",
            "Opposition leaders called for an early election.",
            "Correction: an earlier version of this story misstated the day of the vote.",
        ),
    )
    return record_pages(store, url, [first, second, third])


def hostile(store: Store, url: str = "https://evil.example.net/story") -> int:
    """Every scraped field holds script tags, event handlers, javascript: links and a bidi
    override, in two revisions so that the diff pages show them too."""
    items = (FeedItem(key="k1", headline=XSS, text=XSS, updated=f"Updated {XSS}"),)
    first = Page(headline=XSS, byline=(XSS,), body=(XSS, "calm text"), items=items)
    second = Page(
        headline=f"{XSS} again",
        title=XSS,
        byline=(XSS, "Eve"),
        body=(XSS, f"calm text {XSS}"),
        items=(*items, FeedItem(key="k2", headline=XSS, text="new")),
    )
    return record_pages(store, url, [first, second])
