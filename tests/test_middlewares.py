"""The downloader middlewares in-process, as Scrapy tests its own: a Crawler from `get_crawler`
with the daemon's settings, real Requests and Responses, middleware methods called directly.

Time is a fake clock whose `sleep` only moves it on; the network is a table of answers standing
in for `crawler.engine` (with our own middlewares on its robots.txt requests). Milliseconds each.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import ssl
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import scrapy
from scrapy import signals
from scrapy.core.downloader import Slot
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.extensions.throttle import AutoThrottle
from scrapy.http import HtmlResponse, Request, Response
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler
from twisted.internet.error import ConnectionRefusedError, DNSLookupError, TimeoutError

from redline.crawler import politeness
from redline.crawler.crawlsettings import CrawlSettings, scrapy_settings
from redline.crawler.failures import ERROR_KEY
from redline.crawler.middlewares import (
    EgressGuardMiddleware,
    HostBackoffMiddleware,
    NoRefererRedirect,
    RobotsPolicyMiddleware,
)
from redline.crawler.scrapy_hooks import PRIVATE_HOOKS, RevalidationThrottle

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SITE = "https://news.example"
ROBOTS = f"{SITE}/robots.txt"


class FakeClock:
    """An aware UTC clock that moves only when told to, or when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = NOW
        self.slept: list[float] = []
        self.on_sleep: Callable[[], None] = lambda: None

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)
        self.on_sleep()


Answer = Response | BaseException | Callable[[Request], Response]


class Network:
    """Stands in for `crawler.engine`: answers `download_async` from a table, after running the
    request (and then the answer) through `chain`, as Scrapy's downloader would."""

    def __init__(self, answers: dict[str, Answer] | None = None, chain: Iterable = ()) -> None:
        self.answers = answers or {}
        self.chain = list(chain)
        self.requested: list[str] = []
        self.gate: asyncio.Event | None = None  # when set, answers wait for it

    async def download_async(self, request: Request) -> Response:
        for middleware in self.chain:
            middleware.process_request(request)
        self.requested.append(request.url)
        if self.gate is not None:
            await self.gate.wait()
        answer = self.answers.get(request.url, reply(404))
        if isinstance(answer, BaseException):
            raise answer
        response = answer(request) if callable(answer) else answer
        for middleware in reversed(self.chain):
            response = middleware.process_response(request, response)
        return response


def reply(status: int = 200, body: str = "", **headers: str) -> Callable[[Request], Response]:
    def build(request: Request) -> Response:
        return Response(request.url, status=status, body=body.encode(), headers=headers)

    return build


def crawler_for(**crawl: Any) -> Crawler:
    crawler = get_crawler(settings_dict=scrapy_settings(CrawlSettings(**crawl)))
    crawler.spider = scrapy.Spider("test")
    return crawler


def robots_middleware(network: Network, clock: FakeClock, **crawl: Any) -> RobotsPolicyMiddleware:
    crawler = crawler_for(**crawl)
    crawler.engine = network  # what `download_async` is asked of
    return build_from_crawler(RobotsPolicyMiddleware, crawler, clock=clock, sleep=clock.sleep)


def backoff_middleware(clock: FakeClock, seed: int = 1) -> HostBackoffMiddleware:
    crawler = crawler_for()
    return build_from_crawler(HostBackoffMiddleware, crawler, clock=clock, rng=random.Random(seed))


def refusal(call: Callable[[], Any], request: Request) -> tuple[str, str] | None:
    """(reason, message) the middleware refused `request` with, or None when it let it pass."""
    try:
        asyncio.run(_maybe(call()))
    except IgnoreRequest:
        return request.meta[ERROR_KEY]
    assert ERROR_KEY not in request.meta
    return None


async def _maybe(result: Any) -> Any:
    """Await what an async `process_request` returned; a sync one's result as it is."""
    return await result if inspect.isawaitable(result) else result


def robots_refusal(middleware: RobotsPolicyMiddleware, url: str) -> str | None:
    request = Request(url)
    found = refusal(lambda: middleware.process_request(request), request)
    return found[0] if found else None


