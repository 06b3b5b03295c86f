"""The revisit policy: when to look at an article again, as a pure function.

News changes most just after publication and just after an edit, so the interval grows with
the time an article has been quiet (a quarter of it by default): 5 minutes for a new or just
edited story, hours for one quiet since yesterday, never more than a day so nothing starves,
and never again after 30 days. Recent edits (the store counts revisions in the last 7 days)
shrink the interval further. Optional jitter is derived from a hash of the article's key, not
from a random generator, so the same inputs always give the same answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class PolicySettings:
    """How often to revisit. The defaults are documented in docs/crawling.md."""

    min_interval: timedelta = timedelta(minutes=5)  # new and just-changed articles
    max_interval: timedelta = timedelta(days=1)  # quiet ones: never starved beyond this
    quiet_factor: float = 0.25  # wait this share of the time the article has been quiet
    max_age: timedelta = timedelta(days=30)  # stop tracking this long after first seen
    jitter: float = 0.1  # +-10 %, spread deterministically by the article key
    error_base: timedelta = timedelta(minutes=5)  # first retry after a failed check

    def __post_init__(self) -> None:
        if self.min_interval <= timedelta(0):
            raise ValueError("min_interval must be positive")
        if self.max_interval < self.min_interval:
            raise ValueError("max_interval must be at least min_interval")
        if self.quiet_factor <= 0:
            raise ValueError("quiet_factor must be positive")
        if self.max_age <= timedelta(0):
            raise ValueError("max_age must be positive")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        if self.error_base <= timedelta(0):
            raise ValueError("error_base must be positive")

    def with_overrides(self, **changes: object) -> PolicySettings:
        """A copy with some fields replaced (a site's section of the config file)."""
        return replace(self, **changes)  # type: ignore[arg-type]


def settings_for(
    site: str, default: PolicySettings, overrides: Mapping[str, PolicySettings]
) -> PolicySettings:
    """The settings of the most specific configured site that `site` is or lies under
    ("live.example.com" takes "example.com"'s), else the default."""
    if not overrides:
        return default
    labels = site.lower().strip(".").split(".")
    for start in range(len(labels)):
        found = overrides.get(".".join(labels[start:]))
        if found is not None:
            return found
    return default


def next_check(
    *,
    now: datetime,
    first_seen: datetime,
    last_changed: datetime | None,
    recent_changes: int,
    settings: PolicySettings,
    key: str = "",
) -> datetime | None:
    """When to check the article next, or None once it is older than `settings.max_age`.

    `last_changed` is the time of the last real change (None if never changed);
    `recent_changes` is how many revisions it had lately (the store counts 7 days);
    `key` (the article URL or id) only spreads equal articles apart when jitter is on.
    """
    if now - first_seen >= settings.max_age:
        return None
    quiet_since = max(last_changed or first_seen, first_seen)
    quiet = max(now - quiet_since, timedelta(0))
    interval = quiet * settings.quiet_factor / (1 + max(recent_changes, 0))
    interval *= 1 + settings.jitter * _spread(key)
    return now + _clamp(interval, settings.min_interval, settings.max_interval)


def next_check_after_error(
    *,
    now: datetime,
    first_seen: datetime,
    failures: int,
    settings: PolicySettings,
    key: str = "",
) -> datetime | None:
    """After `failures` failed checks in a row: error_base doubling up to max_interval, so a
    passing fault costs minutes and a dead site is still tried daily; None past max_age."""
    if now - first_seen >= settings.max_age:
        return None
    interval = settings.error_base * (2 ** min(max(failures, 1) - 1, 30))
    interval *= 1 + settings.jitter * _spread(key)
    return now + _clamp(interval, settings.min_interval, settings.max_interval)


def _clamp(value: timedelta, low: timedelta, high: timedelta) -> timedelta:
    return min(max(value, low), high)


def _spread(key: str) -> float:
    """A stable number in [-1, 1] for `key` (0 for no key): jitter without randomness."""
    if not key:
        return 0.0
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / (2**64 - 1) * 2 - 1
