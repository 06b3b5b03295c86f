"""What every handler of the web app shares: the store, the settings, the clock, the daemon."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from storage import Store

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
    ready_max_age: timedelta = timedelta(hours=1)  # /readyz: a successful check this recent


@dataclass(frozen=True, slots=True)
class DaemonStatus:
    """What /readyz and /metrics read from a daemon running in the same process."""

    running: bool
    last_tick: datetime | None = None  # the scheduler's last due-queue pass
    last_success: datetime | None = None  # the last check that fetched and recorded


@dataclass(slots=True)
class WebState:
    store: Store
    settings: WebSettings = field(default_factory=WebSettings)
    clock: Callable[[], datetime] = _utcnow
    # In `redline run`: the daemon's status; None under `redline serve` (no scheduler here).
    daemon: Callable[[], DaemonStatus] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