def backoff_refusal(middleware: HostBackoffMiddleware, url: str = f"{SITE}/news/a") -> Request:
    request = Request(url)
    refusal(lambda: middleware.process_request(request), request)
    return request


def answer(middleware: HostBackoffMiddleware, status: int, **headers: str) -> Request:
    request = Request(f"{SITE}/news/a")
    response = Response(request.url, status=status, headers=headers, request=request)
    assert middleware.process_response(request, response) is response
    return request


# --- the egress gate ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.0.0.1/news", "blocked_ssrf"),
        ("http://169.254.169.254/latest/meta-data", "blocked_ssrf"),
        ("http://[::1]:8080/", "blocked_ssrf"),
        ("file:///etc/passwd", "unsupported_scheme"),
        ("https://news.example/story", None),
    ],
)
def test_the_egress_gate_refuses_ip_literals_and_other_schemes(url, reason):
    guard = EgressGuardMiddleware.from_crawler(crawler_for())
    request = Request(url)
    found = refusal(lambda: guard.process_request(request), request)
    assert (found[0] if found else None) == reason


def test_private_networks_pass_the_gate_when_the_operator_allows_them():
    guard = EgressGuardMiddleware.from_crawler(crawler_for(allow_private_networks=True))
    request = Request("http://10.0.0.1/news")
    assert refusal(lambda: guard.process_request(request), request) is None


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("file:///etc/passwd", "unsupported_scheme"),
        ("ftp://news.example/x", "unsupported_scheme"),
        ("http://127.0.0.1/admin", "blocked_ssrf"),
        ("/news/moved", None),
    ],
)
def test_a_redirect_hop_is_refused_before_it_is_followed(location, reason):
    guard = EgressGuardMiddleware.from_crawler(crawler_for())
    request = Request(f"{SITE}/news/a")
    response = Response(request.url, status=302, headers={"Location": location})
    found = refusal(lambda: guard.process_response(request, response), request)
    assert (found[0] if found else None) == reason
    if found:
        assert found[1].endswith("(redirect hop)")


def test_a_followed_hop_to_an_ip_literal_is_named_a_redirect_hop():
    guard = EgressGuardMiddleware.from_crawler(crawler_for())
    hop = Request("http://192.168.1.1/", meta={"redirect_urls": [f"{SITE}/news/a"]})
    reason, message = refusal(lambda: guard.process_request(hop), hop)
    assert reason == "blocked_ssrf" and message.endswith("(redirect hop)")


def test_a_redirect_drops_any_referer_and_scrapy_is_not_asked_to_warn_about_it(caplog):
    crawler = crawler_for()
    redirect = build_from_crawler(NoRefererRedirect, crawler)
    with caplog.at_level(logging.WARNING):
        crawler.signals.send_catch_log(signals.engine_started)
    assert not [r for r in caplog.records if "Referer" in r.getMessage()]
    request = Request(f"{SITE}/news/a", headers={"Referer": "https://desk.example/"})
    response = HtmlResponse(request.url, status=301, headers={"Location": "/news/b"})
    hop = redirect.process_response(request, response)
    assert isinstance(hop, Request) and hop.url == f"{SITE}/news/b"
    assert "Referer" not in hop.headers


# --- host backoff ---------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize(
    ("retry_after", "pause"),
    [
        ("120", 120.0),
        ("Fri, 27 Nov 2026 12:05:00 GMT", 300.0),  # an HTTP date
        ("999999999", 86400.0),  # capped at a day
        ("Sat, 27 Nov 2027 12:00:00 GMT", 86400.0),
    ],
)
def test_retry_after_pauses_the_host_until_then(status, retry_after, pause):
    clock = FakeClock()
    backoff = backoff_middleware(clock)
    answered = answer(backoff, status, **{"Retry-After": retry_after})
    assert answered.meta["redline_retry_after"] == pause
    clock.advance(seconds=pause - 1)
    refused = backoff_refusal(backoff)
    assert refused.meta[ERROR_KEY][0] == "rate_limited"
    assert refused.meta["redline_retry_after"] == 1.0
    assert ERROR_KEY not in backoff_refusal(backoff, "https://other.example/news").meta
    clock.advance(seconds=1)
    assert ERROR_KEY not in backoff_refusal(backoff).meta


