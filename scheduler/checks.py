"""One article check, top to bottom: observe, analyse, look up, decide, plan alerts, record.

The crawler has fetched (`Fetched`); this module turns that into one recorded check:

1. observe: what the answer showed (status, validators, the bytes' hash, a permanent move);
2. analyse: extraction and the differ, only when the answer is worth reading (CPU-heavy work
   goes to the process pool; the fast re-check of a known page stays here);
3. look up: the two facts the decision needs from the store (does another article already
   track the URL this one moved to; is this text an older revision's);
4. decide: `scheduler.decision.decide`, pure, one typed outcome;
5. plan alerts: which rules and channels the decided check calls for (pure);
6. record: the store persists it all in one transaction. If another worker wrote a revision
   since the claim, the store says so and steps 2 to 6 run again against the latest one.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.message import Message
from typing import Any

from redline.crawler.analysis import Analysis, analyse, body_hash, pooled_analyse
from redline.crawler.extract import EXTRACTOR_VERSION, SiteProfile, profile_for
from redline.crawler.extract.core import LARGE_PAGE
from redline.crawler.spider import Fetched
from redline.scheduler.alerts.rules import AlertRule, Subject, change_texts, plan_alerts
from redline.scheduler.decision import (
    CheckSettings,
    Observation,
    canonical_target,
    decide,
    redirect_target,
    worth_extracting,
)
from redline.scheduler.metrics import CheckMetrics
from redline.scheduler.recorder import BatchRecorder
from redline.scheduler.sitememory import SiteMemories
from redline.storage import (
    CheckRecord,
    Claim,
    Decision,
    Error,
    NotFound,
    Outcome,
    Page,
    PageKind,
    RecordResult,
    Store,
    Unavailable,
)

STALE_RETRIES = 5  # another worker kept writing revisions of this article: give up after this
REASON_CHARS = 200  # of an error's reason, in its log line
FAILED = frozenset({Outcome.ERROR, Outcome.UNAVAILABLE, Outcome.GONE})  # nothing usable fetched

# One line per check at DEBUG, per recorded revision and per failed check at INFO (docs/logs.md).
# Never a page's text at INFO: a change is named by its field ("headline changed"), not shown.
log = logging.getLogger("redline.checks")


def charset_of(headers: dict[str, str]) -> str | None:
    if "content-type" not in headers:
        return None
    message = Message()
    message["content-type"] = headers["content-type"]
    charset = message.get_param("charset")
    return charset if isinstance(charset, str) else None


@dataclass(frozen=True, slots=True)
class Analysed:
    """The observation completed by extraction, and the page what is news was computed
    against (when it was loaded): the latest revision, or after an upgrade of extraction
    that revision's HTML read again."""

    seen: Observation
    previous: Page | None = None


