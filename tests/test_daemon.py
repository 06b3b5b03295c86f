"""The crawler and daemon end to end, through Scrapy: a real loopback news site, `redline check`
and `redline run` in subprocesses (the Twisted reactor runs once per process). Only what needs
the real crawl or a process is here: the rules are tested in-process (tests/test_decision.py,
tests/test_checker.py, tests/test_daemon_pass.py, tests/test_middlewares.py) on both
backends; these run on SQLite, and on PostgreSQL where a second connection matters."""

from __future__ import annotations

import itertools
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from redline.cli import cli
from redline.newsite import Fault, NewsSite
from redline.storage import open_store
from redline.storage.postgres import split_schema
from tests.conftest import REPO
from tests.tls import self_signed
from tests.waiting import wait_until


@pytest.fixture
def site() -> Iterator[NewsSite]:
    with NewsSite(articles=3, live_items=3) as running:
        yield running


def environment(db_url: str, *, private: bool = True, config: str = os.devnull) -> dict:
    return {
        **os.environ,
        "REDLINE_DATABASE_URL": db_url,
        "REDLINE_CONFIG": config,
        "REDLINE_ALLOW_PRIVATE_NETWORKS": "1" if private else "0",
    }


def redline(
    db_url: str, *args: str, private: bool = True, timeout: float = 120, check: bool = False
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "redline", *args],
        capture_output=True,
        text=True,
        env=environment(db_url, private=private),
        timeout=timeout,
        cwd=REPO,
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


def summary(done: subprocess.CompletedProcess[str]) -> dict[str, int]:
    """The counts of `check --json` (its "failed" list left out: see failures)."""
    return {k: n for k, n in failures_and_counts(done).items() if k != "failed"}


def failures_and_counts(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.stdout.strip(), done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def track(db_url: str, site: NewsSite) -> list[str]:
    urls = [site.article_url(a.slug) for a in site.articles]
    redline(db_url, "add", *urls, check=True)
    return urls


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'redline.sqlite'}"


def test_a_real_edit_is_one_revision_and_noise_is_none(db_url, site):
    urls = track(db_url, site)
    first = summary(redline(db_url, "check", "--all", "--json", "--workers", "1", check=True))
    assert first == {"new": 3}
    site.clear_log()
    again = summary(redline(db_url, "check", "--all", "--json", check=True))
    assert again == {"not_modified": 3}  # Scrapy sent the stored validators
    assert all(r.headers.get("if-none-match") for r in site.requests if r.path != "/robots.txt")
    site.set_noise(True)  # rotating trending lists, relative times, tokens, ad ids...
    noisy = summary(redline(db_url, "check", "--all", "--json", check=True))
    assert noisy.get("new", 0) == noisy.get("changed", 0) == 0
    slug = site.articles[0].slug
    site.edit(slug, headline="Council approves a revised budget after all")
    edited = summary(redline(db_url, "check", "--all", "--json", check=True))
    assert edited.get("changed") == 1 and edited.get("new", 0) == 0
    store = open_store(db_url)
    article = store.get_article(urls[0])
    history = store.history(article.id)
    assert [r.number for r in history] == [1, 2]
    assert "headline" in {c.field for c in history[1].changes}
    assert history[1].headline == "Council approves a revised budget after all"
    assert all(len(store.history(store.get_article(u).id)) == 1 for u in urls[1:])
    store.close()


def test_private_addresses_are_refused_unless_allowed(db_url, site):
    urls = track(db_url, site)
    site.clear_log()
    done = redline(db_url, "check", "--all", "--json", private=False)
    assert done.returncode == 1  # nothing could be fetched
    assert summary(done) == {"error": 3}
    failed = failures_and_counts(done)["failed"]
    assert sorted(f["url"] for f in failed) == sorted(urls)
    assert all(f["reason"].startswith("blocked_ssrf: ") for f in failed)
    assert site.requests == []  # not even robots.txt reached the loopback site
    store = open_store(db_url)
    assert all("blocked_ssrf" in (store.get_article(u).last_error or "") for u in urls)
    store.close()


def test_robots_txt_unreachable_means_do_not_fetch(db_url, site):
    track(db_url, site)
    site.misbehave("/robots.txt", Fault.error(503))
    site.clear_log()
    result = summary(redline(db_url, "check", "--all", "--json"))
    assert result == {"error": 3}
    assert {r.path for r in site.requests} == {"/robots.txt"}


class Daemon:
    """`redline run` in a subprocess; `stop()` sends SIGTERM and returns (exit code, stderr)."""

    def __init__(self, db_url: str, workers: str = "1") -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "redline", "run", "--workers", workers],
            env=environment(db_url),
            cwd=REPO,
            stderr=subprocess.PIPE,
            text=True,
        )

    def stop(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGTERM)
        _, errors = self.process.communicate(timeout=30)
        return self.process.returncode, errors

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


def test_run_stops_cleanly_on_sigterm_and_a_second_run_is_refused(tmp_path, site):
    db_url = f"sqlite:///{tmp_path / 'daemon.sqlite'}"
    urls = track(db_url, site)
    daemon = Daemon(db_url)
    store = open_store(db_url)
    try:
        wait_until(
            lambda: all(store.get_article(u).revision_count == 1 for u in urls),
            60,
            "every article to be recorded",
        )
        second = redline(db_url, "run")
        assert second.returncode == 1 and "already using" in second.stderr
        code, errors = daemon.stop()
        assert code == 0, errors
    finally:
        daemon.kill()
    assert all(store.get_article(u).revision_count == 1 for u in urls)
    assert store.claim_due(
        store.get_article(urls[0]).next_check_at, "probe", limit=10, lease_seconds=1
    )  # no lease left behind
    store.close()


