"""/healthz, /readyz and /metrics: what a load balancer, systemd or Prometheus asks.

- /healthz: the process answers (200, always).
- /readyz: 200 when every condition holds, 503 naming each one that does not and why:
  `database` answers a trivial query; with a daemon in this process (`redline run`) also
  `scheduler` (running, its due-queue tick within `tick_max_age`) and `checks` (see
  `checks_condition`). Under `redline serve` only the database counts.
- /metrics: Prometheus text. The daemon's own counters and histograms (scheduler/metrics.py)
  when one runs here, and gauges read from the store at scrape time by `StoreCollector`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from redline.storage import Store
from redline.web.state import DaemonStatus, WebState

log = logging.getLogger("redline.web")
SETTLE = 1000  # revision ids below the newest minus this are counted once, for good


def routes(state: WebState) -> list[BaseRoute]:
    registry = CollectorRegistry()
    registry.register(StoreCollector(state))
    registry.register(_DaemonCollector(state))

    def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})

    def readyz(request: Request) -> Response:
        ready, conditions = readiness(state)
        return JSONResponse(
            {"ready": ready, "conditions": conditions},
            status_code=200 if ready else 503,
            headers={"Cache-Control": "no-store"},
        )

    def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/healthz", healthz, methods=["GET", "HEAD"], name="healthz"),
        Route("/readyz", readyz, methods=["GET", "HEAD"], name="readyz"),
        Route("/metrics", metrics, methods=["GET"], name="metrics"),
    ]


# --- /readyz --------------------------------------------------------------------------------------
def readiness(state: WebState) -> tuple[bool, dict[str, dict[str, Any]]]:
    """(ready, {condition: {"ok": bool, "detail": why}})."""
    now = state.clock()
    conditions = {"database": database_condition(state.store)}
    if state.daemon is not None:
        status = state.daemon()
        conditions["scheduler"] = scheduler_condition(status, state, now)
        conditions["checks"] = checks_condition(status, state, now)
    return all(c["ok"] for c in conditions.values()), conditions


def _ok(detail: str) -> dict[str, Any]:
    return {"ok": True, "detail": detail}


def _red(detail: str) -> dict[str, Any]:
    return {"ok": False, "detail": detail}


def database_condition(store: Store) -> dict[str, Any]:
    try:
        store.schema_version()
    except Exception as exc:  # whatever the driver or the store says, /readyz answers
        return _red(f"the database does not answer: {_one_line(exc)}")
    return _ok("answers")


def scheduler_condition(status: DaemonStatus, state: WebState, now: datetime) -> dict[str, Any]:
    limit = state.settings.tick_max_age
    if not status.running:
        return _red("the daemon's scheduler is not running")
    if status.last_tick is not None:
        if now - status.last_tick <= limit:
            return _ok(f"last looked at the due queue {_ago(now, status.last_tick)}")
        return _red(
            f"stalled: last looked at the due queue {_ago(now, status.last_tick)} "
            f"(more than {_span(limit)})"
        )
    if status.started_at is not None and now - status.started_at <= limit:
        return _ok("started; first look at the due queue pending")
    return _red(f"has not looked at the due queue in {_span(limit)}")


def checks_condition(status: DaemonStatus, state: WebState, now: datetime) -> dict[str, Any]:
    """A successful check (the site answered and it was recorded) within `ready_max_age`.

    Not red for want of a success when there was nothing to do: in the first `ready_max_age`
    after the daemon started (a first check may not be due yet), or when no check ended in
    that window and no article has been due for longer than it (an idle daemon is healthy).
    Red when checks ended in the window and none succeeded, or when articles have waited
    longer than `ready_max_age` with no check ending (the crawl is stuck)."""
    limit = state.settings.ready_max_age
    if status.last_success is not None and now - status.last_success <= limit:
        return _ok(f"last successful check {_ago(now, status.last_success)}")
    if status.started_at is None or now - status.started_at < limit:
        return _ok(f"started less than {_span(limit)} ago")
    if status.last_check is not None and now - status.last_check <= limit:
        since = _ago(now, status.last_success) if status.last_success else "never"
        return _red(f"checks end but none succeeded in {_span(limit)} (last success: {since})")
    try:
        oldest = state.store.queue_gauges(now)["oldest_due"]
    except Exception as exc:
        return _red(f"cannot read the due queue: {_one_line(exc)}")
    if oldest is None or now - oldest <= limit:
        return _ok(f"idle: no check ended in {_span(limit)} and none is overdue")
    return _red(
        f"no check ended in {_span(limit)} while an article is due since {_ago(now, oldest)}"
    )


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _ago(now: datetime, then: datetime) -> str:
    return f"{max(0, int((now - then).total_seconds()))}s ago"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


# --- /metrics -------------------------------------------------------------------------------------
class _DaemonCollector(Collector):
    """The daemon's registry, when one runs in this process (set once it is built)."""

    def __init__(self, state: WebState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        if self.state.registry is not None:
            yield from self.state.registry.collect()


class StoreCollector(Collector):
    """Gauges and totals read from the store at each scrape.

    Revisions and changes are append-only: their totals are kept here and only the ids above
    the last counted are read (`Store.revision_tally`, a primary-key range). The newest
    `SETTLE` ids are read again on every scrape, so a revision whose transaction committed
    after a higher id's (several PostgreSQL workers) is still counted. The first scrape of a
    process counts everything once (about 2 s for a million revisions on SQLite)."""

    def __init__(self, state: WebState) -> None:
        self.state = state
        self._lock = threading.Lock()
        self._settled = 0
        self._base: dict[str, Any] = _empty()
        self._failing = False  # said once when scrapes start failing, not at every scrape

    def totals(self, store: Store) -> dict[str, Any]:
        with self._lock:
            last = store.last_revision_id()
            if last < self._settled:  # another database behind the same URL: start again
                self._settled, self._base = 0, _empty()
            split = max(self._settled, last - SETTLE)
            if split > self._settled:
                self._base = _added(self._base, store.revision_tally(self._settled, split))
                self._settled = split
            return _added(self._base, store.revision_tally(self._settled))

    def collect(self) -> Iterator[Metric]:
        store, now = self.state.store, self.state.clock()
        up = GaugeMetricFamily("redline_database_up", "1 when the database answered this scrape")
        try:
            totals = self.totals(store)
            gauges = store.queue_gauges(now)
        except Exception as exc:  # the scrape still answers; /readyz says why
            if not self._failing:
                log.warning("/metrics cannot read the database: %s", _one_line(exc))
            self._failing = True
            up.add_metric([], 0)
            yield up
            return
        self._failing = False
        up.add_metric([], 1)
        yield up
        revisions = CounterMetricFamily(
            "redline_revisions",
            "Revisions in the database: kind first (an article's first text) or change",
            labels=["kind"],
        )
        first = totals["first_revisions"]
        revisions.add_metric(["first"], first)
        revisions.add_metric(["change"], totals["revisions"] - first)
        yield revisions
        changes = CounterMetricFamily(
            "redline_changes",
            "Changes in the database, by what changed (group) and how much (class)",
            labels=["group", "class"],
        )
        for (group, class_), n in sorted(totals["changes"].items()):
            changes.add_metric([group, class_], n)
        yield changes
        alerts = GaugeMetricFamily(
            "redline_alerts", "Alerts in the outbox, by status", labels=["status"]
        )
        for status in ("pending", "sent", "failed", "dropped"):
            alerts.add_metric([status], gauges["alerts"].get(status, 0))
        yield alerts
        yield GaugeMetricFamily(
            "redline_due_articles", "Articles due for a check now", value=gauges["due"]
        )
        oldest = gauges["oldest_due"]
        lag = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "redline_due_lag_seconds", "How long the most overdue article has been due", value=lag
        )


def _empty() -> dict[str, Any]:
    return {"revisions": 0, "first_revisions": 0, "changes": {}}


def _added(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    changes = dict(a["changes"])
    for key, n in b["changes"].items():
        changes[key] = changes.get(key, 0) + n
    return {
        "revisions": a["revisions"] + b["revisions"],
        "first_revisions": a["first_revisions"] + b["first_revisions"],
        "changes": changes,
    }
