"""A one-off pass (`redline check`), in-process: what the daemon leases, skips, gives up and
when it stops. The crawler is stood in for by the plain loopback client of tests/fetching.py
(the Scrapy crawl itself is tested end to end in tests/test_daemon.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from redline.crawler.crawlsettings import CrawlSettings
from redline.newsite import NewsSite
from redline.scheduler.checks import ArticleChecker
from redline.scheduler.daemon import Daemon, DaemonSettings
from redline.scheduler.decision import CheckSettings
from redline.scheduler.discovery import SourceChecker
from redline.storage import DatabaseUnavailable, SourceKind
from tests.conftest import NOW
from tests.fetching import fetch


@pytest.fixture
def site() -> Iterator[NewsSite]:
    with NewsSite(articles=4) as running:
        yield running


def tracked(store, site: NewsSite) -> list[int]:
    return [store.add_article(site.article_url(a.slug), NOW)[0].id for a in site.articles]


def one_pass(store, targets: list[int], **settings) -> Daemon:
    """Run the pass's feeding and handling until it stops (or 50 rounds): the daemon's own
    loop without the Scrapy crawl, whose place the plain client takes."""

    async def main() -> Daemon:
        checker = ArticleChecker(store, CheckSettings(), {})
        daemon = Daemon(
            store,
            CrawlSettings(),
            checker,
            SourceChecker(store),
            DaemonSettings(workers=0, queue_size=2, **settings),
            targets=targets,
        )
        daemon._stopped = asyncio.Event()
        for _ in range(50):
            await daemon.feed()
            while not daemon.queue.empty():
                job = daemon.queue.get_nowait()
                await daemon.handle(await asyncio.to_thread(fetch, job))
            if daemon._stopped.is_set():
                break
        await checker.close()
        return daemon

    return asyncio.run(main())


def test_a_pass_checks_every_target_in_batches_and_stops(store, site):
    ids = tracked(store, site)
    daemon = one_pass(store, ids)
    assert daemon._stopped.is_set()
    assert dict(daemon.checker.outcomes) == {"new": 4}
    assert daemon.skipped == daemon.unclaimed == [] and daemon.outstanding == set()


def test_targets_another_worker_holds_are_skipped_and_the_pass_still_ends(store, site):
    ids = tracked(store, site)
    held = store.claim_ids(ids[:3], datetime.now(UTC), "other-worker", lease_seconds=300)
    assert len(held) == 3
    daemon = one_pass(store, ids)
    assert daemon._stopped.is_set()
    assert sorted(daemon.skipped) == ids[:3]
    assert dict(daemon.checker.outcomes) == {"new": 1}


def test_a_pass_where_nothing_can_be_leased_ends_at_once(store, site):
    ids = tracked(store, site)
    store.claim_ids(ids, datetime.now(UTC), "other-worker", lease_seconds=300)
    daemon = one_pass(store, ids)
    assert daemon._stopped.is_set() and sorted(daemon.skipped) == ids
    assert not daemon.checker.outcomes


class Flaky:
    """The store, whose leasing fails `failures` times first (a database going away)."""

    def __init__(self, store, failures: int) -> None:
        self._store, self.failures = store, failures

    def claim_ids(self, *args, **kw):
        if self.failures:
            self.failures -= 1
            raise DatabaseUnavailable("PostgreSQL at db is not answering")
        return self._store.claim_ids(*args, **kw)

    def __getattr__(self, name):
        return getattr(self._store, name)


def test_a_batch_that_could_not_be_leased_is_kept_and_leased_later(store, site):
    ids = tracked(store, site)
    daemon = one_pass(Flaky(store, failures=3), ids)
    assert dict(daemon.checker.outcomes) == {"new": 4}
    assert daemon.unclaimed == [] and daemon._stopped.is_set()


def test_a_database_that_stays_away_ends_the_pass_with_the_targets_reported(store, site):
    ids = tracked(store, site)
    daemon = one_pass(Flaky(store, failures=1000), ids, claim_attempts=3)
    assert daemon._stopped.is_set()
    assert sorted(daemon.unclaimed) == ids and not daemon.checker.outcomes


@pytest.mark.parametrize(("path", "kind"), [("/feed.xml", "feed"), ("/sitemap.xml", "sitemap")])
def test_discovery_tracks_what_feeds_and_sitemaps_list(store, site, path, kind):
    """A sitemap index's children become sources of their own, read in the next round."""
    store.add_source(site.url(path), SourceKind(kind), 600, NOW)
    sources = SourceChecker(store)

    async def rounds() -> int:
        for _ in range(3):
            for job in sources.due_jobs(datetime.now(UTC), "w"):
                await sources.check(await asyncio.to_thread(fetch, job), "w")
        return sources.added

    added = asyncio.run(rounds())
    expected = {site.article_url(a.slug) for a in site.articles}
    assert {a.url for a in store.list_articles()} == expected and added == len(expected)
    assert all(s.last_error is None for s in store.list_sources())
