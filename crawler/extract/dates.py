"""Declared times, always timezone-aware.

A time with an offset is converted to UTC. A time without a zone is read in the site profile's
`timezone` (an IANA name) when it has one, else as UTC: a guess, but a stable one, so the same page
always gives the same value and a later fix of the profile changes it only once.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_ISO_LIKE = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?\s*$",
    re.IGNORECASE,
)


def zone(name: str | None) -> tzinfo:
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _offset(text: str | None) -> tzinfo | None:
    if text is None:
        return None
    if text.upper() == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 23 or minutes > 59:
        return None
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_datetime(value: object, default_zone: tzinfo = UTC) -> datetime | None:
    """ISO 8601 (and RFC 2822) text to an aware UTC datetime; None when it is not a time."""
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        return None
    match = _ISO_LIKE.match(value)
    try:
        if match:
            year, month, day, hour, minute, second, frac, off = match.groups()
            micro = int((frac or "0")[:6].ljust(6, "0"))
            tz = _offset(off) if off else default_zone
            if tz is None:
                return None
            result = datetime(
                int(year),
                int(month),
                int(day),
                int(hour or 0),
                int(minute or 0),
                int(second or 0),
                micro,
                tzinfo=tz,
            )
            return result.astimezone(UTC)
        parsed = parsedate_to_datetime(value)
    except (ValueError, TypeError, OverflowError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=default_zone)
    return parsed.astimezone(UTC)
