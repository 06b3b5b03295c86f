"""Checks run in-process against the real loopback news site, without Scrapy.

The checker's input is what the crawler fetched (`Fetched`). Here a plain HTTP client on
loopback stands in for the Scrapy crawl (which needs a process of its own: its reactor runs once
per process): it sends the job's conditional headers, follows redirects hop by hop as Scrapy
does, and reports each hop's status. Scrapy's own part (middlewares, limits, the SSRF guard) is
tested in tests/test_middlewares.py and end to end in tests/test_daemon.py. Not collected.
"""

from __future__ import annotations

import http.client
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

from redline.crawler.spider import Fetched, FetchJob
from redline.scheduler.checks import ArticleChecker
from redline.scheduler.daemon import conditional_headers
from redline.storage import RecordResult, Store

REDIRECTS = (301, 302, 303, 307, 308)


def fetch(job: FetchJob, *, timeout: float = 10.0) -> Fetched:
    """GET the job's URL as the crawler would: its headers, up to 5 redirects followed."""
    url, hops = job.url, []
    for _ in range(6):
        parts = urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
        try:
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            conn.request("GET", path, headers={"User-Agent": "Redline-test", **dict(job.headers)})
            response = conn.getresponse()
            body = response.read()
            headers = {k.lower(): v for k, v in response.getheaders()}
        finally:
            conn.close()
        if response.status in REDIRECTS and "location" in headers:
            hops.append((url, response.status))
            url = urljoin(url, headers["location"])
            continue
        retry = headers.get("retry-after")
        return Fetched(
            job,
            url=url,
            status=response.status,
            headers=headers,
            body=body,
            redirects=tuple(hops),
            retry_after=float(retry) if retry and retry.isdigit() else None,
        )
    return Fetched(job, url=url, error="too_many_redirects", message="more than 5 redirects")


async def check_now(
    checker: ArticleChecker, store: Store, urls: Sequence[str], owner: str = "test"
) -> list[RecordResult]:
    """Lease these articles, fetch each, and record each check through the checker."""
    import asyncio

    ids = [store.get_article(u).id for u in urls]
    claims = store.claim_ids(ids, datetime.now(UTC), owner, lease_seconds=60)
    results = []
    for claim in claims:
        job = FetchJob(claim.url, claim=claim, headers=conditional_headers(claim))
        fetched = await asyncio.to_thread(fetch, job)
        results.append(await checker.check(fetched))
    return results
