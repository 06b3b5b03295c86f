"""`redline run` against a hostile web and a flaky database, in real subprocesses.

The daemon runs with the SSRF guard ON (`allow_private_networks = false`), as in production.
Loopback is private, so the worker is started through a tiny wrapper that declares a few
loopback addresses (127.0.0.2, .3, ...) public: the "public" test sites listen there, while a
"private" site on 127.0.0.1 stands for the internal network and must never see a request.
That wrapper is the only fake, and it sits at the outer edge (which addresses are public).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from redline.newsite import Fault, NewsSite
from redline.storage import open_store
from redline.storage.codec import format_time
from redline.storage.postgres import split_schema
from tests.conftest import REPO
from tests.databases import articles, revision_counts, track
from tests.waiting import wait_until

MiB = 1024 * 1024
PUBLIC = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")
# `python -c WRAPPER run ...`: the redline CLI, with REDLINE_TEST_PUBLIC_IPS counted as public.
WRAPPER = """
import os, sys
public = {a for a in os.environ.get("REDLINE_TEST_PUBLIC_IPS", "").split(",") if a}
if public:
    from redline.crawler import netguard
    real = netguard.is_blocked_address
    netguard.is_blocked_address = lambda ip: ip not in public and real(ip)
from redline.cli import main
main()
"""


# --- worker processes ---------------------------------------------------------------------------
def write_config(path: Path, *, private: bool = True, **crawl: object) -> Path:
    """A TOML config: the `[crawl]` table shrinks timeouts and caps so faults end quickly."""
    settings = {"timeout": 3.0, "per_host": 8, "autothrottle": False, **crawl}
    lines = [f"allow_private_networks = {str(private).lower()}", "[crawl]"]
    for key, value in settings.items():
        # (a conversion in an f-string applies to the whole expression: format bools apart)
        lines.append(
            f"{key} = {str(value).lower()}" if isinstance(value, bool) else f"{key} = {value!r}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Worker:
    """One `redline run` process; its log goes to a file (a full pipe would stall it)."""

    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def started(self) -> bool:
        return "redline running as" in self.text()

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, and the exit status (the test fails if it does not exit in time)."""
        if self.alive:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.alive:
            self.proc.kill()
        self.proc.wait(timeout=30)


def start_worker(
    db_url: str,
    config: Path,
    log: Path,
    *,
    public: tuple[str, ...] = (),
    wait: bool = True,
    script: str | None = None,
) -> Worker:
    env = {
        **os.environ,
        "REDLINE_DATABASE_URL": db_url,
        "REDLINE_CONFIG": str(config),
        "REDLINE_TEST_PUBLIC_IPS": ",".join(public),
    }
    env.pop("REDLINE_ALLOW_PRIVATE_NETWORKS", None)  # the config file decides
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-c", script or WRAPPER, "run", "--workers", "0", "-v"],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    worker = Worker(proc, log)
    if wait:
        wait_until(lambda: worker.started() or not worker.alive, 60, "the worker to start")
        assert worker.alive, worker.text()
    return worker


@contextlib.contextmanager
def workers_cleanup(workers: list[Worker]) -> Iterator[list[Worker]]:
    """Kill whatever a failing test left running."""
    try:
        yield workers
    finally:
        for worker in workers:
            worker.kill()


# --- the database, seen from the test -----------------------------------------------------------
def sql(db_url: str, statement: str, params: tuple = ()) -> list[tuple]:
    """Run one statement on either backend, as an operator with psql/sqlite3 would."""
    if db_url.startswith("postgresql://"):
        conninfo, schema = split_schema(db_url)
        options = f"-c search_path={schema}" if schema else ""
        with psycopg.connect(conninfo, options=options, autocommit=True) as conn:
            cur = conn.execute(statement.replace("?", "%s"), params)
            return cur.fetchall() if cur.description else []
    import sqlite3

    conn = sqlite3.connect(db_url.removeprefix("sqlite:///"), timeout=30)
    try:
        with conn:
            return conn.execute(statement, params).fetchall()
    finally:
        conn.close()


