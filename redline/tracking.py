"""What a URL to track and a discovery source must be: the rules `redline add`, `redline sources
add` and the web API's writes share, so a URL the CLI refuses the API refuses too.

Each function raises ValueError with a message for people; callers add where the value came
from (a CLI option, a JSON field).
"""

from __future__ import annotations

import re

from redline.crawler.errors import FetchError
from redline.crawler.netguard import check_url
from redline.crawler.urls import canonicalize
from redline.durations import parse_duration

MAX_INTERVAL = 365 * 24 * 3600


def canonical(url: str) -> str:
    """The key a URL is tracked under: tracking parameters, fragment and default port gone."""
    try:
        return canonicalize(url)
    except ValueError:
        return url  # the store refuses it with a clear message


def check_fetchable(url: str, *, allow_private: bool = False) -> None:
    """Refuse (ValueError) a URL the crawler's egress gate would refuse to fetch: not http(s),
    a shape two parsers could read differently, or a loopback, private or link-local address,
    unless the operator allows private networks. Checked when the URL comes from the network
    (the web API), where an address the fetcher refuses later is a probe of the inside."""
    try:
        check_url(url, allow_private=allow_private)
    except FetchError as exc:  # BlockedURL is no ValueError: callers catch one kind
        raise ValueError(str(exc)) from None


def source_interval(every: object) -> int:
    """How often a source is read, in whole seconds, from "90s", "10m", "6h", "1d" (or
    minutes). Under a second or over a year is refused here rather than by the database."""
    try:
        seconds = int(parse_duration(every).total_seconds())
    except OverflowError:
        seconds = MAX_INTERVAL + 1
    if not 1 <= seconds <= MAX_INTERVAL:
        raise ValueError(f"an interval must be from 1s to 365d, not {every!r}")
    return seconds


def check_pattern(pattern: str | None) -> None:
    """A source's link filter must compile as a regular expression."""
    if not pattern:
        return
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from None
