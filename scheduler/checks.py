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
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any

from crawler.analysis import Analysis, analyse, body_hash, pooled_analyse
from crawler.diff import compare
from crawler.errors import Reason
from crawler.extract import SiteProfile, profile_for
from crawler.extract.core import LARGE_PAGE
from crawler.spider import Fetched
from crawler.urls import canonicalize, registrable_domain, resolve_canonical
from scheduler import policy
from scheduler.recorder import BatchRecorder
from scheduler.sitememory import SiteMemories
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
NOT_ARTICLE = PageKind.NOT_ARTICLE


@dataclass(frozen=True, slots=True)
class CheckSettings:
    gone_after: int = 3  # consecutive 404s before an article is gone
    flip_confirmations: int = 3  # an older version must stay this many checks to count again
    gone_recheck: timedelta = timedelta(days=1)  # how often a gone article is looked at
    alert_channels: tuple[str, ...] = ()
    policy: policy.PolicySettings = field(default_factory=policy.PolicySettings)
    site_policies: Mapping[str, policy.PolicySettings] = field(default_factory=dict)


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
        self.sites = SiteMemories(store)
        self._recorder: BatchRecorder | None = None

    async def close(self) -> None:
        """Save what is only kept in this process (what was learnt about sites)."""
        await self.sites.close()

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
        events = list(base.pop("events", ()))
        status = None
        if claim.status is ArticleStatus.GONE and (page is None or page.kind is not NOT_ARTICLE):
            events.append((EventKind.BACK, f"HTTP {fetched.status}"))
            status = ArticleStatus.ACTIVE
        if page is None:  # the fast re-check: the article's own text did not change
            return FetchResult(
                **base,
                **validators,
                raw_hash=raw,
                same_content=True,
                events=tuple(events),
                status=status,
                next_check_at=self._next(claim, now),
            )
        if not base.get("moved_to") and (canonical := self._canonical(claim, fetched, page)):
            base["moved_to"] = canonical
            events.insert(0, (EventKind.MOVED, f"{canonical} (rel=canonical)"))
        if page.kind is NOT_ARTICLE:
            events.append((EventKind.UNAVAILABLE, page.reason or "not an article"))
        article = page.kind is not NOT_ARTICLE
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
        """The previous Page is loaded only when the fast re-check cannot tell on its own."""
        url = fetched.url or claim.url
        work: dict[str, Any] = dict(
            encoding=charset_of(fetched.headers),
            profile=profile_for(url, self.profiles),
            memory=claim.memory,
            latest_hash=claim.latest_hash,
        )
        pending = bool(claim.latest_revision and claim.memory)
        previous = None
        if claim.latest_revision and not pending:
            previous = await asyncio.to_thread(self.store.latest_page, claim.article_id)
        analysis = await self._run(claim, fetched.body, url, work, previous, pending)
        if analysis.needs_previous:
            previous = await asyncio.to_thread(self.store.latest_page, claim.article_id)
            analysis = await self._run(claim, fetched.body, url, work, previous, False)
        if analysis.site is not None:
            self.sites.learnt(claim.site, analysis.site)
        return analysis

    async def _run(
        self,
        claim: Claim,
        body: bytes,
        url: str,
        work: dict[str, Any],
        previous: Any,
        pending: bool,
    ) -> Analysis:
        work = {**work, "previous": previous, "previous_pending": pending}
        if pending and len(body) <= LARGE_PAGE:
            # The fast re-check stays in this process even with a pool: it costs less than
            # sending the body to a worker and back (docs/crawl-bench.md), and it needs no site
            # memory. Full extractions go to the pool, and so do re-checks of huge pages, which
            # decode and cut the page first and would hold up every other check here.
            return analyse(body, url, site=None, **work)
        if self.executor is None:
            return analyse(body, url, site=await self.sites.get(claim.site), **work)
        site = None if pending else await self.sites.for_pool(claim.site)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, pooled_analyse, body, url, site, work)

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
            settings=self._policy(claim),
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
            settings=self._policy(claim),
            key=claim.url,
        )

    def _policy(self, claim: Claim) -> policy.PolicySettings:
        """The revisit policy of the article's site ([policy.sites."..."]), else the default."""
        return policy.settings_for(claim.site, self.settings.policy, self.settings.site_policies)


def summary(outcomes: Counter[str]) -> str:
    order = [str(o) for o in Outcome]
    return ", ".join(f"{outcomes.get(name, 0)} {name.replace('_', ' ')}" for name in order)