@pytest.mark.parametrize("status", [429, 503])
def test_without_retry_after_the_pause_doubles_from_a_minute_with_jitter(status):
    clock = FakeClock()
    backoff = backoff_middleware(clock, seed=3)
    pauses = []
    for _ in range(4):
        pauses.append(answer(backoff, status).meta["redline_retry_after"])
        assert backoff_refusal(backoff).meta[ERROR_KEY][0] == "rate_limited"
        clock.advance(seconds=pauses[-1])  # asked again as soon as the pause ends
    for pause, nominal in zip(pauses, [60, 120, 240, 480], strict=True):
        assert nominal * 0.9 <= pause <= nominal * 1.1, pauses
    hosts = [HostBackoffMiddleware(clock=FakeClock(), rng=random.Random(n)) for n in range(20)]
    firsts = {answer(host, status).meta["redline_retry_after"] for host in hosts}
    assert len(firsts) > 10  # spread, not in step


def test_failures_are_forgiven_after_thirty_quiet_minutes():
    clock = FakeClock()
    backoff = backoff_middleware(clock)
    for _ in range(3):
        answer(backoff, 503)
        clock.advance(minutes=29)  # each after the pause, but within 30 min of the last failure
    assert 432 <= answer(backoff, 503).meta["redline_retry_after"] <= 528  # the 4th: ~8 min
    clock.advance(minutes=30)
    assert 54 <= answer(backoff, 503).meta["redline_retry_after"] <= 66  # counting again


def test_a_success_clears_the_host_but_not_a_pause_it_did_not_see():
    clock = FakeClock()
    backoff = backoff_middleware(clock)
    answer(backoff, 429)
    answer(backoff, 503)  # a second failure: ~2 min
    answer(backoff, 200)  # sent before the 429: the pause stands
    assert backoff_refusal(backoff).meta[ERROR_KEY][0] == "rate_limited"
    clock.advance(seconds=150)
    answer(backoff, 304)
    assert backoff.hosts == {}
    assert 54 <= answer(backoff, 429).meta["redline_retry_after"] <= 66


def test_other_server_errors_neither_pause_nor_clear_the_host():
    clock = FakeClock()
    backoff = backoff_middleware(clock)
    answer(backoff, 500)
    assert ERROR_KEY not in backoff_refusal(backoff).meta
    answer(backoff, 429, **{"Retry-After": "30"})
    clock.advance(seconds=30)
    answer(backoff, 502)
    assert 108 <= answer(backoff, 429).meta["redline_retry_after"] <= 132  # still the 2nd


# --- robots.txt -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("robots", "page", "reason"),
    [
        (reply(200, "User-agent: *\nDisallow: /private/\n"), "/news/a", None),
        (reply(200, "User-agent: *\nDisallow: /private/\n"), "/private/a", "robots_disallowed"),
        (reply(200, "User-agent: redline\nDisallow: /\n"), "/news/a", "robots_disallowed"),
        (reply(404), "/news/a", None),
        (reply(403, "User-agent: *\nDisallow: /\n"), "/news/a", None),
        (reply(401), "/news/a", None),
        (reply(500), "/news/a", "robots_unreachable"),
        (reply(503, "User-agent: *\nAllow: /\n"), "/news/a", "robots_unreachable"),
        (reply(429), "/news/a", "robots_unreachable"),
        (ConnectionRefusedError(), "/news/a", "connection_error"),
        (TimeoutError(), "/news/a", "timeout"),
        (ssl.SSLError("certificate verify failed"), "/news/a", "tls_error"),
    ],
)
def test_robots_verdicts(robots, page, reason):
    network = Network({ROBOTS: robots})
    middleware = robots_middleware(network, FakeClock())
    assert robots_refusal(middleware, SITE + page) == reason
    assert network.requested == [ROBOTS]


