"""Scrapy downloader middlewares: the egress gate per hop, per-host backoff, robots.txt policy.

A request these refuse ends in the spider's errback with `request.meta["redline_error"]` set to
(reason, message), so the check is recorded with a reason from `crawler.errors.Reason`.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.extensions.throttle import AutoThrottle
from scrapy.http import Request, Response
from scrapy.logformatter import LogFormatter, LogFormatterResult
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

from crawler import politeness
from crawler.crawlsettings import CrawlSettings
from crawler.errors import BlockedURL, Reason
from crawler.failures import ERROR_KEY, classify
from crawler.netguard import check_url

log = logging.getLogger(__name__)


def refuse(request: Request, reason: Reason, message: str, **extra: Any) -> IgnoreRequest:
    request.meta[ERROR_KEY] = (str(reason), message)
    request.meta.update(extra)
    return IgnoreRequest(message)


def _settings(crawler: Any) -> CrawlSettings:
    return crawler.settings.get("REDLINE_CRAWL") or CrawlSettings()


class EgressGuardMiddleware:
    """Every request, including each redirect hop, must be http(s) to an allowed address.

    IP literals are refused here; host names are refused by the resolver (crawler.resolver),
    on the address actually connected to.
    """

    def __init__(self, settings: CrawlSettings) -> None:
        self.allow_private = settings.allow_private_networks

    @classmethod
    def from_crawler(cls, crawler: Any) -> EgressGuardMiddleware:
        return cls(_settings(crawler))

    def process_response(self, request: Request, response: Response) -> Response:
        """A redirect to a URL we would never fetch (file:, ftp:...) is refused here, with its
        reason, before Scrapy's redirect middleware quietly drops it."""
        location = response.headers.get(b"Location")
        if 300 <= response.status < 400 and location:
            target = urljoin(request.url, location.decode("latin-1"))
            try:
                check_url(target, allow_private=self.allow_private)
            except BlockedURL as exc:
                raise refuse(request, exc.reason, f"{exc} (redirect hop)") from exc
        return response

    def process_request(self, request: Request) -> None:
        try:
            check_url(request.url, allow_private=self.allow_private)
        except BlockedURL as exc:
            hop = " (redirect hop)" if request.meta.get("redirect_urls") else ""
            raise refuse(request, exc.reason, f"{exc}{hop}") from exc


@dataclass
class _HostState:
    blocked_until: float = 0.0  # time.monotonic() before which the host is left alone
    strikes: int = 0  # 429/503 answers in a row


class HostBackoffMiddleware:
    """429 and 503 pause the whole host: for Retry-After (capped) when given, otherwise with
    exponential backoff and jitter. Requests to a paused host are not sent; the daemon
    reschedules them for when the pause ends."""

    def __init__(self, cap: float = 24 * 3600.0) -> None:
        self.cap = cap
        self.hosts: dict[str, _HostState] = {}
        self.rng = random.Random()

    @classmethod
    def from_crawler(cls, crawler: Any) -> HostBackoffMiddleware:
        return cls()

    def process_request(self, request: Request) -> None:
        state = self.hosts.get(urlparse_cached(request).netloc)
        if state is None:
            return
        wait = state.blocked_until - time.monotonic()
        if wait > 0:
            raise refuse(
                request,
                Reason.RATE_LIMITED,
                f"host paused for {wait:.0f} s more (429/503)",
                redline_retry_after=wait,
            )

    def process_response(self, request: Request, response: Response) -> Response:
        host = urlparse_cached(request).netloc
        if response.status not in (429, 503):
            if host in self.hosts and response.status < 500:
                del self.hosts[host]
            return response
        state = self.hosts.setdefault(host, _HostState())
        state.strikes += 1
        header = response.headers.get(b"Retry-After")
        value = header.decode("latin-1") if header else None
        delay = politeness.parse_retry_after(value, datetime.now(UTC))
        if delay is None:
            delay = politeness.backoff_delay(state.strikes, rng=self.rng)
        delay = min(delay, self.cap)
        state.blocked_until = time.monotonic() + delay
        request.meta["redline_retry_after"] = delay
        return response


class _Disallowed:
    """A robots.txt that could not be read: RFC 9309 says assume complete disallow for now.
    When fetching it failed, `reason` and `message` say why (a TLS error, a refused address...):
    the pages of that host are refused for the same reason."""

    def __init__(self, reason: str | None = None, message: str = "") -> None:
        self.reason = reason
        self.message = message

    def allowed(self, url: str, user_agent: Any) -> bool:
        return False

    def crawl_delay(self, user_agent: Any) -> None:
        return None


class RobotsPolicyMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt handling, with what it lacks for a long-running daemon:

    - 5xx or an unreachable robots.txt means "do not fetch for now" (Scrapy allows everything);
    - robots.txt is re-read after a TTL (Scrapy keeps it for the life of the process);
    - Crawl-delay is honoured, up to a cap, as the host's download delay.
    """

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self.cs = _settings(crawler)
        self._expires: dict[str, float] = {}

    async def robot_parser(self, request: Request) -> Any:
        netloc = urlparse_cached(request).netloc
        if netloc in self._parsers and self._expires.get(netloc, float("inf")) < time.monotonic():
            del self._parsers[netloc]
        parser = await super().robot_parser(request)
        # Scrapy hands one Deferred to every request waiting for the same robots.txt; all but
        # the first waiter receive None from it ("no robots.txt": allow everything). The
        # settled parser is in the dict by then: use that.
        settled = self._parsers.get(netloc)
        return parser if settled is None or isinstance(settled, Deferred) else settled

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        if response.status >= 500:
            self._settle(netloc, _Disallowed(), self.cs.robots_error_ttl)
            return
        await super()._parse_robots(response, netloc, request)
        self._expires[netloc] = time.monotonic() + self.cs.robots_ttl
        self._apply_crawl_delay(netloc, self._parsers.get(netloc))

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        reason, message = classify(exc, {}, netloc.rsplit(":", 1)[0])
        self._settle(netloc, _Disallowed(reason, message), self.cs.robots_error_ttl)

    def _settle(self, netloc: str, parser: Any, ttl: float) -> None:
        waiting = self._parsers.get(netloc)
        self._parsers[netloc] = parser
        self._expires[netloc] = time.monotonic() + ttl
        if waiting is not None and hasattr(waiting, "callback") and not waiting.called:
            waiting.callback(parser)

    def process_request_2(self, rp: Any, request: Request) -> None:
        if isinstance(rp, _Disallowed) and rp.reason:
            raise refuse(request, Reason(rp.reason), f"robots.txt: {rp.message}")

        if isinstance(rp, _Disallowed):
            raise refuse(
                request,
                Reason.ROBOTS_UNREACHABLE,
                "robots.txt is unreachable or answers 5xx: not fetching for now",
            )
        try:
            super().process_request_2(rp, request)
        except IgnoreRequest:
            raise refuse(request, Reason.ROBOTS_DISALLOWED, "forbidden by robots.txt") from None

    def _apply_crawl_delay(self, netloc: str, parser: Any) -> None:
        delay = parser.crawl_delay(self._default_useragent) if parser is not None else None
        if not delay:
            return
        delay = min(float(delay), self.cs.crawl_delay_cap)
        downloader = self.crawler.engine.downloader
        host = netloc.split(":")[0]
        # No jitter: Scrapy's would send some requests up to 50 % sooner than robots.txt asks.
        downloader.per_slot_settings.setdefault(host, {}).update(delay=delay, jitter=0.0)
        slot = downloader.slots.get(host)
        if slot is not None:
            slot.delay, slot.jitter = max(slot.delay, delay), 0.0
        log.info("robots.txt of %s asks for a %.1f s crawl delay", netloc, delay)


class RevalidationThrottle(AutoThrottle):
    """AutoThrottle that lets a 304 lower the delay like a 200 does.

    Scrapy ignores the latency of non-200 answers when it would shorten the delay (error pages
    are small and fast); a 304 is the healthy answer of a re-check, and without this a pass of
    re-checks never leaves the start delay.
    """

    def _adjust_delay(self, slot: Any, latency: float, response: Response) -> None:
        if response.status == 304:
            response = response.replace(status=200)
        super()._adjust_delay(slot, latency, response)


class NoRefererRedirect(RedirectMiddleware):
    """Scrapy's redirects, without its Referer spider middleware (which the daemon does not
    run: it sends no Referer at all). A redirect hop never carries one either."""

    def handle_referer(self, request: Request, response: Response) -> None:
        request.headers.pop("Referer", None)

    def _engine_started(self) -> None:
        """Scrapy warns here when no Referer middleware runs: none is wanted."""


class QuietLogFormatter(LogFormatter):
    """No "Crawled (200)" record per response: it is built even when DEBUG is off, and the
    daemon's own log says what each check found."""

    def crawled(self, request: Request, response: Response, spider: Any) -> LogFormatterResult:
        return None  # type: ignore[return-value]
