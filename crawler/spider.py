"""The one never-ending crawl: `ArticleSpider.start()` awaits a bounded queue of jobs.

The backlog lives in the store (leased rows), never in Scrapy's in-memory scheduler, so nothing
is lost at shutdown. Every job ends in exactly one call of the `handle` coroutine, with either a
response or an error reason: the daemon records it and the lease is released.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import scrapy
from scrapy import signals
from scrapy.http import Request, Response
from scrapy.utils.httpobj import urlparse_cached
from twisted.python.failure import Failure

from redline.crawler.errors import Reason
from redline.crawler.failures import classify
from redline.storage import Claim, Source

log = logging.getLogger(__name__)
# Statuses the daemon interprets itself (redirects are followed by Scrapy and reported in
# `redirects`): 304 and every 4xx and 5xx.
HANDLED_STATUSES = [304, *range(400, 600)]


@dataclass(frozen=True, slots=True)
class FetchJob:
    """One URL to fetch: an article check (`claim`) or a discovery source (`source`)."""

    url: str
    claim: Claim | None = None
    source: Source | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Fetched:
    """What came back for a job: a response (any status) or an error reason."""

    job: FetchJob
    url: str = ""  # the final URL, after redirects
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    redirects: tuple[tuple[str, int], ...] = ()  # (url, status) of each hop followed
    error: str | None = None  # a crawler.errors.Reason value
    message: str = ""
    retry_after: float | None = None  # seconds, when the host asked us to wait


Handler = Callable[[Fetched], Awaitable[None]]


class ArticleSpider(scrapy.Spider):
    name = "redline"

    def __init__(self, queue: asyncio.Queue[FetchJob], handle: Handler, **kw: Any) -> None:
        super().__init__(**kw)
        self.queue = queue
        self.handle = handle

    async def start(self) -> AsyncIterator[Request]:
        while True:
            while self.crawler.engine.needs_backout():
                await self.crawler.signals.wait_for(signals.scheduler_empty)
            job = await self.queue.get()
            try:  # one bad job must never end the feeding for good
                yield self.request_for(job)
            except Exception as exc:
                log.exception("cannot build a request for %s", job.url)
                await self._report(Fetched(job, error=str(Reason.BAD_URL), message=str(exc)))

    def request_for(self, job: FetchJob) -> Request:
        return Request(
            job.url,
            headers=dict(job.headers),
            callback=self.parse,
            errback=self.failed,
            dont_filter=True,
            meta={"job": job, "handle_httpstatus_list": HANDLED_STATUSES},
        )

    async def parse(self, response: Response) -> AsyncIterator[Any]:
        meta = response.meta
        redirects = tuple(
            zip(meta.get("redirect_urls", ()), meta.get("redirect_reasons", ()), strict=False)
        )
        await self._report(
            Fetched(
                job=meta["job"],
                url=response.url,
                status=response.status,
                headers={
                    k.decode("latin-1").lower(): b",".join(v).decode("latin-1")
                    for k, v in response.headers.items()
                },
                body=response.body,
                redirects=tuple((u, int(s)) for u, s in redirects if isinstance(s, int)),
                retry_after=meta.get("redline_retry_after"),
            )
        )
        return
        yield  # an async generator: Scrapy awaits it to the end

    async def failed(self, failure: Failure) -> AsyncIterator[Any]:
        request = failure.request  # type: ignore[attr-defined]
        host = urlparse_cached(request).hostname or ""
        error = failure.value if failure.value is not None else RuntimeError("unknown failure")
        reason, message = classify(error, request.meta, host)
        await self._report(
            Fetched(
                job=request.meta["job"],
                url=request.url,
                error=reason,
                message=message,
                retry_after=request.meta.get("redline_retry_after"),
            )
        )
        return
        yield

    async def _report(self, fetched: Fetched) -> None:
        try:
            await self.handle(fetched)
        except Exception:
            log.exception(
                "recording %s failed; its lease will expire and it is retried", fetched.job.url
            )
