"""Politeness as pure functions: Retry-After, backoff, per-host state, robots.txt, Crawl-delay.

Scrapy honours none of Retry-After (scrapy#3849), Crawl-delay, or RFC 9309's "robots.txt 5xx
means disallow" (its middleware allows everything after a robots.txt error). The middlewares in
`crawler.middlewares` are thin adapters over this module, and every politeness value is named
once, here. Keeping it pure (time and randomness are arguments) lets the tests walk through hours
of backoff without sleeping. Shapes follow StormCrawler (PRs #1973, #1984) and Nutch NUTCH-2946:
Retry-After blocks the host up to a cap; without it, 60 s doubling with 10 % jitter up to a day,
forgiven after 30 quiet minutes.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal

from protego import Protego

PER_HOST_CONCURRENCY = 2  # requests in flight per host
THROTTLE_START_DELAY = 0.5  # AutoThrottle's first delay between requests to a host (seconds)
THROTTLE_MAX_DELAY = 30.0  # AutoThrottle never waits longer than this between requests
CRAWL_DELAY_CAP = 30.0  # a larger Crawl-delay is capped to this (StormCrawler's default)
PAUSE_STATUSES = frozenset({429, 503})  # answers that pause the whole host
RETRY_AFTER_CAP = 86400.0  # one day: the longest pause a Retry-After header gets
BACKOFF_BASE = 60.0  # the first pause after a 429/503 without Retry-After (seconds)
BACKOFF_CAP = RETRY_AFTER_CAP  # doubling stops at a day too
BACKOFF_JITTER = 0.1  # +-10 %, so hosts paused together are not asked again in step
BACKOFF_QUIET_RESET = timedelta(minutes=30)  # failures older than this are forgiven
ROBOTS_TTL = timedelta(hours=24)  # RFC 9309 2.4: do not use a cached copy for longer
ROBOTS_ERROR_TTL = timedelta(minutes=10)  # retry an unreachable robots.txt this soon
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 2.5: parse at least 500 KiB

RobotsVerdict = Literal["allow_all", "parse", "disallow_all"]


def parse_retry_after(
    value: str | None, now: datetime, *, cap: float = RETRY_AFTER_CAP
) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or HTTP-date), clamped to
    [0, cap]; None when absent or unparsable, so the caller falls back to its own backoff."""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return min(float(int(text)), cap)
    if not text or text.lstrip("+-").isdigit():
        return None  # negative or signed numbers are not delay-seconds
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return min(max((moment - now).total_seconds(), 0.0), cap)


def backoff_delay(
    attempt: int,
    *,
    base: float = BACKOFF_BASE,
    cap: float = BACKOFF_CAP,
    jitter: float = BACKOFF_JITTER,
    rng: random.Random | None = None,
) -> float:
    """base * 2**(attempt-1), capped, then spread by +-jitter so hosts do not retry in step."""
    exponent = min(max(attempt, 1) - 1, 64)
    delay = min(base * math.pow(2, exponent), cap)
    if jitter and rng is not None:
        delay *= 1 + rng.uniform(-jitter, jitter)
    return max(delay, 0.0)


@dataclass(frozen=True, slots=True)
class BackoffSettings:
    base: float = BACKOFF_BASE
    cap: float = BACKOFF_CAP
    jitter: float = BACKOFF_JITTER
    quiet_reset: timedelta = BACKOFF_QUIET_RESET
    retry_after_cap: float = RETRY_AFTER_CAP


@dataclass(frozen=True, slots=True)
class HostBackoff:
    """One host's backoff state. Transitions return a new value; store it per host."""

    blocked_until: datetime | None = None
    consecutive_failures: int = 0
    last_failure: datetime | None = None

    def is_blocked(self, now: datetime) -> bool:
        return self.blocked_until is not None and now < self.blocked_until

    def wait(self, now: datetime) -> float:
        """Seconds until the host may be asked again (0 when it may be asked now)."""
        if self.blocked_until is None:
            return 0.0
        return max((self.blocked_until - now).total_seconds(), 0.0)

    def forgiven(self, now: datetime, settings: BackoffSettings = BackoffSettings()) -> HostBackoff:
        """The state after a quiet period: old failures no longer count."""
        if self.last_failure is not None and now - self.last_failure >= settings.quiet_reset:
            return replace(self, consecutive_failures=0)
        return self

    def after_success(self, now: datetime) -> HostBackoff:
        """A healthy answer clears the host, except during a pause: an answer to a request sent
        before the 429 does not lift what the server asked for."""
        return self if self.is_blocked(now) else HostBackoff()

    def after_failure(
        self,
        now: datetime,
        retry_after: float | None = None,
        *,
        settings: BackoffSettings = BackoffSettings(),
        rng: random.Random | None = None,
    ) -> HostBackoff:
        """A 429/503, with `retry_after` seconds when the server said how long to wait."""
        failures = self.forgiven(now, settings).consecutive_failures + 1
        if retry_after is not None:
            delay = min(max(retry_after, 0.0), settings.retry_after_cap)
        else:
            delay = backoff_delay(
                failures, base=settings.base, cap=settings.cap, jitter=settings.jitter, rng=rng
            )
        until = now + timedelta(seconds=delay)
        if self.blocked_until is not None and self.blocked_until > until:
            until = self.blocked_until
        return HostBackoff(blocked_until=until, consecutive_failures=failures, last_failure=now)


