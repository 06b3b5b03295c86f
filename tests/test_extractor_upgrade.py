"""An upgrade of Redline's extraction is recorded, but it is not news.

A revision read by an older extractor differs from what today's extractor reads on the same
HTML (a headline chosen otherwise, a line no longer cut). The first check after an upgrade
records what today's extractor reads, and alerts only about what differs from the previous
revision's own HTML read again today: no flood of alerts for every tracked article, and a real
edit made at the same moment still alerts. On both backends, against the loopback news site.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from redline.crawler.extract import extract
from redline.crawler.spider import FetchJob
from redline.newsite import NewsSite
from redline.scheduler.alerts.rules import AlertRule
from redline.storage import Page
from tests.fetching import fetch
from tests.records import revision
from tests.test_checker import run, track

ANY_EDIT = AlertRule(
    "edits", frozenset({"headline_changed", "body_changed", "title_changed"}), ("hook",)
)


@pytest.fixture
def site() -> Iterator[NewsSite]:
    with NewsSite(articles=1) as running:
        yield running


def _older_reading(store, url: str) -> tuple[int, Page]:
    """Revision 1 as an older extractor recorded it: today's reading of the same HTML with
    another headline and a furniture line it did not cut, under another extractor version."""
    html = fetch(FetchJob(url)).body
    today = extract(html, url).page
    older = replace(
        today,
        headline=f"{today.headline} | News Site",
        body=(*today.body, "Advertisement: 20% off everything"),
        extractor_version="0+trafilatura-1.0",
    )
    article = store.get_article(url)
    store.record(revision(article.id, "older-extractor-1", older, raw_html=html))
    return article.id, today


@pytest.mark.parametrize("edit", [None, "body"])
def test_the_first_check_after_an_upgrade_alerts_only_about_real_edits(store, site, edit):
    url = track(store, site)[0]
    slug = site.articles[0].slug
    article_id, today = _older_reading(store, url)
    if edit == "body":
        site.edit(slug, body=[*site.articles[0].body, "The council will vote again in May."])

    async def steps(check):
        await check([url])

    run(store, steps, ANY_EDIT)
    history = store.history(article_id)
    assert [r.number for r in history] == [1, 2]  # what today's extractor reads is recorded
    latest = store.latest_page(article_id)
    assert latest is not None and latest.headline == today.headline
    assert "Advertisement: 20% off everything" not in latest.body
    kinds = [(a.kinds, a.revision) for a in store.alerts()]
    if edit is None:
        assert kinds == []  # the headline and the line the old extractor read are not news
    else:
        assert kinds == [(("body_changed",), 2)]  # the real edit, and only it


def test_after_the_upgrade_a_headline_edit_alerts_as_before(store, site):
    url = track(store, site)[0]
    slug = site.articles[0].slug
    article_id, _ = _older_reading(store, url)

    async def steps(check):
        await check([url])
        site.edit(slug, headline="Council approves a revised budget after all")
        await check([url])

    run(store, steps, ANY_EDIT)
    assert [r.number for r in store.history(article_id)] == [1, 2, 3]
    assert [(a.kinds, a.revision) for a in store.alerts()] == [(("headline_changed",), 3)]


def test_without_the_old_html_the_upgrade_is_recorded_quietly(store, site):
    url = track(store, site)[0]
    html = fetch(FetchJob(url)).body
    today = extract(html, url).page
    older = replace(today, headline="Another reading", extractor_version="0+old")
    article = store.get_article(url)
    store.record(revision(article.id, "older-no-html", older))  # kept no HTML

    async def steps(check):
        await check([url])

    run(store, steps, ANY_EDIT)
    assert [r.number for r in store.history(article.id)] == [1, 2]
    assert store.alerts() == []