def test_robots_txt_is_read_to_512_kib():
    filler = "# " + "x" * 1000 + "\n"
    body = "User-agent: *\n" + filler * 500 + "Disallow: /early/\n" + filler * 30
    body += "Disallow: /late/\n"
    assert body.index("/late/") > 512 * 1024 and body.index("/early/") < 512 * 1024
    middleware = robots_middleware(Network({ROBOTS: reply(200, body)}), FakeClock())
    assert robots_refusal(middleware, f"{SITE}/early/a") == "robots_disallowed"
    assert robots_refusal(middleware, f"{SITE}/late/a") is None


def test_requests_waiting_for_robots_txt_share_one_fetch():
    network = Network({ROBOTS: reply(200, "User-agent: *\nDisallow: /private/\n")})
    middleware = robots_middleware(network, FakeClock())
    pages = [Request(f"{SITE}/news/{n}") for n in range(4)] + [Request(f"{SITE}/private/x")]

    async def crawl() -> list[Any]:
        network.gate = asyncio.Event()
        waiting = [asyncio.ensure_future(middleware.process_request(p)) for p in pages]
        await asyncio.sleep(0)
        network.gate.set()
        return await asyncio.gather(*waiting, return_exceptions=True)

    results = asyncio.run(crawl())
    assert network.requested == [ROBOTS]
    assert results[:4] == [None] * 4 and isinstance(results[4], IgnoreRequest)
    assert pages[4].meta[ERROR_KEY][0] == "robots_disallowed"


def test_an_error_verdict_is_retried_after_ten_minutes():
    clock = FakeClock()
    network = Network({ROBOTS: reply(503)})
    middleware = robots_middleware(network, clock)
    assert robots_refusal(middleware, f"{SITE}/news/a") == "robots_unreachable"
    clock.advance(minutes=9, seconds=59)
    assert robots_refusal(middleware, f"{SITE}/news/b") == "robots_unreachable"
    assert network.requested == [ROBOTS]
    network.answers[ROBOTS] = reply(200, "User-agent: *\nDisallow: /private/\n")
    clock.advance(seconds=1)
    assert robots_refusal(middleware, f"{SITE}/news/c") is None
    assert network.requested == [ROBOTS, ROBOTS]


def test_a_network_error_is_retried_after_the_operators_error_ttl():
    clock = FakeClock()
    network = Network({ROBOTS: ConnectionRefusedError()})
    middleware = robots_middleware(network, clock, robots_error_ttl=60.0)
    assert robots_refusal(middleware, f"{SITE}/news/a") == "connection_error"
    network.answers[ROBOTS] = reply(404)
    clock.advance(seconds=60)
    assert robots_refusal(middleware, f"{SITE}/news/a") is None
    assert network.requested == [ROBOTS, ROBOTS]


def test_a_readable_robots_txt_is_read_again_after_a_day():
    clock = FakeClock()
    network = Network({ROBOTS: reply(200, "User-agent: *\nDisallow: /private/\n")})
    middleware = robots_middleware(network, clock)
    assert robots_refusal(middleware, f"{SITE}/news/a") is None
    network.answers[ROBOTS] = reply(200, "User-agent: *\nDisallow: /news/\n")
    clock.advance(hours=23, minutes=59)
    assert robots_refusal(middleware, f"{SITE}/news/b") is None
    assert network.requested == [ROBOTS]
    clock.advance(minutes=1)
    assert robots_refusal(middleware, f"{SITE}/news/c") == "robots_disallowed"
    assert network.requested == [ROBOTS, ROBOTS]


def test_robots_txt_of_a_name_resolving_to_a_private_address_blocks_its_pages(monkeypatch):
    """The resolver refused the address (the DNS answer is the faked edge): the host's pages
    are recorded as blocked_ssrf, not as some connection error."""
    monkeypatch.setattr(
        "redline.crawler.failures.refused_address", lambda host: "10.1.2.3" if host else None
    )
    network = Network({ROBOTS: DNSLookupError("no address left to connect to")})
    middleware = robots_middleware(network, FakeClock())
    request = Request(f"{SITE}/news/a")
    reason, message = refusal(lambda: middleware.process_request(request), request)
    assert reason == "blocked_ssrf" and "10.1.2.3" in message and "robots.txt" in message
    assert robots_refusal(middleware, f"{SITE}/news/b") == "blocked_ssrf"
    assert network.requested == [ROBOTS]


