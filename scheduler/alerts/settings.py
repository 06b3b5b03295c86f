"""What delivery is configured with: plain values, cheap to import (a process whose
configuration has no alert channel never loads the HTTP client, Apprise or Jinja2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redline.scheduler.alerts.messages import Templates


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """How alerts are sent: `[alerts]` in the configuration file."""

    max_attempts: int = 8  # then the alert is marked failed
    retry_base: float = 30.0  # seconds before the first retry; doubles, with jitter
    retry_cap: float = 3600.0  # the longest wait between two tries
    jitter: float = 0.2
    lease_seconds: float = 300.0  # longer than a send can take, queueing included
    per_channel: int = 8  # messages in flight per channel
    base_url: str | None = None  # the web app's address, for links to diff pages


@dataclass(frozen=True, slots=True)
class RuleMessages:
    """What delivery needs of a rule: its templates and whether to look again first."""

    templates: Templates | None = None
    confirm: bool = False