def robots_verdict(status: int | None, error: bool) -> RobotsVerdict:
    """What a robots.txt answer means (RFC 9309 2.3.1): 2xx parse it; 3xx left after the
    redirect limit and 4xx allow everything; 429, 5xx, no answer or a network error disallow
    everything for now (retried after `ROBOTS_ERROR_TTL`)."""
    if error or status is None:
        return "disallow_all"
    if 200 <= status < 300:
        return "parse"
    if status == 429:
        return "disallow_all"
    if 300 <= status < 500:
        return "allow_all"
    return "disallow_all"


def robots_ttl(
    verdict: RobotsVerdict,
    *,
    ttl: timedelta = ROBOTS_TTL,
    error_ttl: timedelta = ROBOTS_ERROR_TTL,
) -> timedelta:
    """How long a robots.txt verdict may be reused before fetching robots.txt again."""
    return error_ttl if verdict == "disallow_all" else ttl


def parse_robots(body: bytes, *, max_bytes: int = ROBOTS_MAX_BYTES) -> Protego:
    """Protego rules from the first `max_bytes` of a robots.txt (the rest is ignored)."""
    return Protego.parse(body[:max_bytes].decode("utf-8", errors="replace"))


def effective_crawl_delay(declared: float | None, *, cap: float = CRAWL_DELAY_CAP) -> float | None:
    """The gap to keep between requests to a host: its Crawl-delay, at most `cap`; None when
    robots.txt asks for none (or for nonsense), leaving the pace to AutoThrottle."""
    if declared is None or not math.isfinite(declared) or declared <= 0:
        return None
    return min(declared, cap)


def next_send_at(previous: datetime | None, now: datetime, gap: float | None) -> datetime:
    """When a request to a host may leave: `gap` seconds after the previous one, never before
    now. Exact, without jitter: Scrapy's ±50 % would send some requests sooner than asked."""
    if previous is None or not gap:
        return now
    return max(now, previous + timedelta(seconds=gap))


def build_user_agent(version: str, contact_url: str | None = None) -> str:
    """ "Redline/0.1 (+https://example.org/contact)": product, version and who to write to."""
    return f"Redline/{version} (+{contact_url})" if contact_url else f"Redline/{version}"


@dataclass(frozen=True, slots=True)
class RobotsRecord:
    """One host's robots.txt as last fetched: verdict, rules, and when to fetch it again.

    Build it with `from_response` after fetching /robots.txt (redirects followed), keep one per
    host, and ask `allows` before every request; when `expired(now)`, fetch robots.txt again.
    """

    verdict: RobotsVerdict
    fetched_at: datetime
    expires_at: datetime
    rules: Protego | None = None

    @classmethod
    def from_response(
        cls,
        status: int | None,
        body: bytes,
        *,
        error: bool,
        now: datetime,
        ttl: timedelta = ROBOTS_TTL,
        error_ttl: timedelta = ROBOTS_ERROR_TTL,
    ) -> RobotsRecord:
        verdict = robots_verdict(status, error)
        rules = parse_robots(body) if verdict == "parse" else None
        return cls(verdict, now, now + robots_ttl(verdict, ttl=ttl, error_ttl=error_ttl), rules)

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def allows(self, url: str, user_agent: str) -> bool:
        if self.verdict == "allow_all":
            return True
        if self.verdict == "disallow_all" or self.rules is None:
            return False
        return bool(self.rules.can_fetch(url, user_agent))

    def crawl_delay(self, user_agent: str, *, cap: float = CRAWL_DELAY_CAP) -> float | None:
        """The gap to keep between requests to this host (its Crawl-delay, capped), if any."""
        declared = self.rules.crawl_delay(user_agent) if self.rules is not None else None
        return effective_crawl_delay(declared, cap=cap)
