"""Discovery: sources (feeds, sitemaps, section pages) are fetched like articles and the links
they list become tracked articles. Sources are leased, so with several workers each source is
read once per interval across the cluster."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from redline.crawler import discovery
from redline.crawler.spider import Fetched, FetchJob
from redline.crawler.urls import canonicalize
from redline.storage import Source, SourceKind, StorageError, Store

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
        if source is None:
            raise ValueError(f"{fetched.job.url}: not a source check")
        now = self.clock()
        error = None
        added = 0
        if fetched.error is not None:
            error = f"{fetched.error}: {fetched.message}"
        elif (fetched.status or 0) >= 400:
            error = f"http_error: HTTP {fetched.status}"
        else:
            try:
                found = discovery.discover(
                    str(source.kind),
                    fetched.body,
                    fetched.url or source.url,
                    pattern=source.pattern if source.kind is SourceKind.PAGE else None,
                    limit=self.max_links,
                )
                links = self.filter(found.links, source.kind, source.pattern)
                added = await asyncio.to_thread(self._track, links, found.sitemaps, source, now)
            except (ValueError, StorageError) as exc:
                error = f"parse_error: {exc}"
        try:
            await asyncio.to_thread(
                self.store.record_source_check, source.id, owner, now, error=error
            )
        except StorageError as exc:
            log.warning("cannot record the check of %s: %s", source.url, exc)
        if error:
            log.warning(
                "source %s: %s", source.url, error, extra={"event": "error", "url": source.url}
            )
        self.added += added
        return added

    @staticmethod
    def filter(links: Any, kind: SourceKind, pattern: str | None) -> list[str]:
        """Canonical URLs, filtered by the source's pattern (a page source applies it while
        parsing)."""
        urls = [link.url for link in links]
        if pattern and kind is not SourceKind.PAGE:
            regex = re.compile(pattern)
            urls = [u for u in urls if regex.search(u)]
        return [canonicalize(u) for u in urls]

    def _track(self, links: list[str], sitemaps: Any, source: Source, now: datetime) -> int:
        """Track new article URLs; child sitemaps of an index become sources of their own."""
        for child in sitemaps:
            try:
                self.store.add_source(
                    child, SourceKind.SITEMAP, source.every_seconds, now, pattern=source.pattern
                )
            except StorageError as exc:
                log.info("skipping sitemap %s: %s", child, exc)
        added = 0
        for link in dict.fromkeys(links):
            try:
                _, created = self.store.add_article(link, now, source_id=source.id)
            except StorageError as exc:
                log.info("skipping %s: %s", link, exc)
                continue
            added += created
        return added
