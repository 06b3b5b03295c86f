"""Proxies and the egress gate, through the real crawler: a recording fake proxy on loopback.

Proxies from the environment (`http_proxy`, `https_proxy`) are ignored: only `[crawl] proxy`
sends requests through a proxy, and then the target's name is resolved and checked before the
request is handed over (the proxy alone would see, and connect to, a private address).

Each crawl runs in a subprocess (`python -m tests.test_proxy`: the Twisted reactor runs once per
process) with the daemon's settings and its guarded resolver. Names resolve through a table in
that process (the reactor's name resolver and `crawler.netguard.system_resolver`), so a
"public" name resolving to a private address needs no DNS. The guarded resolver there treats
127.0.0.1 (the fake proxy, the site) as public, as a real proxy's address would be.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IHostnameResolver
from zope.interface import implementer

from redline.crawler.crawlsettings import CrawlSettings, scrapy_settings
from tests.conftest import REPO

PRIVATE_NAME = "intranet.news.example"  # resolves to 10.255.255.1 in the table below
PUBLIC_NAME = "public.news.example"  # resolves to 93.184.216.34
SITE_NAME = "site.news.example"  # resolves to 127.0.0.1, "public" there: a site served here
DNS = {PRIVATE_NAME: ["10.255.255.1"], PUBLIC_NAME: ["93.184.216.34"], SITE_NAME: ["127.0.0.1"]}


class FakeProxy:
    """A loopback HTTP server that records every request line it gets and answers 200."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                received.append(f"{self.command} {self.path}")
                if self.path.endswith("/go"):  # a redirect to a name resolving to 10.255.255.1
                    self.send_response(302)
                    self.send_header("Location", f"http://{PRIVATE_NAME}/admin")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = b"<html><body>via the proxy</body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_HEAD = do_CONNECT = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy() -> Iterator[FakeProxy]:
    with FakeProxy() as running:
        yield running


def crawl(url: str, *, env_proxy: str | None = None, **crawl_settings: Any) -> dict[str, Any]:
    """Fetch `url` once with the real crawler in a subprocess; what the spider got, as a dict."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    if env_proxy is not None:
        for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
            env[name] = env_proxy
    job = json.dumps({"url": url, "crawl": crawl_settings, "dns": DNS})
    done = subprocess.run(
        [sys.executable, "-m", "tests.test_proxy", job],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.strip(), done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("url", [f"http://{PRIVATE_NAME}/news/a", "http://localhost/news/a"])
def test_environment_proxy_is_ignored_and_private_targets_are_refused(proxy, url):
    fetched = crawl(url, env_proxy=proxy.url)
    assert fetched["error"] == "blocked_ssrf", fetched
    assert proxy.requests == []


def test_environment_proxy_is_ignored_for_allowed_targets_too(proxy):
    """Not even a name the guard lets through goes to a proxy nobody configured."""
    with FakeProxy() as site:  # any loopback recorder will do as the site
        port = site.url.rsplit(":", 1)[1]
        fetched = crawl(f"http://{SITE_NAME}:{port}/news/a", env_proxy=proxy.url)
    assert (fetched["status"], fetched["error"]) == (200, None), fetched
    assert "GET /news/a" in site.requests  # asked directly, in origin form
    assert proxy.requests == []


@pytest.mark.parametrize("url", [f"http://{PRIVATE_NAME}/news/a", f"https://{PRIVATE_NAME}/news/a"])
def test_configured_proxy_gets_no_request_for_a_name_resolving_to_a_private_address(proxy, url):
    fetched = crawl(url, proxy=proxy.url)
    assert fetched["error"] == "blocked_ssrf", fetched
    assert "10.255.255.1" in fetched["message"]
    assert proxy.requests == []


def test_configured_proxy_gets_no_redirect_hop_to_a_private_address(proxy):
    fetched = crawl(f"http://{PUBLIC_NAME}/go", proxy=proxy.url)
    assert fetched["error"] == "blocked_ssrf" and "redirect hop" in fetched["message"], fetched
    assert f"GET http://{PUBLIC_NAME}/go" in proxy.requests
    assert not [r for r in proxy.requests if PRIVATE_NAME in r]


def test_configured_proxy_tunnels_https_to_allowed_names(proxy):
    crawl(f"https://{PUBLIC_NAME}/news/a", proxy=proxy.url)  # the fake proxy cannot do TLS
    assert f"CONNECT {PUBLIC_NAME}:443" in proxy.requests


def test_without_a_configured_proxy_scrapy_never_reads_the_environment():
    settings = scrapy_settings(CrawlSettings())
    assert settings["HTTPPROXY_ENABLED"] is False
    proxied = scrapy_settings(CrawlSettings(proxy="http://user:pw@proxy.example:3128"))
    assert proxied["HTTPPROXY_ENABLED"] is True


@pytest.mark.parametrize(
    "bad", [5, "", "proxy.example:3128", "https://proxy.example", "socks5://p:1080",
            "http://proxy.example/path", "http://:3128", "http://proxy.example:99999",
            "http://proxy example:3128"],
)  # fmt: skip
def test_a_proxy_that_is_not_a_plain_http_url_is_refused_at_start(bad):
    with pytest.raises(ValueError, match="proxy"):
        CrawlSettings(proxy=bad)


def test_configured_proxy_carries_requests_to_allowed_names(proxy):
    fetched = crawl(f"http://{PUBLIC_NAME}/news/a", proxy=proxy.url)
    assert (fetched["status"], fetched["error"]) == (200, None), fetched
    assert "via the proxy" in fetched["body"]
    assert f"GET http://{PUBLIC_NAME}/news/a" in proxy.requests  # robots.txt came first


def test_configured_proxy_with_allow_private_networks_carries_private_names(proxy):
    fetched = crawl(f"http://{PRIVATE_NAME}/news/a", proxy=proxy.url, allow_private_networks=True)
    assert (fetched["status"], fetched["error"]) == (200, None), fetched
    assert f"GET http://{PRIVATE_NAME}/news/a" in proxy.requests


# --- the subprocess: one fetch with the daemon's settings and resolver ---------------------------
@implementer(IHostnameResolver)
class _TableResolver:
    """The reactor's name resolver, answering the names in `table` itself."""

    def __init__(self, table: dict[str, list[str]], inner: Any) -> None:
        self.table, self.inner = table, inner

    def resolveHostName(
        self, receiver, hostName, portNumber=0, addressTypes=None, transportSemantics="TCP"
    ):
        if hostName not in self.table:
            return self.inner.resolveHostName(
                receiver, hostName, portNumber, addressTypes, transportSemantics
            )
        receiver.resolutionBegan(None)
        for ip in self.table[hostName]:
            receiver.addressResolved(IPv4Address("TCP", ip, portNumber))
        receiver.resolutionComplete()
        return receiver