def expire_leases(db_url: str) -> int:
    """What 300 s of waiting would do: every lease held now ends a second ago."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    value = past if db_url.startswith("postgresql://") else format_time(past)
    rows = sql(
        db_url,
        "UPDATE articles SET lease_until = ? WHERE lease_owner IS NOT NULL RETURNING id",
        (value,),
    )
    return len(rows)


def article_gets(site: NewsSite, paths: list[str]) -> dict[str, int]:
    counts = dict.fromkeys(paths, 0)
    for request in site.requests:
        path = urlsplit(request.path).path
        if request.method == "GET" and path in counts:
            counts[path] += 1
    return counts


# --- a PostgreSQL that goes away ----------------------------------------------------------------
class TcpProxy:
    """A TCP proxy to PostgreSQL in a background thread. `down()` drops every connection and
    stops listening (connections are refused); `up()` listens on the same port again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.AbstractServer | None = None
        self.transports: set[asyncio.BaseTransport] = set()

    def __enter__(self) -> TcpProxy:
        self.thread.start()
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    def _run(self, coroutine):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    def up(self) -> None:
        self.server = self._run(self._listen())
        self.port = self.server.sockets[0].getsockname()[1]

    def down(self) -> None:
        if self.server is not None:
            self._run(self._close())
            self.server = None

    async def _listen(self) -> asyncio.AbstractServer:
        return await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    async def _close(self) -> None:
        assert self.server is not None
        self.server.close()
        for transport in list(self.transports):
            transport.abort()  # an RST, as when the server process dies
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        pair = {writer.transport, up_writer.transport}
        self.transports |= pair
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self.transports -= pair
            for transport in pair:
                transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()


