"""The crawler and daemon end to end: a real loopback news site, `redline check` and
`redline run` in subprocesses (the Twisted reactor runs once per process), real databases."""

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
from datetime import UTC, datetime, timedelta

import pytest

from storage import ArticleStatus, EventKind, open_store
from tests.conftest import REPO
from tests.newsite import Fault, NewsSite
from tests.tls import self_signed


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
    assert done.stdout.strip(), done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def track(db_url: str, site: NewsSite) -> list[str]:
    urls = [site.article_url(a.slug) for a in site.articles]
    redline(db_url, "add", *urls, check=True)
    return urls


def test_a_real_edit_is_one_revision_and_noise_is_none(db_url, site):
    urls = track(db_url, site)
    first = summary(redline(db_url, "check", "--all", "--json", "--workers", "1", check=True))
    assert first == {"new": 3}
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


def test_conditional_requests_send_the_stored_validators(db_url, site):
    urls = track(db_url, site)
    redline(db_url, "check", urls[0], "--json", check=True)
    site.clear_log()
    again = summary(redline(db_url, "check", urls[0], "--json", check=True))
    assert again == {"not_modified": 1}
    (request,) = [r for r in site.requests if r.path.startswith("/news/")]
    assert request.headers.get("if-none-match")


def test_gone_and_back_are_events_not_revisions(db_url, site):
    urls = track(db_url, site)
    slug = site.articles[1].slug
    redline(db_url, "check", urls[1], check=True)
    site.remove(slug, status=410)
    gone = summary(redline(db_url, "check", urls[1], "--json", check=True))
    assert gone == {"gone": 1}
    site.restore(slug)
    back = summary(redline(db_url, "check", urls[1], "--json", check=True))
    assert back.get("unchanged", 0) + back.get("changed", 0) == 1
    store = open_store(db_url)
    article = store.get_article(urls[1])
    kinds = [e.kind for e in store.events(article.id)]
    assert kinds == [EventKind.FIRST_SEEN, EventKind.GONE, EventKind.BACK]
    assert article.status is ArticleStatus.ACTIVE and len(store.history(article.id)) == 1
    store.close()


def test_a_permanent_redirect_moves_the_article(db_url, site):
    urls = track(db_url, site)
    redline(db_url, "check", urls[2], check=True)
    moved = site.move(site.articles[2].slug, "renamed-story", status=301)
    redline(db_url, "check", urls[2], check=True)
    store = open_store(db_url)
    article = store.get_article(urls[2])
    assert article.url == site.article_url(moved.slug)
    assert EventKind.MOVED in [e.kind for e in store.events(article.id)]
    assert len(store.history(article.id)) == 1
    store.close()


def test_private_addresses_are_refused_unless_allowed(db_url, site):
    urls = track(db_url, site)
    site.clear_log()
    done = redline(db_url, "check", "--all", "--json", private=False)
    assert done.returncode == 1  # nothing could be fetched
    assert summary(done) == {"error": 3}
    assert site.requests == []  # not even robots.txt reached the loopback site
    store = open_store(db_url)
    assert all("blocked_ssrf" in (store.get_article(u).last_error or "") for u in urls)
    store.close()


def test_misbehaving_hosts_become_errors_and_the_rest_is_checked(db_url, site):
    urls = track(db_url, site)
    site.misbehave(site.articles[0].path, Fault.error(500))
    site.misbehave(site.articles[1].path, Fault.retry_after("120"))
    result = summary(redline(db_url, "check", "--all", "--json", check=True))
    assert result == {"error": 2, "new": 1}
    store = open_store(db_url)
    assert "HTTP 500" in store.get_article(urls[0]).last_error
    assert "rate_limited" in store.get_article(urls[1]).last_error
    assert store.get_article(urls[2]).revision_count == 1
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


def wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not condition():
        time.sleep(0.2)


def test_run_stops_cleanly_on_sigterm_and_a_second_run_is_refused(tmp_path, site):
    db_url = f"sqlite:///{tmp_path / 'daemon.sqlite'}"
    urls = track(db_url, site)
    daemon = Daemon(db_url)
    store = open_store(db_url)
    try:
        wait_for(lambda: all(store.get_article(u).revision_count == 1 for u in urls))
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


