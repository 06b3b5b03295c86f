"""Scrapy's private API, kept in one place: what Redline cannot do through the public one.

Every hook overridden here is listed in `PRIVATE_HOOKS` with the signature it was written
against; tests/test_middlewares.py inspects the installed Scrapy and fails, naming the hook, when
one is gone, renamed or no longer called. The rest of crawler/ uses public Scrapy API only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scrapy.extensions.throttle import AutoThrottle
from scrapy.http import Response


@dataclass(frozen=True, slots=True)
class PrivateHook:
    """A private Scrapy method we override: where it lives, its parameters, who calls it."""

    owner: type
    name: str
    parameters: tuple[str, ...]
    called_from: str  # a method of `owner` whose source must still call it
    why: str


PRIVATE_HOOKS = (
    PrivateHook(
        owner=AutoThrottle,
        name="_adjust_delay",
        parameters=("self", "slot", "latency", "response"),
        called_from="_response_downloaded",
        why="RevalidationThrottle: a 304 lowers the delay like a 200",
    ),
)


class RevalidationThrottle(AutoThrottle):
    """AutoThrottle that lets a 304 lower the delay like a 200 does.

    Scrapy ignores the latency of non-200 answers when it would shorten the delay (error pages
    are small and fast); a 304 is the healthy answer of a re-check, and without this a pass of
    re-checks never leaves the start delay. AutoThrottle has no public policy hook, hence the
    private `_adjust_delay`.
    """

    def _adjust_delay(self, slot: Any, latency: float, response: Response) -> None:
        if response.status == 304:
            response = response.replace(status=200)
        super()._adjust_delay(slot, latency, response)
