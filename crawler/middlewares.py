"""Scrapy downloader middlewares: thin adapters over `crawler.politeness` and the egress gate.

The rules and their values live in `crawler.politeness`; these classes only keep per-host state,
read the clock and turn Scrapy requests and responses into arguments of those pure functions.
A request they refuse ends in the spider's errback with `request.meta["redline_error"]` set to
(reason, message), so the check is recorded with a reason from `crawler.errors.Reason`.
Their order (crawlsettings): egress gate, proxy target check (only with `[crawl] proxy`),
robots.txt (rules, then Crawl-delay), host backoff.
Public Scrapy API only; what needs private API is in `crawler.scrapy_hooks`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response
from scrapy.http.request import NO_CALLBACK
from scrapy.logformatter import LogFormatter, LogFormatterResult
from scrapy.utils.httpobj import urlparse_cached

from redline.crawler import netguard, politeness
from redline.crawler.crawlsettings import CrawlSettings
from redline.crawler.errors import BlockedURL, FetchError, Reason
from redline.crawler.failures import ERROR_KEY, classify
from redline.crawler.netguard import check_url
from redline.crawler.politeness import BackoffSettings, HostBackoff, RobotsRecord

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]  # returns an aware UTC datetime; tests inject a fake
Sleep = Callable[[float], Awaitable[None]]
Download = Callable[[Request], Awaitable[Response]]
RETRY_AFTER_KEY = "redline_retry_after"  # request.meta: seconds until the host may be asked


def utc_now() -> datetime:
    return datetime.now(UTC)


class Refused(IgnoreRequest):
    """A request one of our middlewares refused; carries what `refuse` put in its meta, so a
    caller holding only the exception (the robots.txt fetch) knows why too."""

    def __init__(self, reason: str, message: str, extra: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.extra = dict(extra)


def refuse(request: Request, reason: Reason | str, message: str, **extra: Any) -> Refused:
    request.meta[ERROR_KEY] = (str(reason), message)
    request.meta.update(extra)
    return Refused(str(reason), message, extra)


def crawl_settings(crawler: Any) -> CrawlSettings:
    return crawler.settings.get("REDLINE_CRAWL") or CrawlSettings()


class EgressGuardMiddleware:
    """Every request, including each redirect hop, must be http(s) to an allowed address.

    IP literals are refused here; host names are refused by the resolver (crawler.resolver),
    on the address actually connected to, or, through a proxy, by `ProxyTargetGuardMiddleware`.
    Every request names the configured proxy, or none: whatever else set `meta["proxy"]` (or
    Scrapy's middleware, from http_proxy in the environment) is overruled.
    """

    def __init__(self, settings: CrawlSettings) -> None:
        self.allow_private = settings.allow_private_networks
        self.proxy = settings.proxy

    @classmethod
    def from_crawler(cls, crawler: Any) -> EgressGuardMiddleware:
        return cls(crawl_settings(crawler))

    def process_response(self, request: Request, response: Response) -> Response:
        """A redirect to a URL we would never fetch (file:, ftp:...) is refused here, with its
        reason, where Scrapy's redirect middleware would quietly return the 3xx."""
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
        if self.proxy is None:
            request.meta.pop("proxy", None)  # the download handler would use it as it is
        else:
            request.meta["proxy"] = self.proxy


class ProxyTargetGuardMiddleware:
    """With `[crawl] proxy`, the proxy connects to the target, not us: the connect-time resolver
    (crawler.resolver) only ever sees the proxy's address. So the target's name is resolved and
    checked here (`netguard.resolve_checked`) before the request is handed to the proxy; an
    answer with a private address is refused as `blocked_ssrf`, one that cannot be resolved as
    `dns_error`. The proxy resolves the name again: a rebinding between the two lookups is not
    caught here, only by a proxy that refuses private destinations itself.
    Off without a proxy, and with `allow_private_networks` (nothing to refuse).
    """

    def __init__(self, settings: CrawlSettings, *, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self.resolver: netguard.Resolver = netguard.system_resolver

    @classmethod
    def from_crawler(cls, crawler: Any) -> ProxyTargetGuardMiddleware:
        cs = crawl_settings(crawler)
        if cs.proxy is None or cs.allow_private_networks:
            raise NotConfigured
        return cls(cs, timeout=crawler.settings.getfloat("DNS_TIMEOUT", 10.0))

    async def process_request(self, request: Request) -> None:
        url = urlparse_cached(request)
        host = (url.hostname or "").rstrip(".")
        port = url.port or netguard.ALLOWED_SCHEMES.get(url.scheme, 80)
        check = functools.partial(
            netguard.resolve_checked,
            host,
            port,
            allow_private=False,
            timeout=self.timeout,
            resolver=self.resolver,
        )
        try:  # getaddrinfo blocks: off the event loop
            await asyncio.get_running_loop().run_in_executor(None, check)
        except FetchError as exc:  # BlockedURL included
            hop = " (redirect hop)" if request.meta.get("redirect_urls") else ""
            raise refuse(request, exc.reason, f"{exc}{hop}") from exc


class HostBackoffMiddleware:
    """429 and 503 pause the whole host (`politeness.HostBackoff`): until Retry-After (capped)
    when given, otherwise with exponential backoff and jitter. Requests to a paused host are not
    sent; `redline_retry_after` tells the daemon when to try again."""

    def __init__(
        self,
        settings: BackoffSettings | None = None,
        *,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings or BackoffSettings()
        self.clock = clock
        self.rng = rng or random.Random()
        self.hosts: dict[str, HostBackoff] = {}

    @classmethod
    def from_crawler(cls, crawler: Any, **overrides: Any) -> HostBackoffMiddleware:
        return cls(**overrides)

    def process_request(self, request: Request) -> None:
        state = self.hosts.get(urlparse_cached(request).netloc)
        now = self.clock()
        if state is not None and state.is_blocked(now):
            wait = state.wait(now)
            message = f"host paused for {wait:.0f} s more (429/503)"
            raise refuse(request, Reason.RATE_LIMITED, message, **{RETRY_AFTER_KEY: wait})

    def process_response(self, request: Request, response: Response) -> Response:
        host, now = urlparse_cached(request).netloc, self.clock()
        state = self.hosts.get(host, HostBackoff())
        if response.status in politeness.PAUSE_STATUSES:
            retry_after = politeness.parse_retry_after(
                _header(response, b"Retry-After"), now, cap=self.settings.retry_after_cap
            )
            state = state.after_failure(now, retry_after, settings=self.settings, rng=self.rng)
            request.meta[RETRY_AFTER_KEY] = state.wait(now)
        elif response.status < 500:
            state = state.after_success(now)
        self._store(host, state)
        return response

    def _store(self, host: str, state: HostBackoff) -> None:
        if state == HostBackoff():
            self.hosts.pop(host, None)  # a healthy host leaves nothing behind
        else:
            self.hosts[host] = state


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


@dataclass(frozen=True, slots=True)
class HostRobots:
    """A host's robots.txt record and, when fetching it failed, why: its pages fail the same
    way (a refused address stays `blocked_ssrf`, a bad certificate `tls_error`)."""

    record: RobotsRecord
    reason: str | None = None
    message: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


class RobotsPolicyMiddleware:
    """robots.txt as RFC 9309 asks, which Scrapy's RobotsTxtMiddleware does not do:

    - fetched once per host through the engine's public `download_async` (redirects followed),
      every request that arrives meanwhile waiting for that one fetch;
    - 4xx allows everything; 429 or 5xx refuses everything for now (`robots_unreachable`);
      a failed fetch refuses the host's pages with that failure's reason; both are retried after
      the error TTL, a readable robots.txt re-read after the TTL (a day);
    - Crawl-delay (capped) is kept exactly between requests to the host: a request waits here
      until its turn, so the later middlewares (host backoff) see it when it really leaves.
    """

    def __init__(
        self,
        download: Download,
        *,
        user_agent: str,
        ttl: timedelta = politeness.ROBOTS_TTL,
        error_ttl: timedelta = politeness.ROBOTS_ERROR_TTL,
        crawl_delay_cap: float = politeness.CRAWL_DELAY_CAP,
        clock: Clock = utc_now,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.download = download
        self.user_agent = user_agent
        self.ttl, self.error_ttl = ttl, error_ttl
        self.crawl_delay_cap = crawl_delay_cap
        self.clock, self.sleep = clock, sleep
        self.hosts: dict[str, HostRobots] = {}
        self._fetches: dict[str, asyncio.Future[HostRobots]] = {}
        self._next_send: dict[str, datetime] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler, **overrides: Any) -> RobotsPolicyMiddleware:
        if not crawler.settings.getbool("ROBOTSTXT_OBEY"):
            raise NotConfigured
        cs = crawl_settings(crawler)

        def download(request: Request) -> Awaitable[Response]:
            return crawler.engine.download_async(request)  # the engine exists once crawling

        return cls(
            download,
            user_agent=crawler.settings["USER_AGENT"],
            ttl=timedelta(seconds=cs.robots_ttl),
            error_ttl=timedelta(seconds=cs.robots_error_ttl),
            crawl_delay_cap=cs.crawl_delay_cap,
            **overrides,
        )

    async def process_request(self, request: Request) -> None:
        if request.meta.get("dont_obey_robotstxt"):
            return
        url = urlparse_cached(request)
        robots = await self._robots(url.scheme, url.netloc)
        _obey(robots, request, self.user_agent)
        await self._pace(url.netloc, self._gap(robots.record))

    async def _robots(self, scheme: str, netloc: str) -> HostRobots:
        known = self.hosts.get(netloc)
        if known is not None and not known.record.expired(self.clock()):
            return known
        fetch = self._fetches.get(netloc)
        if fetch is None:
            gap = self._gap(known.record) if known is not None else None
            fetch = asyncio.ensure_future(self._fetch(scheme, netloc, gap))
            self._fetches[netloc] = fetch
            fetch.add_done_callback(lambda _: self._fetches.pop(netloc, None))
        return await asyncio.shield(fetch)  # one waiter cancelled must not cancel the fetch

    async def _fetch(self, scheme: str, netloc: str, gap: float | None) -> HostRobots:
        await self._pace(netloc, gap)  # re-reading robots.txt keeps the old Crawl-delay
        request = Request(
            f"{scheme}://{netloc}/robots.txt",
            callback=NO_CALLBACK,
            dont_filter=True,
            meta={"dont_obey_robotstxt": True},
        )
        try:
            response = await self.download(request)
        except Refused as exc:  # by our own middlewares (a redirect hop, a paused host)
            robots = self._failed(netloc, exc.reason, exc.message, exc.extra)
        except Exception as exc:
            host = urlparse_cached(request).hostname or ""
            robots = self._failed(netloc, *classify(exc, request.meta, host))
        else:
            robots = HostRobots(self._record(response.status, response.body, error=False))
        if robots.reason != Reason.RATE_LIMITED:  # a paused host is asked again after its pause
            self._forget_stale()
            self.hosts[netloc] = robots
        return robots

    def _failed(
        self, netloc: str, reason: str, message: str, extra: Mapping[str, Any] | None = None
    ) -> HostRobots:
        log.warning("robots.txt of %s could not be read (%s): %s", netloc, reason, message)
        return HostRobots(self._record(None, b"", error=True), reason, message, extra or {})

    def _record(self, status: int | None, body: bytes, *, error: bool) -> RobotsRecord:
        return RobotsRecord.from_response(
            status, body, error=error, now=self.clock(), ttl=self.ttl, error_ttl=self.error_ttl
        )

    def _gap(self, record: RobotsRecord) -> float | None:
        return record.crawl_delay(self.user_agent, cap=self.crawl_delay_cap)

    async def _pace(self, netloc: str, gap: float | None) -> None:
        """Reserve this request's turn before waiting, so concurrent requests queue up."""
        now = self.clock()
        send_at = politeness.next_send_at(self._next_send.get(netloc), now, gap)
        self._next_send[netloc] = send_at
        wait = (send_at - now).total_seconds()
        if wait > 0:
            await self.sleep(wait)

    def _forget_stale(self, keep: int = 4096) -> None:
        """A long-running daemon meets many hosts: past a few thousand, forget expired ones."""
        if len(self.hosts) < keep:
            return
        now = self.clock()
        for netloc in [n for n, robots in self.hosts.items() if robots.record.expired(now)]:
            del self.hosts[netloc]
            if self._next_send.get(netloc, now) <= now:
                self._next_send.pop(netloc, None)


def _obey(robots: HostRobots, request: Request, user_agent: str) -> None:
    """Refuse `request` unless the host's robots.txt lets it through."""
    if robots.reason is not None:
        raise refuse(request, robots.reason, f"robots.txt: {robots.message}", **robots.extra)
    if robots.record.verdict == "disallow_all":
        message = "robots.txt answers 429 or 5xx: not fetching for now"
        raise refuse(request, Reason.ROBOTS_UNREACHABLE, message)
    if not robots.record.allows(request.url, user_agent):
        raise refuse(request, Reason.ROBOTS_DISALLOWED, "forbidden by robots.txt")


class NoRefererRedirect(RedirectMiddleware):
    """Scrapy's redirects, without its Referer spider middleware (which the daemon does not
    run: it sends no Referer at all). A redirect hop never carries one either."""

    @classmethod
    def from_crawler(cls, crawler: Any) -> NoRefererRedirect:
        """Built without Scrapy's start-up check for a Referer spider middleware: its warning
        ("the Referer header will be removed on redirects") describes what we want."""
        middleware = cls(crawler.settings)
        middleware.crawler = crawler
        return middleware

    def handle_referer(self, request: Request, response: Response) -> None:
        request.headers.pop("Referer", None)


class QuietLogFormatter(LogFormatter):
    """No "Crawled (200)" record per response: it is built even when DEBUG is off, and the
    daemon's own log says what each check found."""

    def crawled(self, request: Request, response: Response, spider: Any) -> LogFormatterResult:
        return None  # type: ignore[return-value]
