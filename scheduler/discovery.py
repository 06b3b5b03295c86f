"""Discovery: sources (feeds, sitemaps, section pages) are fetched like articles and the links
they list become tracked articles. Sources are leased, so with several workers each source is
read once per interval across the cluster."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime

from crawler import discovery
from crawler.spider import Fetched, FetchJob
from crawler.urls import canonicalize
from storage import SourceKind, StorageError, Store

log = logging.getLogger("redline.discovery")


class SourceChecker:
    def __init__(
        self,
        store: Store,
        *,
        lease_seconds: float = 300.0,
        max_links: int = 5000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.lease_seconds = lease_seconds
        self.max_links = max_links
        self.clock = clock
        self.added = 0

    def due_jobs(self, now: datetime, owner: str) -> list[FetchJob]:
        sources = self.store.claim_due_sources(
            now, owner, limit=16, lease_seconds=self.lease_seconds
        )
        return [FetchJob(s.url, source=s) for s in sources]

    async def check(self, fetched: Fetched, owner: str) -> int:
        source = fetched.job.source
        now = self.clock()
        error = None
        added = 0
        if fetched.error is not None:
            error = f"{fetched.error}: {fetched.message}"
        elif (fetched.status or 0) >= 400:
            error = f"http_error: HTTP {fetched.status}"
        else:
            try:
                links = self.links(
                    source.kind, fetched.body, fetched.url or source.url, source.pattern
                )
                added = await asyncio.to_thread(self._track, links, source.id, now)
            except (ValueError, StorageError) as exc:
                error = f"parse_error: {exc}"
        try:
            await asyncio.to_thread(
                self.store.record_source_check, source.id, owner, now, error=error
            )
        except StorageError as exc:
            log.warning("cannot record the check of %s: %s", source.url, exc)
        if error:
            log.warning("source %s: %s", source.url, error)
        self.added += added
        return added

    def links(self, kind: SourceKind, body: bytes, url: str, pattern: str | None) -> list[str]:
        if kind is SourceKind.FEED:
            found = [e.url for e in discovery.parse_feed(body, url)]
        elif kind is SourceKind.SITEMAP:
            found = [e.url for e in discovery.parse_sitemap(body, url).urls]
        else:
            found = discovery.page_links(body, url, pattern or ".")
        if pattern and kind is not SourceKind.PAGE:
            regex = re.compile(pattern)
            found = [u for u in found if regex.search(u)]
        return [canonicalize(u) for u in found[: self.max_links]]

    def _track(self, links: list[str], source_id: int, now: datetime) -> int:
        added = 0
        for link in dict.fromkeys(links):
            try:
                _, created = self.store.add_article(link, now, source_id=source_id)
            except StorageError as exc:
                log.info("skipping %s: %s", link, exc)
                continue
            added += created
        return added