def test_robots_txt_redirected_to_a_private_address_blocks_its_pages():
    guard = EgressGuardMiddleware.from_crawler(crawler_for())
    network = Network({ROBOTS: reply(301, Location="http://10.0.0.1/robots.txt")}, [guard])
    middleware = robots_middleware(network, FakeClock())
    request = Request(f"{SITE}/news/a")
    reason, message = refusal(lambda: middleware.process_request(request), request)
    assert reason == "blocked_ssrf" and "redirect hop" in message


def test_robots_txt_of_a_paused_host_is_asked_again_after_the_pause():
    clock = FakeClock()
    backoff = backoff_middleware(clock)
    network = Network({ROBOTS: reply(404)}, [backoff])
    middleware = robots_middleware(network, clock)
    answer(backoff, 429, **{"Retry-After": "90"})
    request = Request(f"{SITE}/news/a")
    assert refusal(lambda: middleware.process_request(request), request)[0] == "rate_limited"
    assert request.meta["redline_retry_after"] == 90.0
    clock.advance(seconds=90)
    assert robots_refusal(middleware, f"{SITE}/news/b") is None
    assert network.requested == [ROBOTS]  # the refused one never left


def test_the_robots_txt_request_itself_is_not_held_to_robots_txt():
    network = Network({ROBOTS: reply(503)})
    middleware = robots_middleware(network, FakeClock())
    request = Request(ROBOTS, meta={"dont_obey_robotstxt": True})
    assert refusal(lambda: middleware.process_request(request), request) is None
    assert network.requested == []


# --- Crawl-delay ----------------------------------------------------------------------------------
def departures(middleware: RobotsPolicyMiddleware, clock: FakeClock, count: int) -> list[float]:
    """Seconds after NOW at which `count` requests to the host, made together, leave."""

    async def one(n: int) -> float:
        await middleware.process_request(Request(f"{SITE}/news/{n}"))
        return (clock() - NOW).total_seconds()

    async def crawl() -> list[float]:
        return sorted(await asyncio.gather(*(one(n) for n in range(count))))

    return asyncio.run(crawl())


@pytest.mark.parametrize(
    ("crawl_delay", "cap", "gap"),
    [("5", 30.0, 5.0), ("2.5", 30.0, 2.5), ("600", 30.0, 30.0), ("600", 1.5, 1.5)],
)
def test_crawl_delay_spaces_requests_exactly_up_to_the_cap(crawl_delay, cap, gap):
    clock = FakeClock()
    robots = reply(200, f"User-agent: *\nCrawl-delay: {crawl_delay}\n")
    middleware = robots_middleware(Network({ROBOTS: robots}), clock, crawl_delay_cap=cap)
    # robots.txt itself left at 0: no jitter, no rounding
    assert departures(middleware, clock, 4) == [gap, 2 * gap, 3 * gap, 4 * gap]
    clock.advance(seconds=10 * gap)  # a quiet host: the next request leaves at once
    assert departures(middleware, clock, 1) == [14 * gap]


def test_reading_robots_txt_again_keeps_the_crawl_delay():
    clock = FakeClock()
    robots = reply(200, "User-agent: *\nCrawl-delay: 30\n")
    network = Network({ROBOTS: robots})
    middleware = robots_middleware(network, clock, robots_ttl=60.0)
    assert departures(middleware, clock, 2) == [30.0, 60.0]
    assert departures(middleware, clock, 1) == [120.0]  # robots.txt at 90, this 30 s later
    assert network.requested == [ROBOTS, ROBOTS]


def test_without_crawl_delay_nothing_waits():
    clock = FakeClock()
    middleware = robots_middleware(Network({ROBOTS: reply(404)}), clock)
    assert departures(middleware, clock, 5) == [0.0] * 5
    assert clock.slept == []


