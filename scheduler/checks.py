"""From what the crawler fetched to what the store records: one article check, decided.

The outcome vocabulary (new, changed, unchanged, not_modified, gone, unavailable, error) comes
from storage.Outcome. URL states become events, never revisions: 410, or 404 seen `gone_after`
times in a row, is `gone` (and `back` when the page returns); a permanent redirect (301/308) is
`moved` and history continues under the new URL; a paywall, consent wall or soft 404 is
`unavailable`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any

from crawler.analysis import Analysis, analyse, body_hash
from crawler.diff import compare
from crawler.errors import Reason
from crawler.extract import SiteProfile, profile_for
from crawler.spider import Fetched
from crawler.urls import canonicalize, registrable_domain, resolve_canonical
from scheduler import policy
from scheduler.recorder import BatchRecorder
from storage import (
    ArticleStatus,
    Claim,
    EventKind,
    FetchResult,
    Outcome,
    PageKind,
    RecordResult,
    Store,
)

PERMANENT = (301, 308)


@dataclass(frozen=True, slots=True)
class CheckSettings:
    gone_after: int = 3  # consecutive 404s before an article is gone
    flip_confirmations: int = 3  # an older version must stay this many checks to count again
    gone_recheck: timedelta = timedelta(days=1)  # how often a gone article is looked at
    alert_channels: tuple[str, ...] = ()
    policy: policy.PolicySettings = field(default_factory=policy.PolicySettings)


def charset_of(headers: dict[str, str]) -> str | None:
    if "content-type" not in headers:
        return None
    message = Message()
    message["content-type"] = headers["content-type"]
    return message.get_param("charset")  # type: ignore[return-value]


class ArticleChecker:
    """Turns one Fetched into one recorded FetchResult; counts outcomes for summaries."""

    def __init__(
        self,
        store: Store,
        settings: CheckSettings,
        profiles: dict[str, SiteProfile],
        executor: Executor | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.settings = settings
        self.profiles = profiles
        self.executor = executor
        self.clock = clock
        self.outcomes: Counter[str] = Counter()
        self._sites: dict[str, str | None] = {}
        self._recorder: BatchRecorder | None = None

    async def check(self, fetched: Fetched) -> RecordResult:
        claim: Claim = fetched.job.claim
        result = await self.result_for(claim, fetched)
        if result.next_check_at is None:  # past the policy's maximum age: stop tracking
            result = replace(result, status=ArticleStatus.STOPPED)
        if self._recorder is None:
            self._recorder = BatchRecorder(self.store, compare)
        recorded = await self._recorder.record(result)
        self.outcomes[str(recorded.outcome)] += 1
        return recorded

    async def result_for(self, claim: Claim, fetched: Fetched) -> FetchResult:
        now = self.clock()
        base: dict[str, Any] = {
            "fetch_id": uuid.uuid4().hex,
            "article_id": claim.article_id,
            "fetched_at": now,
            "owner": claim.owner,
            "http_status": fetched.status,
            "alert_channels": self.settings.alert_channels,
            "flip_confirmations": self.settings.flip_confirmations,
        }
        if fetched.error is not None:
            return FetchResult(
                **base,
                error=f"{fetched.error}: {fetched.message}",
                next_check_at=self._retry_at(claim, now, fetched.retry_after),
            )
        status = fetched.status or 0
        moved = self._moved_to(claim, fetched)
        if moved:
            base["moved_to"] = moved
            base["events"] = ((EventKind.MOVED, moved),)
        if status == 304:
            return FetchResult(**base, not_modified=True, next_check_at=self._next(claim, now))
        if status == 410 or (status == 404 and claim.missing_count + 1 >= self.settings.gone_after):
            return self._gone(base, claim, now, status)
        if status >= 400:
            reason = Reason.RATE_LIMITED if status in (429, 503) else Reason.HTTP_ERROR
            return FetchResult(
                **base,
                error=f"{reason}: HTTP {status}",
                missing=status == 404,
                next_check_at=self._retry_at(claim, now, fetched.retry_after),
            )
        return await self._page_result(base, claim, fetched, now)

    async def _page_result(
        self,
        base: dict[str, Any],
        claim: Claim,
        fetched: Fetched,
        now: datetime,
    ) -> FetchResult:
        validators = {
            "etag": fetched.headers.get("etag"),
            "last_modified": fetched.headers.get("last-modified"),
        }
        raw = body_hash(fetched.body)
        if raw == claim.raw_hash and not base.get("moved_to"):
            return FetchResult(
                **base,
                **validators,
                not_modified=True,
                raw_hash=raw,
                next_check_at=self._next(claim, now),
            )
        analysis = await self._analyse(claim, fetched)
        page = analysis.page
        if not base.get("moved_to") and (canonical := self._canonical(claim, fetched, page)):
            base["moved_to"] = canonical
            base["events"] = ((EventKind.MOVED, f"{canonical} (rel=canonical)"),)
        events = list(base.pop("events", ()))
        status = None
        if page.kind is PageKind.NOT_ARTICLE:
            events.append((EventKind.UNAVAILABLE, page.reason or "not an article"))
        elif claim.status is ArticleStatus.GONE:
            events.append((EventKind.BACK, f"HTTP {fetched.status}"))
            status = ArticleStatus.ACTIVE
        article = page.kind is not PageKind.NOT_ARTICLE
        changed = article and analysis.content_hash != claim.latest_hash
        return FetchResult(
            **base,
            **validators,
            page=page,
            raw_html=fetched.body,
            raw_hash=raw,
            base_revision=claim.latest_revision,
            changes=analysis.changes,
            encoded=analysis.encoded,
            memory=analysis.memory,
            events=tuple(events),
            status=status,
            next_check_at=self._next(claim, now, changed=changed),
        )

    async def _analyse(self, claim: Claim, fetched: Fetched) -> Analysis:
        previous = None
        if claim.latest_revision:
            previous = await asyncio.to_thread(self.store.latest_page, claim.article_id)
        site = await self._site_memory(claim.site)
        work = dict(
            encoding=charset_of(fetched.headers),
            profile=profile_for(fetched.url or claim.url, self.profiles),
            memory=claim.memory,
            previous=previous,
            latest_hash=claim.latest_hash,
            site=site,
        )
        if self.executor is None:
            analysis = analyse(fetched.body, fetched.url or claim.url, **work)
        else:
            loop = asyncio.get_running_loop()
            analysis = await loop.run_in_executor(
                self.executor, _analyse_call, fetched.body, fetched.url or claim.url, work
            )
        if analysis.site is not None:
            self._sites[claim.site] = analysis.site
            await asyncio.to_thread(self.store.save_site_memory, claim.site, analysis.site)
        return analysis

    async def _site_memory(self, site: str) -> str | None:
        """Kept in this process once read; other workers' lessons arrive on the next start."""
        if site not in self._sites:
            self._sites[site] = await asyncio.to_thread(self.store.site_memory, site)
        return self._sites[site]

    def _gone(self, base: dict[str, Any], claim: Claim, now: datetime, status: int) -> FetchResult:
        events = (*base.pop("events", ()), (EventKind.GONE, f"HTTP {status}"))
        return FetchResult(
            **base,
            status=ArticleStatus.GONE,
            events=events,
            missing=status == 404,
            next_check_at=now + self.settings.gone_recheck,
        )

    def _moved_to(self, claim: Claim, fetched: Fetched) -> str | None:
        """The new URL, when every redirect hop was permanent and it leads somewhere else."""
        if not fetched.redirects or any(s not in PERMANENT for _, s in fetched.redirects):
            return None
        final = canonicalize(fetched.url)
        return final if final != canonicalize(claim.url) else None

    def _canonical(self, claim: Claim, fetched: Fetched, page: Any) -> str | None:
        """The page's own rel=canonical, when it names another URL of the same site and no
        temporary redirect was involved: one story reached two ways is one article."""
        if page.kind is PageKind.NOT_ARTICLE or not page.canonical_url:
            return None
        if any(status not in PERMANENT for _, status in fetched.redirects):
            return None
        canonical = resolve_canonical(fetched.url or claim.url, page.canonical_url)
        if registrable_domain(canonical) != registrable_domain(claim.url):
            return None
        return canonical if canonical != canonicalize(claim.url) else None

    def _next(self, claim: Claim, now: datetime, *, changed: bool = False) -> datetime | None:
        if claim.status is ArticleStatus.GONE and not changed:
            return now + self.settings.gone_recheck
        return policy.next_check(
            now=now,
            first_seen=claim.first_seen or now,
            last_changed=now if changed else claim.last_changed_at,
            recent_changes=claim.recent_changes + (1 if changed else 0),
            settings=self.settings.policy,
            key=claim.url,
        )

    def _retry_at(self, claim: Claim, now: datetime, retry_after: float | None) -> datetime | None:
        """After an error: when the host asked (Retry-After), else backing off from minutes
        to a day as failures repeat (scheduler.policy.next_check_after_error)."""
        if retry_after is not None:
            return now + timedelta(seconds=max(retry_after, 1.0))
        return policy.next_check_after_error(
            now=now,
            first_seen=claim.first_seen or now,
            failures=claim.error_count + 1,
            settings=self.settings.policy,
            key=claim.url,
        )


def _analyse_call(body: bytes, url: str, work: dict[str, Any]) -> Analysis:
    return analyse(body, url, **work)


def summary(outcomes: Counter[str]) -> str:
    order = [str(o) for o in Outcome]
    return ", ".join(f"{outcomes.get(name, 0)} {name.replace('_', ' ')}" for name in order)
