"""Alert delivery: claim due outbox rows, build each message, send it, settle the rows.

At least once, never twice for the same key: rows are leased (so several workers send each
message once), a message keeps its idempotency key on every retry, and a row is marked sent
right after its send succeeded. A failed send is retried with exponential backoff and jitter,
and marked failed after `max_attempts`. Each channel has its own small number of sends in
flight and claims only what it can send now, so a channel that is down or slow (every send
timing out) never delays the others.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from redline.crawler.politeness import backoff_delay
from redline.scheduler.alerts.channels import Channel, DeliveryError
from redline.scheduler.alerts.facts import AlertFacts, facts_for
from redline.scheduler.alerts.messages import Message, build_message
from redline.scheduler.alerts.settings import DeliverySettings, RuleMessages
from redline.storage import (
    Alert,
    AlertBatch,
    AlertStatus,
    Article,
    Event,
    NotFound,
    Revision,
    StorageError,
    Store,
)

log = logging.getLogger("redline.alerts")
Confirm = Callable[[Article, Revision, Revision | None], Awaitable[bool]]
"""A second look before sending: False when the change is no longer served (then dropped)."""


@dataclass(slots=True)
class DeliveryReport:
    """What one flush did, by what happened to each message."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.dropped += other.dropped
        self.errors.extend(other.errors)