def test_the_daemon_discovers_articles_from_a_feed_and_checks_them(db_url, site):
    path, kind = "/feed.xml", "feed"  # sitemaps and their indexes: tests/test_daemon_pass.py
    redline(db_url, "sources", "add", site.url(path), "--kind", kind, "--every", "10m", check=True)
    expected = {site.article_url(a.slug) for a in site.articles}
    store = open_store(db_url)

    def tracked():
        return {a.url: a for a in store.list_articles() if a.url in expected}

    daemon = Daemon(db_url, workers="0")
    try:
        wait_until(
            lambda: (
                len(t := tracked()) == len(expected) and all(a.revision_count for a in t.values())
            ),
            60,
            "the feed's articles to be tracked and recorded",
        )
        code, errors = daemon.stop()
    finally:
        daemon.kill()
    assert code == 0, errors
    assert {u: a.revision_count for u, a in tracked().items()} == dict.fromkeys(expected, 1)
    store.close()


def test_robots_txt_disallow_is_obeyed_and_we_say_who_we_are(db_url, site, tmp_path):
    urls = track(db_url, site)
    site.set_robots("User-agent: *\nDisallow: /news/\n")
    config = tmp_path / "redline.toml"
    config.write_text('contact_url = "https://desk.example/redline-contact"\n')
    site.clear_log()
    done = subprocess.run(
        [sys.executable, "-m", "redline", "check", "--all", "--json"],
        env=environment(db_url, config=str(config)),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert summary(done) == {"error": 1, "new": 2}
    assert site.requests_to(site.articles[0].path) == []
    store = open_store(db_url)
    assert "robots_disallowed" in store.get_article(urls[0]).last_error
    store.close()
    agents = {r.headers.get("user-agent", "") for r in site.requests}
    assert agents and all("Redline" in a and "desk.example/redline-contact" in a for a in agents)


def test_tls_certificates_are_verified(db_url, tmp_path):
    cert_file, key_file = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    with NewsSite(articles=1, tls_context=context) as tls_site:
        port = tls_site.base_url.rsplit(":", 1)[1]
        url = f"https://localhost:{port}{tls_site.articles[0].path}"
        redline(db_url, "add", url, check=True)
        done = redline(db_url, "check", url, "--json")
    assert done.returncode == 1 and summary(done) == {"error": 1}
    store = open_store(db_url)
    assert store.get_article(url).last_error.startswith("tls_error")
    store.close()


@pytest.mark.parametrize(("crawl_delay", "cap", "least"), [(2, 30, 2.0)])
def test_robots_crawl_delay_spaces_requests_to_a_host_up_to_the_cap(
    db_url, site, tmp_path, crawl_delay, cap, least
):
    """Even with many requests allowed in flight per host, article fetches to a host whose
    robots.txt asks for a Crawl-delay are that far apart (the cap: tests/test_middlewares.py)."""
    urls = track(db_url, site)
    site.set_robots(f"User-agent: *\nCrawl-delay: {crawl_delay}\n")
    config = tmp_path / "redline.toml"
    config.write_text(f"[crawl]\nper_host = 8\nautothrottle = false\ncrawl_delay_cap = {cap}\n")
    site.clear_log()
    done = subprocess.run(
        [sys.executable, "-m", "redline", "check", *urls, "--json", "--workers", "0"],
        env=environment(db_url, config=str(config)),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert summary(done) == {"new": len(urls)}
    paths = {a.path for a in site.articles}
    times = sorted(r.time for r in site.requests if r.path in paths)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert len(times) == len(urls)
    assert min(gaps) >= least - 0.05, gaps
    assert max(gaps) < least * 3, gaps  # the cap holds: never the full 600 s


def test_a_bad_site_policy_is_refused_with_its_section_named(db_url, site, tmp_path):
    """Checked before anything is fetched (in-process: nothing starts the crawl)."""
    track(db_url, site)
    config = tmp_path / "redline.toml"
    config.write_text('[policy.sites."example.com"]\nmin_interval = "0m"\n')
    done = CliRunner().invoke(cli, ["--db", db_url, "--config", str(config), "check", "--all"])
    assert done.exit_code == 1
    assert '[policy.sites."example.com"]' in done.stderr and "Traceback" not in done.stderr
    assert site.requests == []  # refused before fetching anything


def test_check_skips_what_another_worker_holds_and_says_so(pg_schema, site):
    """One article is being written by another connection (its row locked), another is
    leased by another worker: `redline check --all` checks the third, skips those two, says
    so, and exits in bounded time instead of waiting for them."""
    urls = track(pg_schema, site)
    store = open_store(pg_schema)
    ids = [store.get_article(u).id for u in urls]
    store.claim_ids([ids[1]], datetime.now(UTC), "another-worker", lease_seconds=600)
    store.close()
    conninfo, schema = split_schema(pg_schema)
    with psycopg.connect(conninfo, options=f"-c search_path={schema}") as other:
        other.execute("SELECT id FROM articles WHERE id = %s FOR UPDATE", (ids[0],))
        started = time.monotonic()
        done = redline(pg_schema, "check", "--all", timeout=60)
        elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(
        "1 new, 0 changed, 0 unchanged, 0 not modified, 0 gone, 0 unavailable, 0 error, 2 skipped"
    )
    assert elapsed < 30
    assert [r.path for r in site.requests if r.path.startswith("/")] == [
        "/robots.txt",
        site.articles[2].path,
    ]
