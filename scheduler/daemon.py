"""`redline run`: one process, one asyncio loop, one never-ending crawl.

Scrapy runs on the asyncio reactor with one crawl whose spider awaits a bounded queue;
APScheduler jobs on the same loop lease due articles and sources from the store and fill that
queue; extraction and diffing run in a small process pool. The backlog lives in the store.

Shutdown (SIGTERM or SIGINT): stop claiming, let in-flight fetches finish and be recorded,
release the leases of everything not fetched, exit 0. A second signal exits at once (leases
then expire and are retried). A crawl that ends on its own is a failure: exit 1, so that
systemd restarts the daemon.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import socket
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from redline.crawler.analysis import pool_worker_started
from redline.crawler.crawlsettings import CrawlSettings, scrapy_settings
from redline.crawler.spider import ArticleSpider, Fetched, FetchJob
from redline.scheduler.checks import ArticleChecker, tally
from redline.scheduler.discovery import SourceChecker
from redline.scheduler.metrics import CheckMetrics
from redline.storage import Claim, Outcome, StorageError, Store
from redline.storage.errors import DiskFull

if TYPE_CHECKING:
    from redline.scheduler.alerts.delivery import AlertDispatcher

log = logging.getLogger("redline.daemon")
REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
DISK_FULL_SAID_EVERY = 60.0  # seconds: the daemon says its database's disk is full this seldom


@dataclass(frozen=True, slots=True)
class DaemonSettings:
    lease_seconds: float = 300.0  # longer than a download can take (timeout + queueing)
    queue_size: int = 256  # leased jobs waiting for the crawler
    feed_every: float = 1.0  # seconds between looks at the due queue
    discovery_every: float = 10.0
    workers: int = 2  # extraction processes; 0 = inline (tests)
    pin_cpus: bool = True  # with a pool and 2+ CPUs: this process on one, the pool on the rest
    alerts_every: float = 1.0  # seconds between looks at the alert outbox (retries, digests)
    claim_attempts: int = 10  # a one-off pass gives up on targets it cannot lease this often
    fetch_log_days: int = 30  # quiet checks older than this become daily counts; 0: never
    roll_up_every: float = 6 * 3600.0  # seconds between rollups of the fetch log


def place_on_cpus() -> frozenset[int] | None:
    """Keep this process on one of its CPUs and return the others, for the pool.

    Every check passes through this process, and it runs one thread of Python at a time: when
    pool workers share its CPU, every check waits for them (docs/crawl-bench.md has the
    figures). The price: the pool has one CPU fewer, which slows a burst of first extractions.
    With one CPU, or where affinity cannot be set, nothing changes and None is returned."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
        if len(allowed) < 2:
            return None
        os.sched_setaffinity(0, {allowed[-1]})
    except (AttributeError, OSError):  # not Linux, or not allowed
        return None
    return frozenset(allowed[:-1])


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def conditional_headers(claim: Claim) -> tuple[tuple[str, str], ...]:
    """If-None-Match and If-Modified-Since from the last full answer; none while an older
    version is being counted (a 304 would say nothing about which version is served)."""
    if claim.flip_hash is not None:
        return ()
    headers = []
    if claim.etag:
        headers.append(("If-None-Match", claim.etag))
    if claim.last_modified:
        headers.append(("If-Modified-Since", claim.last_modified))
    return tuple(headers)