def via_proxy(db_url: str, port: int) -> str:
    parts = urlsplit(db_url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


# --- the tests ----------------------------------------------------------------------------------
def fault_cases(private_url: str) -> dict[str, tuple[Fault, str]]:
    """slug -> (how the page misbehaves, the reason `articles.last_error` must start with)."""
    return {
        "error-500": (Fault.error(500), "http_error"),
        "hang": (Fault.hang(), "timeout"),
        "drip": (Fault.drip(0.1), "timeout"),
        "reset": (Fault.reset(), "connection_error"),
        "reset-mid-body": (Fault.reset(after_headers=True), "connection_error"),
        "truncated": (Fault.truncated(), "connection_error"),
        "redirect-loop": (Fault.redirect_loop(), "too_many_redirects"),
        "redirect-to-private-ip": (Fault.redirect(private_url), "blocked_ssrf"),
        "redirect-to-localhost": (
            Fault.redirect(private_url.replace("127.0.0.1", "localhost")),
            "blocked_ssrf",
        ),
        "redirect-to-hex-ip": (
            Fault.redirect(private_url.replace("127.0.0.1", "0x7f000001")),
            "blocked_ssrf",
        ),
        "redirect-to-decimal-ip": (
            Fault.redirect(private_url.replace("127.0.0.1", "2130706433")),
            "blocked_ssrf",
        ),
        "redirect-to-mapped-ipv6": (
            Fault.redirect(private_url.replace("127.0.0.1", "[::ffff:127.0.0.1]")),
            "blocked_ssrf",
        ),
        "redirect-to-ipv6-loopback": (
            Fault.redirect(private_url.replace("127.0.0.1", "[::1]")),
            "blocked_ssrf",
        ),
        "redirect-307-to-private-ip": (Fault.redirect(private_url, status=307), "blocked_ssrf"),
        "giant": (Fault.giant(3 * MiB), "too_large"),
        "giant-no-length": (Fault.giant(3 * MiB, content_length=False), "too_large"),
        "gzip-bomb": (Fault.bomb("gzip"), "too_large"),
        "deflate-bomb": (Fault.bomb("deflate"), "too_large"),
        "br-bomb": (Fault.bomb("br"), "too_large"),
        "zstd-bomb": (Fault.bomb("zstd"), "too_large"),
        "double-gzip-bomb": (Fault.bomb("gzip, gzip"), "too_large"),
    }


def reason_of(article: object) -> str | None:
    error = getattr(article, "last_error", None)
    return error.split(":", 1)[0] if error else None


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """The hostile web is the crawler's business: one backend is enough for these."""
    return f"sqlite:///{tmp_path / 'redline.sqlite'}"


def test_the_daemon_survives_every_misbehaviour_and_keeps_checking(sqlite_url, tmp_path):
    config = write_config(tmp_path / "redline.toml", private=False, max_bytes=MiB, timeout=3.0)
    with contextlib.ExitStack() as stack:
        private = stack.enter_context(NewsSite(articles=1, host="127.0.0.1"))
        faulty = stack.enter_context(NewsSite(articles=0, host=PUBLIC[0]))
        healthy = stack.enter_context(NewsSite(articles=4, host=PUBLIC[1]))
        limited = stack.enter_context(NewsSite(articles=2, host=PUBLIC[2]))
        robots = stack.enter_context(NewsSite(articles=2, host=PUBLIC[3]))
        cases = fault_cases(private.url(private.articles[0].path))
        for slug, (fault, _) in cases.items():
            faulty.add_article(
                f"The {slug} story", ["A paragraph long enough to be a story."] * 3, slug=slug
            )
            faulty.misbehave(faulty.article(slug).path, fault)
        limited.misbehave(limited.articles[0].path, Fault.retry_after("120"))
        limited.misbehave(limited.articles[1].path, Fault.retry_after("120", status=503))
        robots.misbehave("/robots.txt", Fault.error(503))
        expected = {faulty.article_url(slug): reason for slug, (_, reason) in cases.items()}
        expected |= {limited.article_url(a.slug): "rate_limited" for a in limited.articles}
        expected |= {robots.article_url(a.slug): "robots_unreachable" for a in robots.articles}
        good = [healthy.article_url(a.slug) for a in healthy.articles]
        track(sqlite_url, [*expected, *good])

        worker = stack.enter_context(workers_cleanup([]))
        worker.append(start_worker(sqlite_url, config, tmp_path / "w.log", public=PUBLIC))

        def settled() -> bool:
            seen = articles(sqlite_url, [*expected, *good])
            return all(seen[u].last_checked_at for u in expected) and all(
                seen[u].revision_count == 1 for u in good
            )

        wait_until(settled, 60, "every article to be checked once")
        seen = articles(sqlite_url, list(expected))
        wrong = {
            u.rsplit("/", 1)[-1]: (seen[u].last_error, want)
            for u, want in expected.items()
            if reason_of(seen[u]) != want
        }
        assert wrong == {}, worker[0].text()[-3000:]
        assert private.requests == []  # no hop reached the "internal" network
        assert {urlsplit(r.path).path for r in robots.requests} == {"/robots.txt"}
        for url in (limited.article_url(a.slug) for a in limited.articles):
            waited = seen[url].next_check_at - seen[url].last_checked_at
            assert waited >= timedelta(seconds=100)  # Retry-After: 120 is honoured
        assert worker[0].alive
        # It keeps going: a story published after all that is checked too.
        fresh = healthy.add_article("A later story", ["Reported after the storm of faults."] * 3)
        track(sqlite_url, [healthy.article_url(fresh.slug)])
        wait_until(
            lambda: (
                revision_counts(sqlite_url, [healthy.article_url(fresh.slug)])
                == {healthy.article_url(fresh.slug): 1}
            ),
            30,
            "the later story to be recorded",
        )
        assert worker[0].stop() == 0, worker[0].text()[-3000:]


def test_sigkill_mid_crawl_and_a_restart_lose_nothing(db_url, tmp_path):
    config = write_config(tmp_path / "redline.toml", timeout=60.0)
    with NewsSite(articles=60) as site, workers_cleanup([]) as running:
        urls = [site.article_url(a.slug) for a in site.articles]
        hung = [a.path for a in site.articles[:2]]  # in flight for as long as the worker lives
        for path in hung:
            site.misbehave(path, Fault.hang())
        track(db_url, urls)
        first = start_worker(db_url, config, tmp_path / "first.log")
        running.append(first)

        def recorded() -> int:
            return sum(revision_counts(db_url, urls).values())

        wait_until(
            lambda: recorded() >= 10 and all(article_gets(site, hung).values()),
            60,
            "the crawl to be under way",
        )
        first.kill()  # SIGKILL: no chance to release anything
        assert first.proc.returncode == -signal.SIGKILL
        site.behave()
        second = start_worker(db_url, config, tmp_path / "second.log")
        running.append(second)
        expire_leases(db_url)  # instead of waiting out the dead worker's 300 s leases
        wait_until(
            lambda: set(revision_counts(db_url, urls).values()) == {1},
            60,
            "every article to have its revision",
        )
        assert second.stop() == 0, second.text()[-3000:]
    store = open_store(db_url)
    try:
        for url in urls:
            article = store.get_article(url)
            assert [r.number for r in store.history(article.id)] == [1]
            kinds = [str(e.kind) for e in store.events(article.id)]
            assert kinds == ["first_seen"], (url, kinds)
    finally:
        store.close()
    gets = article_gets(site, [urlsplit(u).path for u in urls])
    assert all(n >= 1 for n in gets.values())
    assert all(gets[p] == 2 for p in hung)  # the lost in-flight fetch, and its retry


def test_postgres_outage_costs_only_retries(pg_schema, tmp_path):
    config = write_config(tmp_path / "redline.toml")
    target = urlsplit(pg_schema)
    with (
        TcpProxy((target.hostname or "127.0.0.1", target.port or 5432)) as proxy,
        NewsSite(articles=12) as site,
        workers_cleanup([]) as running,
    ):
        urls = [site.article_url(a.slug) for a in site.articles]
        before, during = urls[:6], urls[6:]
        track(pg_schema, before)
        worker = start_worker(via_proxy(pg_schema, proxy.port), config, tmp_path / "w.log")
        running.append(worker)
        wait_until(
            lambda: set(revision_counts(pg_schema, before).values()) == {1},
            60,
            "the first articles to be recorded",
        )
        proxy.down()  # every connection dropped, new ones refused
        track(pg_schema, during)  # work arrives while the daemon cannot see the database
        wait_until(
            lambda: "cannot lease due articles" in worker.text(),
            30,
            "the daemon to notice the outage",
        )
        assert worker.alive
        proxy.up()
        wait_until(
            lambda: set(revision_counts(pg_schema, urls).values()) == {1},
            90,
            "the articles added during the outage to be recorded",
        )
        assert worker.alive
        assert worker.stop() == 0, worker.text()[-3000:]
    assert all(n == 1 for n in article_gets(site, [urlsplit(u).path for u in urls]).values())


def loopback_host_name() -> str | None:
    """A name other than localhost that resolves to loopback only (the machine's own name
    usually does, through /etc/hosts); None when there is none to use."""
    name = socket.gethostname()
    try:
        infos = socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)
    except OSError:
        return None
    addresses = {info[4][0] for info in infos}
    if name.endswith("localhost") or not addresses:
        return None
    return name if all(ipaddress.ip_address(a).is_loopback for a in addresses) else None