class AlertDispatcher:
    """Sends due alerts. In the daemon `wake()` starts a round now (a check created alerts)
    and a job calls `tick()` every second for retries, digests and other workers' alerts;
    `flush()` sends everything due now and waits for it (`redline check`, `alerts deliver`)."""

    def __init__(
        self,
        store: Store,
        channels: Mapping[str, Channel],
        rules: Mapping[str, RuleMessages],
        settings: DeliverySettings,
        owner: str,
        *,
        confirm: Confirm | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.channels = dict(channels)
        self.rules = dict(rules)
        self.settings = settings
        self.owner = owner
        self.confirm = confirm
        self.clock = clock
        self.rng = rng or random.Random()
        self.in_flight: dict[str, int] = dict.fromkeys(self.channels, 0)
        self._tasks: set[asyncio.Task[DeliveryReport]] = set()
        self._round: asyncio.Task[None] | None = None
        self._again = False
        self._closing = False
        self.totals = DeliveryReport()  # everything this dispatcher did, for summaries
        self._swept = False

    # --- in the daemon ----------------------------------------------------------------------
    def wake(self) -> None:
        """Start a round now, or another one right after the round that is running."""
        if self._closing or not self.channels:
            return
        if self._round is not None and not self._round.done():
            self._again = True
            return
        self._round = asyncio.ensure_future(self._rounds())

    async def tick(self) -> None:
        self.wake()

    async def _rounds(self) -> None:
        while True:
            self._again = False
            try:
                await self._start_sends()
            except StorageError as exc:
                log.warning("cannot claim due alerts: %s (retrying)", exc)
                return
            if not self._again:
                return

    async def close(self) -> None:
        """Stop claiming, let the sends in flight finish, close the channels."""
        self._closing = True
        if self._round is not None:
            await asyncio.gather(self._round, return_exceptions=True)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for channel in self.channels.values():
            await channel.close()

    # --- one-off ------------------------------------------------------------------------------
    async def flush(self) -> DeliveryReport:
        """Send everything due now, and wait for it: rounds until nothing due is left (a
        failed send is due again only after its backoff, so this ends). Returns what this
        dispatcher did in all (sends started by `wake` during a check pass included)."""
        while True:
            started = await self._start_sends()
            if not started and not self._tasks:
                return self.totals
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- claiming and sending -----------------------------------------------------------------
    async def _start_sends(self) -> int:
        """Claim, per channel, as many messages as it has room for, and start sending them."""
        if not self._swept:  # once per process: rows of channels taken out of the config
            orphans = await asyncio.to_thread(
                self.store.orphan_alerts, list(self.channels), self.clock()
            )
            if orphans:
                log.warning("%d pending alerts name channels no longer configured: failed", orphans)
            self._swept = True
        started = 0
        for name, channel in self.channels.items():
            room = self.settings.per_channel - self.in_flight[name]
            if room <= 0 or self._closing:
                continue
            batches = await asyncio.to_thread(
                self.store.claim_alerts,
                self.clock(),
                self.owner,
                limit=room,
                lease_seconds=self.settings.lease_seconds,
                channels=[name],
            )
            for batch in batches:
                self.in_flight[name] += 1
                task = asyncio.ensure_future(self._deliver(channel, batch))
                self._tasks.add(task)
                task.add_done_callback(self._sent)
                started += 1
        return started

    def _sent(self, task: asyncio.Task[DeliveryReport]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("alert delivery failed unexpectedly", exc_info=task.exception())

    async def _deliver(self, channel: Channel, batch: AlertBatch) -> DeliveryReport:
        try:
            report = await self._try(channel, batch)
            self.totals.add(report)
            return report
        finally:
            self.in_flight[channel.name] -= 1
            if not self._closing:
                self.wake()  # room again: keep draining a backlog without waiting for the tick

    async def _try(self, channel: Channel, batch: AlertBatch) -> DeliveryReport:
        report = DeliveryReport()
        rule = self.rules.get(batch.rule, RuleMessages())
        try:
            entries = await asyncio.to_thread(self._facts, batch)
            if rule.confirm and self.confirm is not None and not await self._confirmed(batch):
                await self._settle(batch, AlertStatus.DROPPED, "the change is no longer served")
                log.info("alert %s dropped: the change is no longer served", batch.key)
                report.dropped += 1
                return report
            message = build_message(
                entries, rule=batch.rule, templates=rule.templates, idempotency_key=batch.key
            )
            if message.template_error:
                log.warning(
                    "rule %s: its template failed (%s); default message sent",
                    batch.rule,
                    message.template_error,
                )
            await self._send(channel, message)
        except DeliveryError as exc:
            return await self._failed(batch, str(exc), report)
        except (StorageError, ValueError) as exc:
            return await self._failed(batch, f"cannot build the message: {exc}", report)
        except Exception as exc:  # a bug must cost a retry, not the alert
            log.exception("alert %s: unexpected error", batch.key)
            return await self._failed(batch, f"unexpected error: {exc!r}", report)
        await self._settle(batch, AlertStatus.SENT)
        log.info("alert %s sent to %s (%s)", batch.key, channel.name, batch.rule)
        report.sent += 1
        return report

    async def _send(self, channel: Channel, message: Message) -> None:
        await channel.send(message)

    async def _failed(
        self, batch: AlertBatch, error: str, report: DeliveryReport
    ) -> DeliveryReport:
        attempts = max(a.attempts for a in batch.alerts) + 1
        report.errors.append(f"{batch.channel}: {error}")
        if attempts >= self.settings.max_attempts:
            await self._settle(batch, AlertStatus.FAILED, error)
            log.warning("alert %s failed after %d attempts: %s", batch.key, attempts, error)
            report.failed += 1
            return report
        wait = backoff_delay(
            attempts,
            base=self.settings.retry_base,
            cap=self.settings.retry_cap,
            jitter=self.settings.jitter,
            rng=self.rng,
        )
        retry_at = self.clock() + timedelta(seconds=wait)
        await self._settle(batch, AlertStatus.PENDING, error, retry_at)
        log.warning("alert %s to %s: %s (retry in %.0f s)", batch.key, batch.channel, error, wait)
        report.retried += 1
        return report

    async def _settle(
        self,
        batch: AlertBatch,
        status: AlertStatus,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> None:
        ids = [a.id for a in batch.alerts]
        try:
            await asyncio.to_thread(
                self.store.settle_alerts,
                ids,
                self.clock(),
                status=status,
                error=error,
                retry_at=retry_at,
            )
        except StorageError as exc:  # the lease expires and the message is tried again
            log.warning("cannot record the delivery of alert %s: %s", batch.key, exc)

    # --- what a message is about --------------------------------------------------------------
    def _facts(self, batch: AlertBatch) -> list[AlertFacts]:
        """Each row's facts, reading each article, revision and event once (in a thread)."""
        reader = Reader(self.store)
        return [alert_facts(reader, alert, self.settings.base_url) for alert in batch.alerts]

    async def _confirmed(self, batch: AlertBatch) -> bool:
        """A second look at each revision the message is about; False if every change in it
        is gone (the page went back to what it was)."""
        assert self.confirm is not None
        reader = Reader(self.store)
        for alert in batch.alerts:
            if alert.revision is None or alert.revision < 2:
                return True
            article = await asyncio.to_thread(reader.article, alert.article_id)
            revision = await asyncio.to_thread(reader.revision, alert.article_id, alert.revision)
            previous = await asyncio.to_thread(
                reader.revision, alert.article_id, alert.revision - 1
            )
            if revision is not None and await self.confirm(article, revision, previous):
                return True
        return False


def alert_facts(reader: Reader, alert: Alert, base_url: str | None) -> AlertFacts:
    """What one outbox row is about: its revision and the one before, or its event (with the
    article's latest revision, which names the headline)."""
    article = reader.article(alert.article_id)
    number = alert.revision if alert.revision is not None else article.revision_count
    previous = number - 1 if alert.revision is not None else 0
    return facts_for(
        alert,
        article,
        revision=reader.revision(alert.article_id, number),
        previous=reader.revision(alert.article_id, previous),
        event=reader.event(alert),
        base_url=base_url,
    )


class Reader:
    """Reads what messages are about, each thing once per message."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._articles: dict[int, Article] = {}
        self._revisions: dict[tuple[int, int], Revision] = {}
        self._events: dict[int, list[Event]] = {}

    def article(self, article_id: int) -> Article:
        if article_id not in self._articles:
            self._articles[article_id] = self.store.get_article_by_id(article_id)
        return self._articles[article_id]

    def revision(self, article_id: int, number: int | None) -> Revision | None:
        if not number:
            return None
        key = (article_id, number)
        if key not in self._revisions:
            try:
                self._revisions[key] = self.store.revision(article_id, number)
            except NotFound:
                return None
        return self._revisions[key]

    def event(self, alert: Alert) -> Event | None:
        if alert.event_id is None:
            return None
        if alert.article_id not in self._events:
            self._events[alert.article_id] = self.store.events(alert.article_id)
        return next((e for e in self._events[alert.article_id] if e.id == alert.event_id), None)