class Daemon:
    """Owns the loop's parts and their order of starting and stopping."""

    def __init__(
        self,
        store: Store,
        crawl: CrawlSettings,
        checker: ArticleChecker,
        sources: SourceChecker,
        settings: DaemonSettings,
        *,
        alerts: AlertDispatcher | None = None,
        owner: str | None = None,
        targets: Sequence[int] | None = None,
        on_progress: Callable[[Fetched, Any], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.crawl = crawl
        self.checker = checker
        self.sources = sources
        self.settings = settings
        self.alerts = alerts
        self.targets = list(targets) if targets is not None else None  # one pass over these
        self.on_progress = on_progress
        self.clock = clock
        self.owner = owner or worker_name()
        self.queue: asyncio.Queue[FetchJob] = asyncio.Queue(maxsize=settings.queue_size)
        self.outstanding: set[int] = set()  # article ids leased by us and not yet recorded
        self.skipped: list[int] = []  # targets another worker held: not checked by this pass
        self.unclaimed: list[int] = []  # targets that could not be leased (database errors)
        self.exit_code = 0
        self._claim_failures = 0
        self.fatal: DiskFull | None = None  # what ended a one-off pass early
        self._disk_full_said: datetime | None = None
        if alerts is not None:
            checker.on_alerts = alerts.wake
        self._stopping = False
        self._stopped: asyncio.Event | None = None
        self._refilling: asyncio.Future[None] | None = None
        self._feeding = asyncio.Lock()
        self.runner: Any = None
        self.scheduler: Any = None
        self.executor: Executor | None = None
        # What /readyz asks (redline/webserver.py): when it started, when the due queue was
        # last looked at, when a check last ended, and last ended with an answer recorded.
        metrics = getattr(checker, "metrics", None)  # the checker counts the checks
        self.metrics = metrics if isinstance(metrics, CheckMetrics) else CheckMetrics()
        self.started_at: datetime | None = None
        self.last_tick: datetime | None = None
        self.last_check: datetime | None = None
        self.last_success: datetime | None = None
        # The summary line: the checker's counts when it was last written, and when.
        self._summarised: Counter[str] = Counter()
        self._summarised_at: datetime | None = None

    @property
    def running(self) -> bool:
        """Its jobs are scheduled and it is not stopping."""
        return bool(self.scheduler is not None and self.scheduler.running) and not self._stopping

    # --- start ------------------------------------------------------------------------------
    async def main(self) -> int:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler
        from scrapy import signals
        from scrapy.crawler import AsyncCrawlerRunner

        loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self._install_signals(loop)
        self.executor = self._executor()
        self.checker.executor = self.executor
        self.runner = AsyncCrawlerRunner(scrapy_settings(self.crawl))
        if self.crawl.log_level:  # [crawl] log_level: Scrapy's lines, whatever --log-level says
            logging.getLogger("scrapy").setLevel(self.crawl.log_level)
        crawler = self.runner.create_crawler(ArticleSpider)
        crawler.signals.connect(self._downloaded, signal=signals.response_downloaded)
        task = self.runner.crawl(crawler, queue=self.queue, handle=self.handle)
        task.add_done_callback(self._crawl_ended)
        # A busy loop must not make APScheduler skip a run ("missed by 1 s"): run it late.
        self.scheduler = AsyncIOScheduler(
            event_loop=loop, job_defaults={"misfire_grace_time": None, "coalesce": True}
        )
        self._every(self.feed, self.settings.feed_every)
        if self.alerts is not None:
            self._every(self.alerts.tick, self.settings.alerts_every)
        if self.targets is None:
            self._every(self.discover, self.settings.discovery_every)
            if self.settings.fetch_log_days > 0:
                self._every(self.roll_up, self.settings.roll_up_every)
        if self.crawl.summary_every > 0:  # first after one interval: nothing to say at once
            self.scheduler.add_job(
                self.summarise, "interval", seconds=self.crawl.summary_every, id="summarise"
            )
        self.scheduler.start()
        self.started_at = self._summarised_at = self.clock()
        log.info(
            "redline running as %s on %s",
            self.owner,
            self.store.url,
            extra={"event": "started"},
        )
        await self._stopped.wait()
        await self._shutdown()
        return self.exit_code

    def _downloaded(self, request: Any, **_: Any) -> None:
        """Scrapy's download_latency of every answer, for the fetch histogram."""
        latency = request.meta.get("download_latency")
        if latency is not None:
            self.metrics.fetched(latency)

    def _every(self, job: Callable[[], Any], seconds: float) -> None:
        """A job run now, then every `seconds`, one run at a time."""
        self.scheduler.add_job(
            job,
            "interval",
            seconds=seconds,
            id=job.__name__,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )

    def _executor(self) -> Executor | None:
        if self.settings.workers <= 0:
            return None
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["redline.crawler.analysis"])
        pool_cpus = place_on_cpus() if self.settings.pin_cpus else None
        return ProcessPoolExecutor(
            self.settings.workers,
            mp_context=context,
            initializer=pool_worker_started,
            initargs=(pool_cpus, os.getpid()),  # the workers die with this process
        )

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)

    def _on_signal(self, sig: int) -> None:
        if self._stopping:
            log.warning(
                "second %s: exiting now; leases expire and are retried",
                signal.Signals(sig).name,
                extra={"event": "stopping"},
            )
            os._exit(2)
        log.info(
            "%s: finishing in-flight work, then exiting",
            signal.Signals(sig).name,
            extra={"event": "stopping"},
        )
        self.stop()

    def stop(self, code: int | None = None) -> None:
        if code is not None:
            self.exit_code = code
        self._stopping = True
        if self._stopped is not None:
            self._stopped.set()

    def _crawl_ended(self, task: asyncio.Task[Any]) -> None:
        if not self._stopping:  # the watchdog: a crawl must never end on its own
            problem = task.exception() if not task.cancelled() else "cancelled"
            log.error("the crawl ended unexpectedly (%s): exiting with status 1", problem)
            self.stop(1)

    # --- jobs -------------------------------------------------------------------------------
    async def feed(self) -> None:
        """Lease due articles into the queue, as many as it has room for (one feed at a time:
        the tick and a refill must not both count the same room)."""
        async with self._feeding:
            if self._stopping:
                return
            room = self.queue.maxsize - self.queue.qsize()
            if room > 0:
                if self.targets is None:
                    await self._claim_due(room)
                else:
                    await self._claim_targets(room)
            self.last_tick = self.clock()
            self._end_of_pass()

    async def _leased(
        self, what: str, call: Callable[..., list[Any]], *args: Any, **kw: Any
    ) -> list[Any]:
        """Due work leased from the store; none when the store fails (a full disk said once a
        minute, anything else once per attempt): the next tick asks again."""
        try:
            return await asyncio.to_thread(call, *args, **kw)
        except DiskFull as exc:
            self._disk_full(exc)
        except StorageError as exc:
            log.warning("cannot lease due %s: %s (retrying)", what, exc)
        return []

    async def _claim_due(self, room: int) -> None:
        now, lease = self.clock(), self.settings.lease_seconds
        claims = await self._leased(
            "articles", self.store.claim_due, now, self.owner, limit=room, lease_seconds=lease
        )
        self._enqueue(claims)

    async def _claim_targets(self, room: int) -> None:
        """A one-off pass: lease the next targets. They leave the list only once the lease
        was asked for and answered: those leased are checked, those another worker holds are
        skipped (and reported); after `claim_attempts` database errors in a row the rest is
        given up (and reported) instead of waiting for ever."""
        assert self.targets is not None
        batch = self.targets[:room]
        if not batch:
            return
        now, lease = self.clock(), self.settings.lease_seconds
        try:
            claims = await asyncio.to_thread(
                self.store.claim_ids, batch, now, self.owner, lease_seconds=lease
            )
        except DiskFull as exc:  # waiting would not free any space: the pass ends
            self._disk_full(exc)
            return
        except StorageError as exc:
            self._claim_failures += 1
            if self._claim_failures < self.settings.claim_attempts:
                log.warning("cannot lease articles to check: %s (retrying)", exc)
                return
            log.error("cannot lease articles to check: %s (giving up on %d)", exc, len(batch))
            self.unclaimed.extend(batch)
            del self.targets[: len(batch)]
            return
        self._claim_failures = 0
        claimed = {c.article_id for c in claims}
        self.skipped.extend(i for i in batch if i not in claimed)
        del self.targets[: len(batch)]
        self._enqueue(claims)

    def _disk_full(self, exc: DiskFull) -> None:
        """The database's disk is full. A one-off pass ends (nothing it checks could be
        recorded) and leaves saying so to its caller (`fatal`); the daemon goes on trying (the
        leases expire, the checks are retried) and says so once a minute, not once a check."""
        if self.targets is not None:
            if self.fatal is None:
                self.fatal = exc
                self.stop(1)
            return
        now = self.clock()
        said = self._disk_full_said
        if said is None or (now - said).total_seconds() >= DISK_FULL_SAID_EVERY:
            self._disk_full_said = now
            log.error(
                "the database's disk is full (%s): checks are not recorded; retrying, "
                "saying so again in a minute",
                exc,
                extra={"event": "disk_full"},
            )

    def _end_of_pass(self) -> None:
        """A one-off pass ends when every target was leased and recorded, skipped, or given
        up: tested after every lease and every recorded check, so it ends whatever happens."""
        if self.targets is None or self.targets or self.outstanding or not self.queue.empty():
            return
        self.stop()

    def _enqueue(self, claims: list[Claim]) -> None:
        for claim in claims:
            self.outstanding.add(claim.article_id)
            self.queue.put_nowait(
                FetchJob(claim.url, claim=claim, headers=conditional_headers(claim))
            )

    def _refill(self) -> None:
        """Top the queue up as it drains, not only at the next tick: a busy crawler would
        otherwise idle between ticks."""
        idle = self._refilling is None or self._refilling.done()
        if idle and self.queue.qsize() < self.queue.maxsize // 2 and not self._stopping:
            self._refilling = asyncio.ensure_future(self.feed())

    async def discover(self) -> None:
        if self._stopping:
            return
        jobs = await self._leased("sources", self.sources.due_jobs, self.clock(), self.owner)
        for job in jobs:
            await self.queue.put(job)

    async def handle(self, fetched: Fetched) -> None:
        job = fetched.job
        if job.source is not None or job.claim is None:
            await self.sources.check(fetched, self.owner)
            return
        claim = job.claim
        recorded = None
        try:
            recorded = await self.checker.check(fetched)
            if recorded.outcome != Outcome.ERROR:
                self.last_success = self.clock()
        except DiskFull as exc:  # the lease expires and the check is retried (by the daemon)
            self._disk_full(exc)
            self.checker.count("error", claim.site)
        except Exception:  # the lease expires and the check is retried
            log.exception(
                "could not record the check of %s",
                job.url,
                extra={"event": "error", "url": job.url, "outcome": "error"},
            )
            self.checker.count("error", claim.site)
        finally:
            self.last_check = self.clock()
            self.outstanding.discard(claim.article_id)
            self._refill()
            if self.on_progress is not None:
                self.on_progress(fetched, recorded)
            self._end_of_pass()

    async def roll_up(self) -> None:
        """The fetch log kept bounded: quiet checks older than `fetch_log_days` become daily
        counts, in short transactions (docs/storage.md). One line when it did something."""
        older_than = timedelta(days=self.settings.fetch_log_days)
        try:
            done = await asyncio.to_thread(
                self.store.roll_up_fetches, self.clock(), older_than=older_than
            )
        except StorageError as exc:  # tried again at the next interval; nothing is lost
            log.warning("could not roll up the fetch log: %s", exc, extra={"event": "error"})
            return
        if done.checks:
            log.info(
                "fetch log: %s older than %d days rolled up into daily counts",
                _count(done.checks, "quiet check"),
                self.settings.fetch_log_days,
                extra={"event": "rollup", "checks": done.checks},
            )

    async def summarise(self) -> None:
        """The summary line (INFO, every `[crawl] summary_every` seconds and at the end):
        checks, changes and errors since the last one, and how late the due queue is."""
        now, since = self.clock(), self._summarised_at or self.started_at
        counts = Counter(self.checker.outcomes)
        window = counts - self._summarised
        self._summarised, self._summarised_at = counts, now
        lag = None
        try:
            oldest = (await asyncio.to_thread(self.store.queue_gauges, now))["oldest_due"]
            lag = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
        except StorageError:  # said by whatever else fails on it; the counts still are news
            pass
        seconds = (now - since).total_seconds() if since is not None else 0.0
        checks, changes, errors = tally(window)
        order = [str(o) for o in Outcome]
        outcomes = ", ".join(
            f"{window[o]} {o.replace('_', ' ')}" for o in sorted(window, key=order.index)
        )
        log.info(
            "last %.0f s: %s%s, %s, %s; due queue lag %s",
            seconds,
            _count(checks, "check"),
            f" ({outcomes})" if outcomes else "",
            _count(changes, "change"),
            _count(errors, "error"),
            "unknown" if lag is None else f"{lag:.0f} s",
            extra={
                "event": "summary",
                "checks": checks,
                "changes": changes,
                "errors": errors,
                "queue_lag": lag,
                "duration": seconds,
                "outcomes": dict(window),
            },
        )

    # --- stop -------------------------------------------------------------------------------
    async def _shutdown(self) -> None:
        """Pause the jobs, let the crawl finish what is in flight, give back the rest."""
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.pause()
        if self.runner is not None:
            await self.runner.stop()
            await self.runner.join()
        if self.crawl.summary_every > 0 and self.started_at is not None:
            await self.summarise()  # what the last interval (or this whole pass) did
        try:
            await self.checker.close()
        except StorageError as exc:  # what it kept is a hint extraction rebuilds
            if self.fatal is None:  # a pass that ended on a full disk has said why
                log.warning("could not save what was learnt about sites: %s", exc)
        except Exception:  # never block the exit
            log.exception("could not save what was learnt about sites")
        while not self.queue.empty():
            job = self.queue.get_nowait()
            if job.claim is not None:
                self.outstanding.add(job.claim.article_id)
        if self.outstanding:
            try:
                released = await asyncio.to_thread(
                    self.store.release, sorted(self.outstanding), self.owner
                )
                log.info("released %d leases of articles not fetched", released)
            except StorageError as exc:
                if self.fatal is None:
                    log.warning("could not release leases (%s); they expire on their own", exc)
        await self._finish_alerts()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)

    async def _finish_alerts(self) -> None:
        """A one-off pass sends what it created (people who run `redline check` from cron
        get alerts too); the daemon lets the sends in flight finish."""
        if self.alerts is None:
            return
        try:
            if self.targets is not None:
                await self.alerts.flush()
        except StorageError as exc:
            if self.fatal is None:
                log.warning("could not send the alerts of this pass: %s (sent later)", exc)
        finally:
            await self.alerts.close()


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def run_daemon(build: Callable[[], Daemon], *, allow_private: bool) -> int:
    """Install the asyncio reactor, run the daemon on it, return its exit code."""
    from scrapy.utils.reactor import install_reactor

    install_reactor(REACTOR)
    from twisted.internet import reactor
    from twisted.logger import STDLibLogObserver, globalLogBeginner

    # Twisted's own log (an unhandled error in a Deferred) through Python logging, in the
    # process's one format, instead of Twisted's on stderr.
    globalLogBeginner.beginLoggingTo([STDLibLogObserver(name="twisted")], redirectStandardIO=False)

    from redline.crawler.netguard import is_refused_address
    from redline.crawler.resolver import install_guarded_resolver

    if not allow_private:
        install_guarded_resolver(reactor, is_refused_address)
    result: dict[str, int] = {}

    async def main() -> None:
        try:
            result["code"] = await build().main()
        except Exception:
            log.exception("the daemon failed")
            result["code"] = 1
        finally:
            reactor.stop()

    reactor.callWhenRunning(lambda: asyncio.ensure_future(main()))
    reactor.run(installSignalHandlers=False)
    return result.get("code", 1)