def test_a_name_resolving_to_a_private_address_is_recorded_as_blocked_ssrf(sqlite_url, tmp_path):
    name = loopback_host_name()
    if name is None:
        pytest.skip("no host name here resolves to loopback only")
    config = write_config(tmp_path / "redline.toml", private=False)
    with NewsSite(articles=1) as private, NewsSite(articles=1, host=PUBLIC[0]) as public:
        target = private.url(private.articles[0].path).replace("127.0.0.1", name)
        public.misbehave(public.articles[0].path, Fault.redirect(target))
        hop = public.article_url(public.articles[0].slug)
        track(sqlite_url, [hop, target])
        check_once(sqlite_url, config)
        assert private.requests == []  # the guard itself held
        seen = articles(sqlite_url, [hop, target])
        assert {u: reason_of(a) for u, a in seen.items()} == dict.fromkeys(
            [hop, target], "blocked_ssrf"
        )


def test_sigterm_during_a_hanging_fetch_exits_0_and_leaves_no_lease(sqlite_url, tmp_path):
    config = write_config(tmp_path / "redline.toml", timeout=5.0)
    with NewsSite(articles=4) as site, workers_cleanup([]) as running:
        urls = [site.article_url(a.slug) for a in site.articles]
        stuck = site.articles[0].path
        site.misbehave(stuck, Fault.hang())
        track(sqlite_url, urls)
        worker = start_worker(sqlite_url, config, tmp_path / "w.log")
        running.append(worker)
        wait_until(
            lambda: (
                sum(revision_counts(sqlite_url, urls).values()) == 3 and site.requests_to(stuck)
            ),
            60,
            "the other articles to be recorded while one fetch hangs",
        )
        assert worker.stop(timeout=30) == 0, worker.text()[-3000:]  # bounded by the timeout
    assert sql(sqlite_url, "SELECT url FROM articles WHERE lease_owner IS NOT NULL") == []
    stuck_article = articles(sqlite_url, [urls[0]])[urls[0]]
    assert reason_of(stuck_article) in (None, "timeout")  # given back, or recorded as timeout


