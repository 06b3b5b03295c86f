"""`NewsSite`: a small local news site on 127.0.0.1 that tests edit and break on purpose.

Runs a `ThreadingHTTPServer` (HTTP/1.1, keep-alive) in a background thread. Tests change content
between checks (`edit`, `add_article`, `remove`, `move`, live items), switch on misbehaviours per
path (`misbehave(path, Fault...)`), and read the request log (`requests`) to assert exactly what a
crawler fetched. Conditional requests are honoured (ETag / Last-Modified -> 304).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from redline.newsite import content
from redline.newsite.content import Article, LiveItem, SiteContent
from redline.newsite.faults import Fault


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    method: str
    path: str  # with the query string
    headers: dict[str, str]  # lower-case names
    time: float  # time.time() when the request line arrived


class NewsSite:
    """The site. Use as a context manager, or `start()` / `stop()`."""

    def __init__(
        self,
        *,
        articles: int = 5,
        live_items: int = 3,
        corpus: Path | None = None,
        seed: int = 1,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        host: str = "127.0.0.1",
        port: int = 0,
        control: bool = False,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.clock, self.lock, self.stopping = clock, threading.RLock(), threading.Event()
        self.content = SiteContent()
        self.control = control
        self._faults: dict[str, list] = {}
        self._log: list[LoggedRequest] = []
        self._noise = itertools.count()
        self._rng = random.Random(seed)
        self._server = _QuietServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._server.site = self  # type: ignore[attr-defined]
        self.scheme = "https" if tls_context else "http"
        if tls_context is not None:
            self._server.socket = tls_context.wrap_socket(self._server.socket, server_side=True)
        self._thread: threading.Thread | None = None
        self._index_cache: tuple[list[Article], dict[str, Article]] | None = None
        self._populate(articles, live_items, corpus)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> NewsSite:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()  # releases hanging and dripping handlers
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> NewsSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self.scheme}://{host}:{port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    # -- content ---------------------------------------------------------------------------
    def _populate(self, count: int, live_items: int, corpus: Path | None) -> None:
        now = self.clock()
        pages = content.corpus_pages(corpus) if corpus else []
        for index in range(count):
            article = content.generated_article(index, now, self._rng)
            if pages:
                article.raw_html = pages[index % len(pages)]
            self.content.articles[article.slug] = article
        for index in range(live_items):
            self.add_live_item(f"Item {index}: {' '.join(self._rng.sample(content.WORDS, 12))}.")

    @property
    def articles(self) -> list[Article]:
        """Articles currently published (not removed, not moved), newest first."""
        with self.lock:
            return list(self._index()[0])

    def _index(self) -> tuple[list[Article], dict[str, Article]]:
        """Published articles newest first, and every article by path; rebuilt after edits so
        a 2,000-article site answers a benchmark without sorting on every request."""
        if self._index_cache is None:
            every = self.content.articles.values()
            live = [a for a in every if a.status == 200 and not a.moved_to]
            live.sort(key=lambda a: a.published, reverse=True)
            self._index_cache = (live, {a.path: a for a in every})
        return self._index_cache

    def _changed(self) -> None:
        self._index_cache = None

    def article(self, slug: str) -> Article:
        with self.lock:
            return self.content.articles[slug]

    def article_url(self, slug: str) -> str:
        return self.url(self.article(slug).path)

    def add_article(self, headline: str, body: list[str], *, slug: str | None = None) -> Article:
        with self.lock:
            now = self.clock()
            slug = slug or f"new-{len(self.content.articles):05d}"
            article = Article(slug, headline, "Staff reporter", now, now, list(body))
            self.content.articles[slug] = article
            self._changed()
            return article

    def edit(
        self,
        slug: str,
        *,
        headline: str | None = None,
        body: list[str] | None = None,
        byline: str | None = None,
        raw_html: bytes | None = None,
        touch_updated: bool = True,
    ) -> Article:
        """Change an article; `touch_updated=False` is a stealth edit (no new "updated" time)."""
        with self.lock:
            article = self.content.articles[slug]
            article.headline = article.headline if headline is None else headline
            article.body = article.body if body is None else list(body)
            article.byline = article.byline if byline is None else byline
            article.raw_html = article.raw_html if raw_html is None else raw_html
            if touch_updated:
                article.updated = max(self.clock(), article.updated)
            self._changed()
            return article

    def remove(self, slug: str, status: int = 410) -> None:
        with self.lock:
            self.content.articles[slug].status = status
            self._changed()

    def restore(self, slug: str) -> None:
        with self.lock:
            self.content.articles[slug].status = 200
            self._changed()

    def move(self, slug: str, new_slug: str, status: int = 301) -> Article:
        """The old path answers `status` with Location: the new path; returns the new article."""
        with self.lock:
            old = self.content.articles[slug]
            moved = replace(old, slug=new_slug)
            old.moved_to, old.status = moved.path, status
            self.content.articles[new_slug] = moved
            self._changed()
            return moved

    def add_live_item(self, text: str, *, headline: str = "", key: str | None = None) -> str:
        with self.lock:
            key = key or f"k{len(self.content.live) + 1:04d}"
            self.content.live.insert(0, LiveItem(key, self.clock(), headline or text[:40], text))
            return key

    def edit_live_item(self, key: str, text: str) -> None:
        with self.lock:
            item = next(i for i in self.content.live if i.key == key)
            item.text, item.edited = text, self.clock()

    def remove_live_item(self, key: str) -> None:
        with self.lock:
            self.content.live = [i for i in self.content.live if i.key != key]

    def set_robots(self, text: str) -> None:
        with self.lock:
            self.content.robots = text

    def set_noise(self, on: bool) -> None:
        """Per-request churn (ads, tokens, "N minutes ago") that must not become a revision."""
        with self.lock:
            self.content.noise = on

    # -- misbehaviour and the request log ---------------------------------------------------
    def misbehave(self, path: str, fault: Fault, *, times: int | None = None) -> None:
        """Answer requests for `path` (exact, without query; "*" = every path) with `fault`."""
        with self.lock:
            self._faults[path] = [fault, times]

    def behave(self, path: str | None = None) -> None:
        with self.lock:
            if path is None:
                self._faults.clear()
            else:
                self._faults.pop(path, None)

    @property
    def requests(self) -> list[LoggedRequest]:
        with self.lock:
            return list(self._log)

    def requests_to(self, path: str) -> list[LoggedRequest]:
        return [r for r in self.requests if urlsplit(r.path).path == path]

    def clear_log(self) -> None:
        with self.lock:
            self._log.clear()

    def _fault_for(self, path: str) -> Fault | None:
        with self.lock:
            entry = self._faults.get(path) or self._faults.get("*")
            if entry is None:
                return None
            fault, times = entry
            if times is not None:
                entry[1] = times - 1
                if entry[1] <= 0:
                    self._faults = {k: v for k, v in self._faults.items() if v is not entry}
            return fault

    def _record(self, handler: BaseHTTPRequestHandler) -> None:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self.lock:
            self._log.append(LoggedRequest(handler.command, handler.path, headers, time.time()))

    # -- rendering ---------------------------------------------------------------------------
    def render(self, path: str) -> tuple[int, bytes, dict[str, str], datetime | None]:
        """(status, body, headers, last_modified) for a path, from the current content."""
        base = self.base_url
        with self.lock:
            articles, by_path = self._index()
            noise = next(self._noise) if self.content.noise else None
            if path == "/robots.txt":
                return 200, self.content.robots.encode(), {"Content-Type": "text/plain"}, None
            if path == "/" or path.rstrip("/") in {f"/{s}" for s in content.SECTIONS}:
                section = path.strip("/")
                shown = [a for a in articles if not section or a.section == section][:100]
                return 200, content.front_page_html(shown), {}, None
            if path == "/live":
                items, newest = (
                    self.content.live,
                    max((i.edited or i.time for i in self.content.live), default=None),
                )
                return 200, content.live_html(items, self.clock()), {}, newest
            xml = self._render_xml(path, articles[:100], base)
            if xml is not None:
                return 200, xml, {"Content-Type": "application/xml"}, None
            article = by_path.get(path)
            if article is not None:
                return self._render_article(article, articles, base, noise)
        return 404, b"<html><body><h1>Page not found</h1></body></html>", {}, None

    def _render_xml(self, path: str, articles: list[Article], base: str) -> bytes | None:
        if path == "/feed.xml":
            return content.rss_xml(articles, base)
        if path == "/atom.xml":
            return content.atom_xml(articles, base)
        if path == "/sitemap.xml":
            return content.sitemap_index_xml(base)
        if path in ("/sitemap-news.xml", "/sitemap-articles.xml"):
            return content.sitemap_xml(articles, base, news=path == "/sitemap-news.xml")
        return None

    def _render_article(self, article, articles, base, noise):
        if article.moved_to:
            return article.status, b"", {"Location": article.moved_to}, None
        if article.status != 200:
            return article.status, b"<html><body><h1>Gone</h1></body></html>", {}, None
        others = [a for a in articles[:6] if a is not article]
        return 200, content.article_html(article, base, others, noise), {}, article.updated

    def control_request(self, path: str, query: str) -> dict:
        """The subprocess's /_control/ endpoints, so a benchmark can edit a running site."""
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        if path == "/_control/noise":
            self.set_noise(params.get("on", "1") == "1")
        elif path == "/_control/edit":
            return {
                "edited": self._edit_fraction(
                    float(params.get("fraction", "0.1")), int(params.get("seed", "1"))
                )
            }
        elif path == "/_control/stats":
            return {"requests": len(self._log), "articles": len(self.content.articles)}
        elif path == "/_control/urls":
            return {"urls": [self.url(a.path) for a in self.articles]}
        return {"ok": True}

    def _edit_fraction(self, fraction: float, seed: int) -> list[str]:
        rng = random.Random(seed)
        chosen = [a for a in self.articles if rng.random() < fraction]
        for article in chosen:
            sentence = (
                f"Correction {seed}: an earlier version misstated the {rng.choice(content.WORDS)}."
            )
            raw = article.raw_html
            if raw is not None:
                raw = raw.replace(b"</p>", f" {sentence}</p>".encode(), 1)
            self.edit(article.slug, body=[*article.body, sentence], raw_html=raw)
        return [self.url(a.path) for a in chosen]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """Clients that hang up mid-answer (timeouts, caps) are expected here, not errors."""
        kind = sys.exc_info()[0]
        if kind is not None and issubclass(kind, OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LocalLedger/1.0"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as separate writes; without this, Nagle + delayed ACK stall
        # every keep-alive response by milliseconds.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        site: NewsSite = self.server.site  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        if not (site.control and parts.path.startswith("/_control/")):
            self._send(405, b"", {})
            return
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self._send(
            200,
            json.dumps(site.control_request(parts.path, parts.query)).encode(),
            {"Content-Type": "application/json"},
        )

    def do_GET(self) -> None:
        site: NewsSite = self.server.site  # type: ignore[attr-defined]
        site._record(self)
        path = urlsplit(self.path).path
        fault = site._fault_for(path)
        if fault is not None and fault.serve(self, site.stopping):
            return
        status, body, headers, modified = site.render(path)
        if status == 200 and path != "/robots.txt":
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            headers = {**headers, "ETag": etag, "Cache-Control": "max-age=0"}
            if modified is not None:
                headers["Last-Modified"] = content.http_date(modified)
            if self._not_modified(etag, modified):
                self._send(304, b"", {"ETag": etag})
                return
        self._send(status, body, headers)

    def _not_modified(self, etag: str, modified: datetime | None) -> bool:
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            return (
                etag in [t.strip() for t in if_none_match.split(",")]
                or if_none_match.strip() == "*"
            )
        since = self.headers.get("If-Modified-Since")
        if since and modified is not None:
            try:
                return modified.replace(microsecond=0) <= parsedate_to_datetime(since)
            except (TypeError, ValueError):
                return False
        return False

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        headers.setdefault("Content-Type", "text/html; charset=utf-8")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