class ArticleChecker:
    """Turns one Fetched into one recorded check; counts outcomes for summaries."""

    def __init__(
        self,
        store: Store,
        settings: CheckSettings,
        profiles: dict[str, SiteProfile],
        *,
        rules: Sequence[AlertRule] = (),
        executor: Executor | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_alerts: Callable[[], None] | None = None,
        metrics: CheckMetrics | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.profiles = profiles
        self.rules = tuple(rules)
        self.executor = executor
        self.clock = clock
        self.on_alerts = on_alerts  # told when a recorded check created alert rows
        self.outcomes: Counter[str] = Counter()
        self.metrics = metrics if metrics is not None else CheckMetrics()
        self.sites = SiteMemories(store)
        self.recorder = BatchRecorder(store)
        self._sources: dict[int, str] = {}

    async def close(self) -> None:
        """Save what is only kept in this process (what was learnt about sites)."""
        await self.sites.close()

    async def check(self, fetched: Fetched) -> RecordResult:
        claim = fetched.job.claim
        if claim is None:
            raise ValueError(f"{fetched.job.url}: not an article check (no claim)")
        now, started = self.clock(), time.perf_counter()
        fetch_id = uuid.uuid4().hex
        seen = observe(claim, fetched)
        for attempt in range(STALE_RETRIES):
            found = await self._analysed(claim, fetched, seen, reload=attempt > 0)
            found = replace(found, seen=await self._looked_up(claim, found.seen))
            decision = decide(claim, found.seen, self.settings, now)
            decision = replace(decision, alerts=await self._planned(claim, decision, found, now))
            record = CheckRecord(
                fetch_id, claim.article_id, now, decision, claim.owner, seen.status
            )
            recorded = await self.recorder.record(record)
            if not recorded.stale:
                break
            claim = await asyncio.to_thread(_refreshed, self.store, claim)
        else:
            raise RuntimeError(f"{claim.url}: other workers kept writing revisions; retried later")
        changes = () if recorded.duplicate else getattr(decision.outcome, "changes", ())
        self.count(str(recorded.outcome), claim.site, changes)
        logged(claim.url, fetch_id, decision, recorded, time.perf_counter() - started, seen)
        if decision.alerts and not recorded.duplicate and self.on_alerts is not None:
            self.on_alerts()
        return recorded

    def count(self, outcome: str, site: str, changes: Sequence[Any] = ()) -> None:
        """One more check with this outcome: the summary's count and the metrics."""
        self.outcomes[outcome] += 1
        self.metrics.checked(outcome, site, changes)

    # --- 2. analyse -----------------------------------------------------------------------
    async def _analysed(
        self, claim: Claim, fetched: Fetched, seen: Observation, *, reload: bool
    ) -> Analysed:
        if not worth_extracting(claim, seen):
            return Analysed(seen)
        analysis, previous = await self._analyse(claim, fetched, reload=reload)
        page = analysis.page
        if not seen.moved_to and page is not None:
            final = fetched.url or claim.url
            if canonical := canonical_target(claim, final, fetched.redirects, page):
                seen = replace(
                    seen, moved_to=canonical, moved_detail=f"{canonical} (rel=canonical)"
                )
        seen = replace(
            seen,
            news=analysis.news,
            page=page,
            same_text=page is None,
            content_hash=analysis.content_hash,
            changes=analysis.changes,
            raw_html=fetched.body,
            encoded=analysis.encoded,
            memory=analysis.memory,
        )
        return Analysed(seen, analysis.baseline or previous)

    async def _analyse(
        self, claim: Claim, fetched: Fetched, *, reload: bool
    ) -> tuple[Analysis, Page | None]:
        """The previous Page is loaded only when the fast re-check cannot tell on its own
        (or, after a stale write, always: the latest revision is what counts)."""
        url = fetched.url or claim.url
        work: dict[str, Any] = dict(
            encoding=charset_of(fetched.headers),
            profile=profile_for(url, self.profiles),
            memory=claim.memory,
            latest_hash=claim.latest_hash,
        )
        pending = bool(claim.latest_revision and claim.memory) and not reload
        previous = None
        if claim.latest_revision and not pending:
            previous = await self._previous(claim, work)
        analysis = await self._run(claim, fetched.body, url, work, previous, pending)
        if analysis.needs_previous:
            previous = await self._previous(claim, work)
            analysis = await self._run(claim, fetched.body, url, work, previous, False)
        if analysis.site is not None:
            self.sites.learnt(claim.site, analysis.site)
        return analysis, previous

    async def _previous(self, claim: Claim, work: dict[str, Any]) -> Page | None:
        """The latest revision's Page; and its HTML in `work` when another version of the
        extractor read it (what is news is then judged against it read again)."""
        previous = await asyncio.to_thread(self.store.latest_page, claim.article_id)
        if previous is not None and previous.extractor_version != EXTRACTOR_VERSION:
            work["previous_html"] = await asyncio.to_thread(
                self.store.raw_html, claim.article_id, claim.latest_revision
            )
        return previous

    async def _run(
        self,
        claim: Claim,
        body: bytes,
        url: str,
        work: dict[str, Any],
        previous: Page | None,
        pending: bool,
    ) -> Analysis:
        work = {**work, "previous": previous, "previous_pending": pending}
        started = time.perf_counter()
        if pending and len(body) <= LARGE_PAGE:
            # The fast re-check stays in this process even with a pool: it costs less than
            # sending the body to a worker and back (docs/crawl-bench.md), and it needs no site
            # memory. Full extractions go to the pool, and so do re-checks of huge pages, which
            # decode and cut the page first and would hold up every other check here.
            analysis = analyse(body, url, site=None, **work)
        elif self.executor is None:
            analysis = analyse(body, url, site=await self.sites.get(claim.site), **work)
        else:
            site = None if pending else await self.sites.for_pool(claim.site)
            loop = asyncio.get_running_loop()
            analysis = await loop.run_in_executor(
                self.executor, pooled_analyse, body, url, site, work
            )
        self.metrics.extracted(time.perf_counter() - started, recheck=pending)
        return analysis

    # --- 3. look up -----------------------------------------------------------------------
    async def _looked_up(self, claim: Claim, seen: Observation) -> Observation:
        """Who else tracks the URL this article moved to, and whether its new text is an
        older revision's: the only facts the decision needs from the store."""
        if seen.moved_to:
            owner = await asyncio.to_thread(_owner_of, self.store, seen.moved_to)
            seen = replace(seen, moved_owner=owner if owner != claim.article_id else None)
        if _may_flip(claim, seen, self.settings):
            older = await asyncio.to_thread(
                self.store.revision_with_hash, claim.article_id, seen.content_hash or ""
            )
            seen = replace(seen, older_revision=older)
        return seen

    # --- 5. plan alerts -------------------------------------------------------------------
    async def _planned(
        self, claim: Claim, decision: Decision, found: Analysed, now: datetime
    ) -> tuple[Any, ...]:
        if not self.rules:
            return ()
        source = await self._source_url(claim.source_id)
        url = decision.moved_to or claim.url
        subject = Subject(claim.article_id, url, claim.site, source)
        texts = None
        if any(rule.needs_text for rule in self.rules):
            changes = getattr(decision.outcome, "newsworthy", ())
            texts = change_texts(changes, found.previous)
        return plan_alerts(self.rules, decision, subject, now, texts)

    async def _source_url(self, source_id: int | None) -> str | None:
        if source_id is None or not any(rule.sources for rule in self.rules):
            return None
        if source_id not in self._sources:
            sources = await asyncio.to_thread(self.store.list_sources)
            self._sources = {s.id: s.url for s in sources}
        return self._sources.get(source_id)


# --- 1. observe ---------------------------------------------------------------------------
def observe(claim: Claim, fetched: Fetched) -> Observation:
    """What the answer showed, before anything is extracted."""
    if fetched.error is not None:
        return Observation(
            error=fetched.error, message=fetched.message, retry_after=fetched.retry_after
        )
    status = fetched.status or 0
    moved = redirect_target(claim, fetched.url or claim.url, fetched.redirects)
    return Observation(
        status=fetched.status,
        retry_after=fetched.retry_after,
        etag=fetched.headers.get("etag"),
        last_modified=fetched.headers.get("last-modified"),
        raw_hash=body_hash(fetched.body) if 200 <= status < 300 else None,
        moved_to=moved,
        moved_detail=moved or "",
    )


def _may_flip(claim: Claim, seen: Observation, settings: CheckSettings) -> bool:
    page = seen.page
    return (
        settings.flip_confirmations > 0
        and bool(claim.latest_revision)
        and page is not None
        and page.kind is not PageKind.NOT_ARTICLE
        and seen.content_hash != claim.latest_hash
    )


def _owner_of(store: Store, url: str) -> int | None:
    try:
        return store.get_article(url).id
    except NotFound:
        return None


def _refreshed(store: Store, claim: Claim) -> Claim:
    """The claim with the article's latest revision as it is now (after a stale write)."""
    history = store.history(claim.article_id)
    latest = history[-1] if history else None
    return replace(
        claim,
        latest_revision=latest.number if latest else 0,
        latest_hash=latest.content_hash if latest else None,
    )


def logged(
    url: str,
    fetch_id: str,
    decision: Decision,
    recorded: RecordResult,
    seconds: float,
    seen: Observation,
) -> None:
    """The check's log lines: always one at DEBUG; one at INFO for a new revision (what changed,
    by field, never the text) or a failed check (the reason)."""
    outcome = recorded.outcome
    fields: dict[str, Any] = {
        "url": url,
        "fetch_id": fetch_id,
        "outcome": str(outcome),
        "duration": seconds,
        "revision": recorded.revision,
    }
    log.debug(
        "check %s: %s in %.3f s (fetch %s%s)",
        url,
        outcome,
        seconds,
        fetch_id,
        ", already recorded" if recorded.duplicate else "",
        extra={"event": "check", **fields},
    )
    if recorded.duplicate:
        return
    if outcome in (Outcome.NEW, Outcome.CHANGED):
        first = outcome == Outcome.NEW  # every field is "added": nothing to name
        what = [] if first else what_changed(getattr(decision.outcome, "changes", ()))
        log.info(
            "%s %s: revision %s%s",
            outcome,
            url,
            recorded.revision,
            f" ({', '.join(what)})" if what else "",
            extra={"event": "change", "changed": what or None, **fields},
        )
    elif outcome in FAILED:
        reason = _reason(decision, seen)
        log.info(
            "%s %s: %s", outcome, url, reason, extra={"event": "error", "reason": reason, **fields}
        )


def what_changed(changes: Sequence[Any]) -> list[str]:
    """What a revision changed, by field and kind: "headline changed", "item added (3)". A
    live item is "item": its key may be made from its headline."""
    found: Counter[str] = Counter()
    for change in changes:
        group = "item" if change.field.startswith("item:") else change.field
        found[f"{group} {change.kind}"] += 1
    return [f"{what} ({n})" if n > 1 else what for what, n in found.items()]


def _reason(decision: Decision, seen: Observation) -> str:
    """A failed check's short reason: the error, why the page is no article, or the status."""
    outcome = decision.outcome
    if isinstance(outcome, Error):
        reason = outcome.text
    elif isinstance(outcome, Unavailable):
        reason = outcome.reason
    else:
        reason = f"HTTP {seen.status}" if seen.status else str(outcome.word)
    reason = " ".join(reason.split())
    return reason if len(reason) <= REASON_CHARS else reason[: REASON_CHARS - 1] + "…"


def tally(outcomes: Counter[str]) -> tuple[int, int, int]:
    """(checks, changes, errors) of these outcomes: a change is a recorded revision (new or
    changed), an error a check that fetched nothing usable."""
    checks = sum(outcomes.values())
    changes = outcomes[str(Outcome.NEW)] + outcomes[str(Outcome.CHANGED)]
    errors = sum(outcomes[str(o)] for o in FAILED)
    return checks, changes, errors


def summary(outcomes: Counter[str], extra: dict[str, int] | None = None) -> str:
    """ "3 new, 1 changed, ...": every outcome in a fixed order, then `extra` counts."""
    order = [str(o) for o in Outcome]
    parts = [f"{outcomes.get(name, 0)} {name.replace('_', ' ')}" for name in order]
    parts += [f"{n} {name.replace('_', ' ')}" for name, n in (extra or {}).items() if n]
    return ", ".join(parts)
