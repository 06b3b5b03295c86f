"""What this process did, as Prometheus metrics: checks by outcome and host, changes recorded,
fetch and extraction latency.

One `CheckMetrics` per checker, on its own `CollectorRegistry` (never the global one: tests
build many checkers in one process). Updates are prometheus-client's own cheap, thread-safe
increments; nothing here does I/O. The web app's /metrics serves the registry next to the
gauges it reads from the store at scrape time (`redline/web/health.py`).
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram

from redline.storage import Change

# Seconds. A fetch is the time to the answer's headers (Scrapy's download_latency); an
# extraction is the analysis of one fetched body (the fast re-check or a full extraction).
FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
EXTRACT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class CheckMetrics:
    """The daemon's counters and histograms (all served by /metrics: redline/web/health.py)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.checks = Counter(
            "redline_checks",
            "Article checks this process recorded, by outcome and host",
            ["outcome", "host"],
            registry=self.registry,
        )
        self.changes = Counter(
            "redline_changes_recorded",
            "Changes in the revisions this process recorded, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.fetch_seconds = Histogram(
            "redline_fetch_seconds",
            "Time to the answer's headers of each fetch",
            buckets=FETCH_BUCKETS,
            registry=self.registry,
        )
        self.extract_seconds = Histogram(
            "redline_extract_seconds",
            "Time to analyse one fetched page: mode recheck (the fast re-check of a known "
            "page) or full (extraction and diff)",
            ["mode"],
            buckets=EXTRACT_BUCKETS,
            registry=self.registry,
        )

    def checked(self, outcome: str, host: str, changes: Iterable[Change] = ()) -> None:
        self.checks.labels(outcome, host or "-").inc()
        for change in changes:
            self.changes.labels(str(change.kind)).inc()

    def fetched(self, seconds: float) -> None:
        self.fetch_seconds.observe(seconds)

    def extracted(self, seconds: float, *, recheck: bool) -> None:
        self.extract_seconds.labels("recheck" if recheck else "full").observe(seconds)
