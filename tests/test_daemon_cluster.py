"""Several `redline run` workers on one PostgreSQL schema share one local news site.

What a user running a cluster relies on: no article is fetched twice for the same due time
(counted in the site's own request log), every article gets exactly one revision, discovery
reads a source once per interval across the cluster, SIGTERM stops each worker with exit 0,
and a worker killed with SIGKILL loses only its in-flight fetches, which another worker
retries once their leases expire. New articles are due again only after ~5 minutes (the
revisit policy), so within these tests each article must be fetched exactly once.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

from redline.newsite import Fault, NewsSite
from redline.storage import SourceKind, open_store
from tests.test_daemon_faults import (
    article_gets,
    expire_leases,
    revision_counts,
    sql,
    start_worker,
    track,
    workers_cleanup,
    write_config,
)
from tests.waiting import wait_until

ARTICLES = 40


def add_in_batches(db_url: str, urls: list[str], size: int = 5, pause: float = 0.3) -> None:
    """Work arrives while the workers poll, so that several of them get a share."""
    for start in range(0, len(urls), size):
        track(db_url, urls[start : start + size])
        time.sleep(pause)


def test_workers_never_fetch_an_article_twice(pg_schema, tmp_path, count=4):
    config = write_config(tmp_path / "redline.toml")
    with NewsSite(articles=ARTICLES, live_items=0) as site, workers_cleanup([]) as workers:
        urls = [site.article_url(a.slug) for a in site.articles]
        store = open_store(pg_schema)
        store.add_source(site.url("/feed.xml"), SourceKind.FEED, 3600, datetime.now(UTC))
        store.close()
        for n in range(count):
            workers.append(start_worker(pg_schema, config, tmp_path / f"w{n}.log", wait=False))
        wait_until(lambda: all(w.started() for w in workers), 60, "every worker to start")
        add_in_batches(pg_schema, urls)
        wait_until(
            lambda: set(revision_counts(pg_schema, urls).values()) == {1},
            60,
            "every article to be recorded",
        )
        # Every worker ran its first discovery at start, before the articles were recorded
        # (a second claim of the source would have fetched it then); after the source is
        # recorded it is not due for an hour.
        wait_until(lambda: site.requests_to("/feed.xml"), 30, "the feed to be read")
        wait_until(lambda: _source_recorded(pg_schema), 30, "the feed's check to be recorded")
        codes = [w.stop() for w in workers]
        assert codes == [0] * count, [w.text()[-2000:] for w in workers if w.proc.returncode]
    gets = article_gets(site, [urlsplit(u).path for u in urls])
    assert {p: n for p, n in gets.items() if n != 1} == {}
    assert len(site.requests_to("/feed.xml")) == 1  # discovery: once across the cluster
    store = open_store(pg_schema)
    try:
        assert len(store.list_articles()) == ARTICLES  # the feed's links are the same articles
        assert all(len(store.history(a.id)) == 1 for a in store.list_articles())
    finally:
        store.close()
    assert sql(pg_schema, "SELECT count(*) FROM articles WHERE lease_owner IS NOT NULL") == [(0,)]


def test_a_killed_worker_loses_only_its_in_flight_fetches(pg_schema, tmp_path):
    config = write_config(tmp_path / "redline.toml", timeout=60.0)
    with NewsSite(articles=ARTICLES, live_items=0) as site, workers_cleanup([]) as workers:
        urls = [site.article_url(a.slug) for a in site.articles]
        hung = [a.path for a in site.articles[:3]]
        for path in hung:
            site.misbehave(path, Fault.hang())
        track(pg_schema, urls)
        doomed = start_worker(pg_schema, config, tmp_path / "doomed.log")
        workers.append(doomed)
        wait_until(
            lambda: (
                sum(revision_counts(pg_schema, urls).values()) == ARTICLES - len(hung)
                and all(article_gets(site, hung).values())
            ),
            60,
            "everything but the hung fetches to be recorded",
        )
        doomed.kill()
        leased = sql(pg_schema, "SELECT url FROM articles WHERE lease_owner IS NOT NULL")
        assert sorted(urlsplit(u).path for (u,) in leased) == sorted(hung)
        site.behave()
        survivor = start_worker(pg_schema, config, tmp_path / "survivor.log")
        workers.append(survivor)
        # An article added now is due with the hung ones: once the survivor has recorded it,
        # it has leased what was due, and the dead worker's leases kept the hung ones out.
        fresh = site.article_url(site.add_article("Late news", ["Just in."]).slug)
        track(pg_schema, [fresh])
        wait_until(lambda: revision_counts(pg_schema, [fresh])[fresh] == 1, 60, "the late article")
        assert article_gets(site, hung) == dict.fromkeys(hung, 1)
        assert expire_leases(pg_schema) == len(hung)  # as 300 s of waiting would
        wait_until(
            lambda: set(revision_counts(pg_schema, urls).values()) == {1},
            60,
            "the dead worker's articles to be retried",
        )
        assert survivor.stop() == 0, survivor.text()[-2000:]
    gets = article_gets(site, [urlsplit(u).path for u in urls])
    assert {p: n for p, n in gets.items() if n != 1} == dict.fromkeys(hung, 2)


def _source_recorded(db_url: str) -> bool:
    return sql(db_url, "SELECT count(*) FROM sources WHERE last_checked_at IS NOT NULL") == [(1,)]
