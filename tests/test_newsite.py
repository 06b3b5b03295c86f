"""The local news site itself: content, edits, conditional requests, faults, log, subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from redline.crawler.errors import FetchError, Reason
from redline.crawler.fetch_once import fetch_once
from redline.newsite import Fault, NewsSite

CORPUS = Path("/work/shared/corpus/extraction/html")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def site(clock):
    with NewsSite(articles=4, clock=clock) as running:
        yield running


def get(site: NewsSite, path: str, **headers: str):
    return fetch_once(site.url(path), allow_private=True, headers=headers, timeout=5)


def test_article_pages_look_like_news(site):
    article = site.articles[0]
    body = get(site, article.path).body.decode()
    for needle in (
        f"<h1>{article.headline}</h1>",
        article.byline,
        article.body[0],
        '"@type": "NewsArticle"',
        'rel="canonical"',
        "Most read",
        "Sign up",
        f'datetime="{article.published.isoformat()}"',
    ):
        assert needle in body


def test_conditional_requests(site, clock):
    path = site.articles[0].path
    first = get(site, path)
    assert get(site, path, **{"If-None-Match": first.headers["etag"]}).status == 304
    assert get(site, path, **{"If-Modified-Since": first.headers["last-modified"]}).status == 304
    clock.now += timedelta(minutes=10)
    site.edit(site.articles[0].slug, body=["A corrected first paragraph."])
    edited = get(site, path, **{"If-None-Match": first.headers["etag"]})
    assert edited.status == 200 and b"A corrected first paragraph." in edited.body
    assert edited.headers["etag"] != first.headers["etag"]
    assert edited.headers["last-modified"] != first.headers["last-modified"]


def test_stealth_edit_keeps_the_updated_time(site, clock):
    article = site.articles[0]
    before = article.updated
    clock.now += timedelta(hours=1)
    site.edit(article.slug, headline="Quietly changed headline", touch_updated=False)
    assert site.article(article.slug).updated == before
    assert b"Quietly changed headline" in get(site, article.path).body


def test_remove_restore_and_move(site):
    gone, moved = site.articles[0], site.articles[1]
    site.remove(gone.slug, status=410)
    assert get(site, gone.path).status == 410
    site.remove(gone.slug, status=404)
    assert get(site, gone.path).status == 404
    site.restore(gone.slug)
    assert get(site, gone.path).status == 200
    new = site.move(moved.slug, "a-better-slug")
    page = get(site, moved.path)
    assert page.url == site.url(new.path) and page.redirects == (site.url(moved.path),)
    assert site.url(moved.path) not in get(site, "/feed.xml").body.decode()
    assert get(site, "/no/such/page").status == 404


def test_feed_and_sitemaps_follow_the_content(site):
    article = site.add_article("Storm closes the river crossing", ["The bridge shut at noon."])
    assert site.url(article.path).encode() in get(site, "/feed.xml").body
    assert site.url(article.path).encode() in get(site, "/atom.xml").body
    assert b"<sitemapindex" in get(site, "/sitemap.xml").body
    news = get(site, "/sitemap-news.xml").body
    assert b"news:publication_date" in news and site.url(article.path).encode() in news


def test_live_feed_items_can_be_added_edited_and_removed(site, clock):
    key = site.add_live_item("Polls have closed.", key="polls")
    assert b'data-key="polls"' in get(site, "/live").body
    clock.now += timedelta(minutes=5)
    site.edit_live_item(key, "Polls have closed; counting has begun.")
    body = get(site, "/live").body
    assert b"counting has begun" in body and b"(Updated 09:05)" in body
    site.remove_live_item(key)
    assert b'data-key="polls"' not in get(site, "/live").body


def test_noise_changes_bytes_but_not_the_story(site):
    path = site.articles[0].path
    site.set_noise(True)
    first, second = get(site, path).body, get(site, path).body
    assert first != second
    assert site.articles[0].headline.encode() in second
    site.set_noise(False)
    assert get(site, path).body == get(site, path).body


def test_faults_are_per_path_and_can_be_limited(site):
    site.misbehave("/feed.xml", Fault.error(500), times=2)
    assert [get(site, "/feed.xml").status for _ in range(3)] == [500, 500, 200]
    site.misbehave("*", Fault.retry_after("30", status=503))
    page = get(site, "/")
    assert (page.status, page.headers["retry-after"]) == (503, "30")
    site.behave()
    assert get(site, "/").status == 200


def test_robots_txt_is_editable_and_can_fail(site):
    assert b"Disallow: /private/" in get(site, "/robots.txt").body
    site.set_robots("User-agent: *\nDisallow: /\n")
    assert get(site, "/robots.txt").body == b"User-agent: *\nDisallow: /\n"
    site.misbehave("/robots.txt", Fault.error(503))
    assert get(site, "/robots.txt").status == 503


def test_request_log_records_path_headers_and_time(site):
    before = datetime.now(UTC).timestamp()
    get(site, "/feed.xml?x=1", **{"User-Agent": "Redline/test"})
    (request,) = site.requests_to("/feed.xml")
    assert request.method == "GET" and request.path == "/feed.xml?x=1"
    assert request.headers["user-agent"] == "Redline/test"
    assert request.time >= before - 1
    site.clear_log()
    assert site.requests == []


@pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus not present")
def test_real_corpus_pages_are_served_verbatim():
    with NewsSite(articles=2, corpus=CORPUS) as site:
        body = get(site, site.articles[0].path).body
        assert body == site.articles[0].raw_html and len(body) > 10_000


def test_runs_as_a_subprocess_with_a_control_api():
    process = subprocess.Popen(
        [sys.executable, "-m", "redline.newsite", "--articles", "3"],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        base = process.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:")
        urls = json.load(
            urllib.request.urlopen(urllib.request.Request(base + "/_control/urls", method="POST"))
        )
        assert len(urls["urls"]) == 3
        edited = json.load(
            urllib.request.urlopen(
                urllib.request.Request(base + "/_control/edit?fraction=1&seed=4", method="POST")
            )
        )
        assert sorted(edited["edited"]) == sorted(urls["urls"])
        assert b"Correction 4" in urllib.request.urlopen(urls["urls"][0]).read()
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
        process.stdout.close()


def test_slow_pages_arrive_late_but_whole_and_early_close_is_an_error(site):
    site.misbehave("/feed.xml", Fault.slow(0.2))
    page = get(site, "/feed.xml")
    assert page.status == 200 and b"<rss" in page.body
    site.misbehave("/", Fault.close())
    with pytest.raises(FetchError) as info:
        get(site, "/")
    assert info.value.reason is Reason.CONNECTION_ERROR