def check_once(db_url: str, config: Path) -> subprocess.CompletedProcess[bytes]:
    """`redline check --all` through the wrapper, with PUBLIC counted as public."""
    env = {**os.environ, "REDLINE_DATABASE_URL": db_url, "REDLINE_CONFIG": str(config)}
    env["REDLINE_TEST_PUBLIC_IPS"] = ",".join(PUBLIC)
    env.pop("REDLINE_ALLOW_PRIVATE_NETWORKS", None)
    command = [sys.executable, "-c", WRAPPER, "check", "--all", "--json", "--workers", "0"]
    return subprocess.run(command, env=env, cwd=REPO, capture_output=True, timeout=120)


def test_a_redirect_to_another_scheme_is_recorded_as_unsupported_scheme(sqlite_url, tmp_path):
    config = write_config(tmp_path / "redline.toml", private=False)
    with NewsSite(articles=2, host=PUBLIC[0]) as site:
        site.misbehave(site.articles[0].path, Fault.redirect("file:///etc/passwd"))
        site.misbehave(site.articles[1].path, Fault.redirect("ftp://127.0.0.1/x"))
        urls = [site.article_url(a.slug) for a in site.articles]
        track(sqlite_url, urls)
        check_once(sqlite_url, config)
    seen = articles(sqlite_url, urls)
    assert {u: reason_of(a) for u, a in seen.items()} == dict.fromkeys(urls, "unsupported_scheme")


# --- the watchdog ---------------------------------------------------------------------------------
# `redline run` whose crawl ends on its own a second after it started (its feeding stops with an
# error), as a crawl that Scrapy closed for any reason would.
CRAWL_ENDS = """
import asyncio
from redline.crawler import spider

async def start(self):
    await asyncio.sleep(1.0)
    raise RuntimeError("feeding broke")
    yield

spider.ArticleSpider.start = start
from redline.cli import main
main()
"""


def test_a_crawl_that_ends_unexpectedly_exits_1_so_systemd_restarts_it(sqlite_url, tmp_path):
    config = write_config(tmp_path / "redline.toml")
    log = tmp_path / "worker.log"
    worker = start_worker(sqlite_url, config, log, wait=False, script=CRAWL_ENDS)
    try:
        assert worker.proc.wait(timeout=90) == 1
    finally:
        worker.kill()
    assert "the crawl ended unexpectedly" in log.read_text(errors="replace")