@pytest.mark.parametrize(("path", "kind"), [("/feed.xml", "feed"), ("/sitemap.xml", "sitemap")])
def test_discovery_tracks_what_feeds_and_sitemaps_list(db_url, site, path, kind):
    redline(db_url, "sources", "add", site.url(path), "--kind", kind, "--every", "10m", check=True)
    expected = {site.article_url(a.slug) for a in site.articles}
    store = open_store(db_url)

    def tracked():
        return {a.url: a for a in store.list_articles() if a.url in expected}

    daemon = Daemon(db_url, workers="0")
    try:
        wait_for(
            lambda: (
                len(t := tracked()) == len(expected) and all(a.revision_count for a in t.values())
            )
        )
        code, errors = daemon.stop()
    finally:
        daemon.kill()
    assert code == 0, errors
    assert {u: a.revision_count for u, a in tracked().items()} == dict.fromkeys(expected, 1)
    store.close()


def test_a_live_feed_item_update_is_an_item_change(db_url, site):
    live = site.url("/live")
    redline(db_url, "sources", "add", live, "--kind", "live", check=True)
    assert summary(redline(db_url, "check", live, "--json", check=True)) == {"new": 1}
    store = open_store(db_url)
    first = store.revision(store.get_article(live).id, 1).page
    assert len(first.items) == 3
    key = site.add_live_item("Zelensky arrives in South Africa to meet President Ramaphosa.")
    assert summary(redline(db_url, "check", live, "--json", check=True)) == {"changed": 1}
    site.edit_live_item(key, "Zelensky arrives in South Africa (Updated: 8:10 AM).")
    assert summary(redline(db_url, "check", live, "--json", check=True)) == {"changed": 1}
    history = store.history(store.get_article(live).id)
    assert [r.number for r in history] == [1, 2, 3]
    assert any(c.field.startswith("item:") and c.kind == "added" for c in history[1].changes)
    assert any(c.field.startswith("item:") and c.kind == "changed" for c in history[2].changes)
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


def test_one_story_reached_two_ways_is_one_article(db_url, site):
    clean = site.article_url(site.articles[0].slug)
    other = clean + "?ref=frontpage"  # not a tracking parameter we know: rel=canonical decides
    redline(db_url, "add", clean, other, check=True)
    redline(db_url, "check", "--all", check=True)
    store = open_store(db_url)
    duplicate = store.get_article_by_id(store.get_article(other).id)
    assert store.get_article(clean).revision_count == 1
    assert duplicate.status is ArticleStatus.MOVED and duplicate.revision_count == 0
    assert [e.detail for e in store.events(duplicate.id) if e.kind is EventKind.MOVED] == [
        f"{clean} (rel=canonical)"
    ]
    store.close()


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


@pytest.mark.parametrize(("crawl_delay", "cap", "least"), [(2, 30, 2.0), (600, 1.5, 1.5)])
def test_robots_crawl_delay_spaces_requests_to_a_host_up_to_the_cap(
    db_url, site, tmp_path, crawl_delay, cap, least
):
    """Even with many requests allowed in flight per host, article fetches to a host whose
    robots.txt asks for a Crawl-delay are that far apart; a huge delay is cut to the cap."""
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


def test_a_sites_own_revisit_policy_sets_its_articles_next_check(db_url, site, tmp_path):
    """[policy.sites."..."] overrides the default policy for that site's articles only."""
    urls = track(db_url, site)
    config = tmp_path / "redline.toml"
    config.write_text(
        '[policy]\nmin_interval = "10m"\njitter = 0\n\n'
        '[policy.sites."127.0.0.1"]\nmin_interval = "3h"\nmax_interval = "2d"\n'
    )
    started = datetime.now(UTC)
    done = subprocess.run(
        [sys.executable, "-m", "redline", "check", urls[0], "--json"],
        env=environment(db_url, config=str(config)),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert summary(done) == {"new": 1}
    store = open_store(db_url)
    wait = store.get_article(urls[0]).next_check_at - started
    store.close()
    assert timedelta(hours=3) <= wait < timedelta(hours=3, minutes=5)


def test_a_bad_site_policy_is_refused_with_its_section_named(db_url, site, tmp_path):
    track(db_url, site)
    config = tmp_path / "redline.toml"
    config.write_text('[policy.sites."example.com"]\nmin_interval = "0m"\n')
    done = subprocess.run(
        [sys.executable, "-m", "redline", "check", "--all"],
        env=environment(db_url, config=str(config)),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert '[policy.sites."example.com"]' in done.stderr
    assert "Traceback" not in done.stderr
    assert site.requests_to(site.articles[0].path) == []  # refused before fetching anything
