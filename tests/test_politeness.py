"""Politeness: Retry-After, backoff, per-host state, robots.txt verdicts, Crawl-delay (POL-*)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redline.crawler.errors import FetchError
from redline.crawler.fetch_once import fetch_once
from redline.crawler.politeness import (
    BackoffSettings,
    HostBackoff,
    RobotsRecord,
    backoff_delay,
    build_user_agent,
    effective_crawl_delay,
    next_send_at,
    parse_retry_after,
    parse_robots,
    robots_ttl,
    robots_verdict,
)
from redline.newsite import Fault, NewsSite

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (" 30 ", 30.0),
        ("86400000", 86400.0),  # capped at a day
        ("-5", None),
        ("+5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("Fri, 27 Nov 2026 12:02:00 GMT", 120.0),
        ("Fri, 27 Nov 2026 11:00:00 GMT", 0.0),  # in the past
        ("Sat, 27 Nov 2027 12:00:00 GMT", 86400.0),
        ("Friday, 27-Nov-26 12:01:00 GMT", 60.0),  # RFC 850 form
        ("Fri Nov 27 12:00:30 2026", 30.0),  # asctime form
        ("Fri, 99 Nov 2026 12:00:00 GMT", None),
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, NOW) == expected


@given(st.text(max_size=40))
def test_parse_retry_after_is_total_and_bounded(value):
    """FUZZ-05: never raises; any result lies within [0, cap]."""
    result = parse_retry_after(value, NOW, cap=3600)
    assert result is None or 0 <= result <= 3600


def test_backoff_doubles_from_a_minute_to_a_day():
    delays = [backoff_delay(n, jitter=0) for n in (1, 2, 3, 4, 12, 1000)]
    assert delays == [60, 120, 240, 480, 86400, 86400]


def test_backoff_jitter_stays_within_ten_percent_and_is_reproducible():
    first = [backoff_delay(3, rng=random.Random(7)) for _ in range(3)]
    assert first == [backoff_delay(3, rng=random.Random(7)) for _ in range(3)]
    spread = [backoff_delay(3, rng=random.Random(seed)) for seed in range(200)]
    assert all(216 <= d <= 264 for d in spread) and len(set(spread)) > 100


def test_retry_after_blocks_the_host_until_then():
    state = HostBackoff().after_failure(NOW, retry_after=120)
    assert state.is_blocked(NOW + timedelta(seconds=119))
    assert not state.is_blocked(NOW + timedelta(seconds=120))
    assert state.wait(NOW + timedelta(seconds=20)) == 100
    assert HostBackoff().after_failure(NOW, retry_after=10**9).wait(NOW) == 86400


def test_headerless_failures_back_off_exponentially_then_reset_after_quiet():
    settings = BackoffSettings(jitter=0)
    state, now, waits = HostBackoff(), NOW, []
    for _ in range(4):
        state = state.after_failure(now, settings=settings)
        waits.append(state.wait(now))
        now = state.blocked_until
    assert waits == [60, 120, 240, 480]
    later = now + timedelta(minutes=31)
    assert state.forgiven(later, settings).consecutive_failures == 0
    assert state.after_failure(later, settings=settings).wait(later) == 60
    assert state.after_success(later) == HostBackoff()


def test_a_success_clears_the_host_once_its_pause_is_over():
    state = HostBackoff().after_failure(NOW, retry_after=120)
    assert state.after_success(NOW + timedelta(seconds=5)) == state  # sent before the 429
    assert state.after_success(NOW + timedelta(seconds=120)) == HostBackoff()


def test_a_shorter_retry_after_never_shortens_an_existing_block():
    state = HostBackoff().after_failure(NOW, retry_after=600)
    again = state.after_failure(NOW + timedelta(seconds=10), retry_after=5)
    assert again.blocked_until == NOW + timedelta(seconds=600)


@pytest.mark.parametrize(
    ("status", "error", "verdict"),
    [
        (200, False, "parse"),
        (204, False, "parse"),
        (301, False, "allow_all"),
        (401, False, "allow_all"),
        (403, False, "allow_all"),
        (404, False, "allow_all"),
        (410, False, "allow_all"),
        (429, False, "disallow_all"),
        (500, False, "disallow_all"),
        (503, False, "disallow_all"),
        (None, True, "disallow_all"),
        (None, False, "disallow_all"),
        (200, True, "disallow_all"),
    ],
)
def test_robots_verdict_follows_rfc_9309(status, error, verdict):
    assert robots_verdict(status, error) == verdict


def test_robots_errors_are_retried_soon_and_answers_kept_a_day():
    assert robots_ttl("disallow_all") == timedelta(minutes=10)
    assert robots_ttl("parse") == robots_ttl("allow_all") == timedelta(hours=24)


def _robots_from(site: NewsSite) -> str:
    try:
        page = fetch_once(site.url("/robots.txt"), allow_private=True, timeout=0.5)
    except FetchError:
        return robots_verdict(None, True)
    return robots_verdict(page.status, False)


@pytest.mark.parametrize(
    ("fault", "verdict"),
    [
        (None, "parse"),
        (Fault.error(404), "allow_all"),
        (Fault.error(500), "disallow_all"),
        (Fault.error(503), "disallow_all"),
        (Fault.hang(), "disallow_all"),
        (Fault.reset(), "disallow_all"),
    ],
)
def test_robots_verdict_from_a_real_server(fault, verdict):
    with NewsSite(articles=1) as site:
        if fault is not None:
            site.misbehave("/robots.txt", fault)
        assert _robots_from(site) == verdict


def test_robots_rules_are_read_to_500_kib():
    filler = "# " + "x" * 1000 + "\n"
    body = ("User-agent: *\n" + filler * 510 + "Disallow: /late/\n" + filler * 100).encode()
    assert len(body) > 580 * 1024 and body.index(b"Disallow") > 499 * 1024
    rules = parse_robots(body)
    assert not rules.can_fetch("https://example.com/late/story", "Redline")
    assert rules.can_fetch("https://example.com/news/story", "Redline")


@pytest.mark.parametrize(
    ("declared", "gap"),
    [(5, 5), (0.2, 0.2), (30, 30), (3600, 30), (None, None), (0, None), (-3, None),
     (float("nan"), None), (float("inf"), None)],
)  # fmt: skip
def test_crawl_delay_is_honoured_up_to_the_cap(declared, gap):
    assert effective_crawl_delay(declared) == gap


def test_crawl_delay_from_robots_rules_and_a_smaller_cap():
    rules = parse_robots(b"User-agent: *\nCrawl-delay: 5\n")
    assert effective_crawl_delay(rules.crawl_delay("Redline")) == 5
    assert effective_crawl_delay(rules.crawl_delay("Redline"), cap=1.5) == 1.5


@pytest.mark.parametrize(
    ("previous", "now", "gap", "expected"),
    [
        (None, 0, 5.0, 0),  # the first request to a host leaves at once
        (0, 1, None, 1),  # no Crawl-delay: no wait
        (0, 1, 5.0, 5),  # exactly the gap after the previous one, no jitter
        (0, 9, 5.0, 9),  # a quiet host: at once
        (20, 1, 5.0, 25),  # turns already reserved: after the last of them
    ],
)
def test_next_send_at_keeps_the_gap_exactly(previous, now, gap, expected):
    at = lambda s: NOW + timedelta(seconds=s)  # noqa: E731
    previous_at = None if previous is None else at(previous)
    assert next_send_at(previous_at, at(now), gap) == at(expected)


def test_user_agent_names_redline_and_a_contact():
    assert (
        build_user_agent("0.1", "https://example.org/bot")
        == "Redline/0.1 (+https://example.org/bot)"
    )
    assert build_user_agent("0.1") == "Redline/0.1"


def test_robots_record_from_a_real_site_obeys_rules_and_expires():
    with NewsSite(articles=1) as site:
        site.set_robots("User-agent: *\nDisallow: /private/\nCrawl-delay: 4\n")
        page = fetch_once(site.url("/robots.txt"), allow_private=True)
        record = RobotsRecord.from_response(page.status, page.body, error=False, now=NOW)
        assert record.allows(site.url("/news/story"), "Redline/0.1")
        assert not record.allows(site.url("/private/x"), "Redline/0.1")
        assert record.crawl_delay("Redline/0.1") == 4
        assert not record.expired(NOW + timedelta(hours=23))
        assert record.expired(NOW + timedelta(hours=24))


def test_robots_record_after_a_server_error_refuses_everything_briefly():
    record = RobotsRecord.from_response(503, b"User-agent: *\nAllow: /\n", error=False, now=NOW)
    assert not record.allows("https://example.com/news/a", "Redline")
    assert record.expires_at == NOW + timedelta(minutes=10)
    assert record.crawl_delay("Redline") is None
    missing = RobotsRecord.from_response(404, b"", error=False, now=NOW)
    assert missing.allows("https://example.com/anything", "Redline")
    unreachable = RobotsRecord.from_response(None, b"", error=True, now=NOW)
    assert not unreachable.allows("https://example.com/", "Redline")
