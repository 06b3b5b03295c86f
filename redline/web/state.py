"""What every handler of the web app shares: the store, the settings, the clock, the daemon."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry

from redline.storage import Store

DEFAULT_PORT = 8470


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class WebSettings:
    """[web] in the configuration, checked; `token` is the value of the environment variable
    that `[web] token_env` names (never stored in the file itself)."""

    bind: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    base_url: str | None = None
    token: str | None = None
    ready_max_age: timedelta = timedelta(hours=1)
    # The operator's allow_private_networks: URLs added through the web pass the same guard.
    allow_private_networks: bool = False  # /readyz: a successful check this recent
    # /readyz: the daemon's due-queue tick (every second) must be this recent (not configurable)
    tick_max_age: timedelta = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class DaemonStatus:
    """What /readyz and /metrics read from a daemon running in the same process."""

    running: bool
    last_tick: datetime | None = None  # the scheduler's last due-queue pass
    last_success: datetime | None = None  # the last check whose outcome was no error
    started_at: datetime | None = None  # when its scheduler started (None: not yet)
    last_check: datetime | None = None  # the last check that ended, whatever its outcome


@dataclass(slots=True)
class WebState:
    store: Store
    settings: WebSettings = field(default_factory=WebSettings)
    clock: Callable[[], datetime] = _utcnow
    # In `redline run`: the daemon's status; None under `redline serve` (no scheduler here).
    daemon: Callable[[], DaemonStatus] | None = None
    # In `redline run`: the daemon's counters and histograms (scheduler/metrics.py), served by
    # /metrics next to the gauges read from the store.
    registry: CollectorRegistry | None = None
    extra: dict[str, Any] = field(default_factory=dict)