def _fetch_in_this_process(job: dict[str, Any]) -> dict[str, Any]:
    import asyncio
    import ipaddress

    from scrapy.utils.reactor import install_reactor

    from redline.scheduler.daemon import REACTOR

    install_reactor(REACTOR)
    from scrapy.crawler import AsyncCrawlerRunner
    from twisted.internet import reactor

    from redline.crawler import netguard
    from redline.crawler.crawlsettings import CrawlSettings, scrapy_settings
    from redline.crawler.resolver import install_guarded_resolver
    from redline.crawler.spider import ArticleSpider, Fetched, FetchJob

    table: dict[str, list[str]] = job["dns"]
    real = netguard.system_resolver
    netguard.system_resolver = lambda host, port: table.get(host) or real(host, port)
    reactor.installNameResolver(_TableResolver(table, reactor.nameResolver))
    cs = CrawlSettings(**{"autothrottle": False, **job["crawl"]})
    if not cs.allow_private_networks:  # the proxy's loopback address stands for a public one
        public = [ipaddress.ip_network("127.0.0.1/32")]
        install_guarded_resolver(reactor, lambda ip: netguard.is_refused_address(ip, public))
    result: dict[str, Any] = {}

    async def main() -> None:
        queue: asyncio.Queue[FetchJob] = asyncio.Queue()
        done = asyncio.Event()
        runner = AsyncCrawlerRunner(scrapy_settings(cs))
        crawler = runner.create_crawler(ArticleSpider)

        async def handle(fetched: Fetched) -> None:
            result.update(
                status=fetched.status,
                error=fetched.error,
                message=fetched.message,
                body=fetched.body.decode("utf-8", "replace"),
            )
            done.set()

        task = runner.crawl(crawler, queue=queue, handle=handle)
        await queue.put(FetchJob(job["url"]))
        try:
            await asyncio.wait_for(done.wait(), 45)
        finally:
            await crawler.stop_async() if hasattr(crawler, "stop_async") else crawler.stop()
            await asyncio.wait_for(asyncio.shield(task), 10)
            reactor.stop()

    reactor.callWhenRunning(lambda: asyncio.ensure_future(main()))
    reactor.run()
    return result


if __name__ == "__main__":
    print(json.dumps(_fetch_in_this_process(json.loads(sys.argv[1]))))
