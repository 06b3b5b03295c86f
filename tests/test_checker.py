"""The checker in-process, on both backends: the real loopback news site edited and broken on
purpose, fetched by a plain HTTP client (tests/fetching.py), each check observed, analysed,
decided and recorded by `ArticleChecker` as in the daemon. Milliseconds per check."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Iterator

import pytest

from redline.crawler.spider import FetchJob
from redline.newsite import Fault, NewsSite
from redline.scheduler.alerts.rules import AlertRule
from redline.scheduler.checks import ArticleChecker
from redline.scheduler.daemon import conditional_headers
from redline.scheduler.decision import CheckSettings
from redline.storage import AlertStatus, ArticleStatus, EventKind, Page, SourceKind
from tests.conftest import NOW
from tests.fetching import check_now, fetch
from tests.records import revision


@pytest.fixture
def site() -> Iterator[NewsSite]:
    with NewsSite(articles=3, live_items=3) as running:
        yield running


def checker(store, *rules: AlertRule) -> ArticleChecker:
    return ArticleChecker(store, CheckSettings(), {}, rules=rules)


def track(store, site: NewsSite) -> list[str]:
    urls = [site.article_url(a.slug) for a in site.articles]
    for url in urls:
        store.add_article(url, NOW)
    return urls


def words(results) -> dict[str, int]:
    return dict(Counter(str(r.outcome) for r in results))


def run(store, steps, *rules: AlertRule):
    """Run `steps(check)` on one loop, `check(urls)` checking them now; returns its value."""

    async def main():
        checks = checker(store, *rules)
        try:
            return await steps(lambda urls: check_now(checks, store, urls))
        finally:
            await checks.close()

    return asyncio.run(main())


def test_a_real_edit_is_one_revision_and_noise_is_none(store, site):
    urls = track(store, site)

    async def steps(check):
        first = words(await check(urls))
        site.set_noise(True)  # rotating trending lists, relative times, tokens, ad ids...
        noisy = words(await check(urls))
        site.edit(site.articles[0].slug, headline="Council approves a revised budget after all")
        edited = words(await check(urls))
        return first, noisy, edited

    first, noisy, edited = run(store, steps)
    assert first == {"new": 3}
    assert noisy.get("new", 0) == noisy.get("changed", 0) == 0
    assert edited.get("changed") == 1 and edited.get("new", 0) == 0
    history = store.history(store.get_article(urls[0]).id)
    assert [r.number for r in history] == [1, 2]
    assert "headline" in {c.field for c in history[1].changes}
    assert history[1].headline == "Council approves a revised budget after all"
    assert all(len(store.history(store.get_article(u).id)) == 1 for u in urls[1:])


def test_conditional_requests_send_the_stored_validators(store, site):
    urls = track(store, site)

    async def steps(check):
        await check(urls[:1])
        site.clear_log()
        return words(await check(urls[:1]))

    assert run(store, steps) == {"not_modified": 1}
    (request,) = site.requests
    assert request.headers.get("if-none-match")


def test_gone_and_back_are_events_not_revisions(store, site):
    urls = track(store, site)
    slug = site.articles[1].slug

    async def steps(check):
        await check(urls[1:2])
        site.remove(slug, status=410)
        gone = words(await check(urls[1:2]))
        again = words(await check(urls[1:2]))
        site.restore(slug)
        return gone, again, words(await check(urls[1:2]))

    gone, again, back = run(store, steps)
    assert gone == again == {"gone": 1}
    assert back == {"unchanged": 1}
    article = store.get_article(urls[1])
    kinds = [e.kind for e in store.events(article.id)]
    assert kinds == [EventKind.FIRST_SEEN, EventKind.GONE, EventKind.BACK]
    assert article.status is ArticleStatus.ACTIVE and len(store.history(article.id)) == 1


def test_three_404s_in_a_row_are_gone(store, site):
    urls = track(store, site)

    async def steps(check):
        await check(urls[:1])
        site.remove(site.articles[0].slug, status=404)
        return [words(await check(urls[:1])) for _ in range(3)]

    assert run(store, steps) == [{"error": 1}, {"error": 1}, {"gone": 1}]
    article = store.get_article(urls[0])
    assert article.status is ArticleStatus.GONE
    assert [e.kind for e in store.events(article.id)][-1] is EventKind.GONE


def test_a_permanent_redirect_moves_the_article(store, site):
    urls = track(store, site)

    async def steps(check):
        await check(urls[2:])
        moved = site.move(site.articles[2].slug, "renamed-story", status=301)
        await check(urls[2:])
        return moved

    moved = run(store, steps)
    article = store.get_article(urls[2])
    assert article.url == site.article_url(moved.slug)
    assert EventKind.MOVED in [e.kind for e in store.events(article.id)]
    assert len(store.history(article.id)) == 1


def test_one_story_reached_two_ways_is_one_article(store, site):
    clean = site.article_url(site.articles[0].slug)
    other = clean + "?ref=frontpage"  # not a tracking parameter we know: rel=canonical decides
    store.add_article(clean, NOW)
    store.add_article(other, NOW)
    run(store, lambda check: check([clean, other]))
    duplicate = store.get_article_by_id(store.get_article(other).id)
    assert store.get_article(clean).revision_count == 1
    assert duplicate.status is ArticleStatus.MOVED and duplicate.revision_count == 0
    assert [e.detail for e in store.events(duplicate.id) if e.kind is EventKind.MOVED] == [
        f"{clean} (rel=canonical)"
    ]


def test_misbehaving_hosts_become_errors_and_the_rest_is_checked(store, site):
    urls = track(store, site)
    site.misbehave(site.articles[0].path, Fault.error(500))
    site.misbehave(site.articles[1].path, Fault.retry_after("120"))
    assert words(run(store, lambda check: check(urls))) == {"error": 2, "new": 1}
    failed = store.get_article(urls[0])
    assert "HTTP 500" in failed.last_error and failed.error_count == 1
    limited = store.get_article(urls[1])
    assert "rate_limited" in limited.last_error
    wait = (limited.next_check_at - limited.last_checked_at).total_seconds()
    assert 119 <= wait <= 121  # when the host asked
    assert store.get_article(urls[2]).revision_count == 1


def test_a_live_feed_item_update_is_an_item_change(store, site):
    live = site.url("/live")
    store.add_article(live, NOW, is_live=True)

    async def steps(check):
        results = [words(await check([live]))]
        key = site.add_live_item("Zelensky arrives in South Africa to meet President Ramaphosa.")
        results.append(words(await check([live])))
        site.edit_live_item(key, "Zelensky arrives in South Africa (Updated: 8:10 AM).")
        results.append(words(await check([live])))
        return results

    assert run(store, steps) == [{"new": 1}, {"changed": 1}, {"changed": 1}]
    history = store.history(store.get_article(live).id)
    assert [r.number for r in history] == [1, 2, 3]
    assert any(c.field.startswith("item:") and c.kind == "added" for c in history[1].changes)
    assert any(c.field.startswith("item:") and c.kind == "changed" for c in history[2].changes)


def test_a_revision_written_meanwhile_by_another_worker_is_compared_against(store, site):
    """Between this worker's fetch and its write another worker recorded a revision: the store
    refuses the stale write and the checker compares against the latest revision instead."""
    urls = track(store, site)
    slug = site.articles[0].slug

    async def steps(check):
        await check(urls[:1])
        site.edit(slug, headline="A headline the other worker never saw")
        (claim,) = store.claim_ids([store.get_article(urls[0]).id], NOW, "w1", lease_seconds=60)
        fetched = await asyncio.to_thread(fetch, FetchJob(claim.url, claim=claim))
        other = Page(headline="What the other worker recorded", body=("Elsewhere.",))
        store.record(revision(claim.article_id, "other", other, base=1))
        return await checker(store).check(fetched)

    recorded = run(store, steps)
    assert (str(recorded.outcome), recorded.revision) == ("changed", 3)
    latest = store.revision(store.get_article(urls[0]).id, 3)
    headline = next(c for c in latest.changes if c.field == "headline")
    assert headline.old == "What the other worker recorded"


HEADLINES = AlertRule("headlines", frozenset({"headline_changed"}), ("hook",))
CEASEFIRE = AlertRule(
    "ceasefire",
    frozenset({"text_removed"}),
    ("hook",),
    pattern=re.compile("ceasefire", re.I),
)
ITEMS = AlertRule("items", frozenset({"item_added", "item_updated"}), ("hook", "mail"))


def test_alerts_are_planned_with_the_check_that_found_the_change(store, site):
    """A headline edit is one outbox row per matching rule and channel, written with its
    revision; noise and a first version create none for these rules; a text pattern matches
    the words the diff removed."""
    urls = track(store, site)
    slug = site.articles[0].slug
    body = site.articles[0].body

    async def steps(check):
        await check(urls)
        site.set_noise(True)
        await check(urls)
        site.edit(slug, headline="A new headline", body=[*body, "The ceasefire holds."])
        await check(urls[:1])
        site.edit(slug, body=body)  # the ceasefire sentence disappears
        await check(urls[:1])

    run(store, steps, HEADLINES, CEASEFIRE, ITEMS)
    alerts = store.alerts(AlertStatus.PENDING)
    assert [(a.rule, a.channel, a.kinds, a.revision) for a in alerts] == [
        ("headlines", "hook", ("headline_changed",), 2),
        ("ceasefire", "hook", ("text_removed",), 3),
    ]


def test_a_live_item_marked_updated_alerts_item_updated(store, site):
    live = site.url("/live")
    store.add_article(live, NOW, is_live=True)

    async def steps(check):
        await check([live])
        key = site.add_live_item("Talks resume in Geneva.")
        await check([live])
        site.edit_live_item(key, "Talks resume in Geneva (Updated: 9:15 AM).")
        await check([live])

    run(store, steps, ITEMS)
    kinds = [(a.channel, a.kinds, a.revision) for a in store.alerts()]
    assert kinds == [
        ("hook", ("item_added",), 2),
        ("mail", ("item_added",), 2),
        ("hook", ("item_updated",), 3),
        ("mail", ("item_updated",), 3),
    ]


def test_rules_filter_by_site_source_and_url(store, site):
    feed, _ = store.add_source(site.url("/feed.xml"), SourceKind.FEED, 600, NOW)
    urls = [site.article_url(a.slug) for a in site.articles]
    store.add_article(urls[0], NOW, source_id=feed.id)
    store.add_article(urls[1], NOW)
    rules = (
        AlertRule("from-feed", frozenset({"new_article"}), ("hook",), sources=(feed.url,)),
        AlertRule("elsewhere", frozenset({"new_article"}), ("hook",), sites=("example.org",)),
        AlertRule("here", frozenset({"new_article"}), ("hook",), sites=("127.0.0.1",)),
        AlertRule("by-url", frozenset({"new_article"}), ("hook",), url_pattern=re.compile(urls[1])),
    )
    run(store, lambda check: check(urls[:2]), *rules)
    ids = {store.get_article(u).id: n for n, u in enumerate(urls[:2])}
    fired = sorted((ids[a.article_id], a.rule) for a in store.alerts())
    assert fired == [(0, "from-feed"), (0, "here"), (1, "by-url"), (1, "here")]


def test_conditional_headers_come_from_the_claim(store, site):
    urls = track(store, site)
    run(store, lambda check: check(urls[:1]))
    article = store.get_article(urls[0])
    (claim,) = store.claim_ids([article.id], NOW, "w", lease_seconds=60)
    assert conditional_headers(claim) == (
        ("If-None-Match", article.etag),
        ("If-Modified-Since", article.last_modified),
    )
    assert article.etag and article.last_modified


def test_a_stale_cache_bouncing_between_versions_is_not_a_revision_each_time(store, site):
    """A CDN node serving the old page now and then: the old text is a flip-flop event, not
    a revision, until it stays for three checks in a row (then it is a genuine revert)."""
    urls = track(store, site)[:1]
    slug, old = site.articles[0].slug, site.articles[0].headline

    def serve(headline: str) -> None:
        site.edit(slug, headline=headline, touch_updated=False)

    async def steps(check):
        await check(urls)
        serve("The new headline")
        await check(urls)
        bounces = []
        for headline in [old, "The new headline", old, "The new headline", old]:
            serve(headline)
            bounces.append(words(await check(urls)))
        stays = []
        for _ in range(3):
            stays.append((await check(urls))[0].revision)
        return bounces, stays

    bounces, stays = run(store, steps)
    assert bounces == [{"unchanged": 1}] * 5
    article = store.get_article(urls[0])
    flips = [e for e in store.events(article.id) if e.kind is EventKind.FLIP_FLOP]
    assert len(flips) == 3 and flips[0].detail == "served revision 1 again"
    # The last bounce was the first of three sightings in a row: the third writes revision 3.
    assert stays == [None, 3, None]
    assert len(store.history(article.id)) == 3