def test_a_request_held_for_crawl_delay_is_refused_if_the_host_is_paused_meanwhile():
    """The order in the daemon's settings: robots.txt (and its wait) before host backoff."""
    clock = FakeClock()
    crawler = crawler_for()
    crawler.engine = Network({ROBOTS: reply(200, "User-agent: *\nCrawl-delay: 20\n")})
    order = crawler.settings.getdict("DOWNLOADER_MIDDLEWARES")
    built = {
        RobotsPolicyMiddleware: build_from_crawler(
            RobotsPolicyMiddleware, crawler, clock=clock, sleep=clock.sleep
        ),
        HostBackoffMiddleware: build_from_crawler(HostBackoffMiddleware, crawler, clock=clock),
        EgressGuardMiddleware: build_from_crawler(EgressGuardMiddleware, crawler),
    }
    chain = sorted(
        built.values(), key=lambda m: order[f"redline.crawler.middlewares.{type(m).__name__}"]
    )
    backoff = built[HostBackoffMiddleware]
    clock.on_sleep = lambda: answer(backoff, 429, **{"Retry-After": "600"})

    async def send(request: Request) -> None:
        for middleware in chain:
            await _maybe(middleware.process_request(request))

    request = Request(f"{SITE}/news/a")
    assert refusal(lambda: send(request), request)[0] == "rate_limited"
    assert clock.slept == [20.0]


# --- settings: one set of values ------------------------------------------------------------------
def test_crawl_settings_take_their_defaults_from_politeness():
    cs = CrawlSettings()
    assert cs.robots_error_ttl == 600 == politeness.ROBOTS_ERROR_TTL.total_seconds()
    assert cs.robots_ttl == 86400 == politeness.ROBOTS_TTL.total_seconds()
    assert (cs.per_host, cs.crawl_delay_cap) == (2, 30.0)
    settings = scrapy_settings(cs)
    assert settings["AUTOTHROTTLE_START_DELAY"] == politeness.THROTTLE_START_DELAY
    assert settings["AUTOTHROTTLE_MAX_DELAY"] == politeness.THROTTLE_MAX_DELAY
    middleware = RobotsPolicyMiddleware.from_crawler(crawler_for())
    assert (middleware.ttl, middleware.error_ttl) == (timedelta(hours=24), timedelta(minutes=10))


# --- Scrapy's private API: one module, checked against the installed Scrapy -----------------------
@pytest.mark.parametrize("hook", PRIVATE_HOOKS, ids=lambda h: f"{h.owner.__name__}.{h.name}")
def test_the_private_scrapy_hooks_we_override_still_exist(hook):
    where = f"{hook.owner.__module__}.{hook.owner.__qualname__}.{hook.name}"
    problem = f"Scrapy {scrapy.__version__} changed private hook {where} ({hook.why}): "
    method = getattr(hook.owner, hook.name, None)
    assert method is not None, problem + "it is gone"
    parameters = tuple(inspect.signature(method).parameters)
    assert parameters == hook.parameters, problem + f"its parameters are now {parameters}"
    caller = inspect.getsource(getattr(hook.owner, hook.called_from))
    assert f"self.{hook.name}(" in caller, problem + f"{hook.called_from} no longer calls it"


@pytest.mark.parametrize(
    ("throttle", "lowered"), [(RevalidationThrottle, True), (AutoThrottle, False)]
)
def test_a_304_lowers_the_autothrottle_delay_like_a_200(throttle, lowered):
    """Through the signal Scrapy sends after each download, as the running crawl does."""
    crawler = crawler_for(autothrottle=True)
    slot = Slot(concurrency=2, delay=5.0, jitter=0.0)
    crawler.engine = SimpleNamespace(downloader=SimpleNamespace(slots={"news.example": slot}))
    extension = build_from_crawler(throttle, crawler)
    extension.mindelay, extension.maxdelay = 0.0, 30.0  # what spider_opened sets
    request = Request(
        f"{SITE}/news/a", meta={"download_latency": 0.2, "download_slot": "news.example"}
    )
    response = Response(request.url, status=304, request=request)
    crawler.signals.send_catch_log(
        signals.response_downloaded, response=response, request=request, spider=crawler.spider
    )
    assert (slot.delay < 5.0) is lowered
