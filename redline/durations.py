"""Durations as people write them: "90s", "10m", "6h", "2d", "1w", or a number of minutes."""

from __future__ import annotations

import re
from datetime import timedelta

_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(value: object) -> timedelta:
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        value = str(value)
    match = _PATTERN.match(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 10m, 6h, 2d)")
    amount = timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    if amount <= timedelta(0):
        raise ValueError(f"a duration must be positive, not {value!r}")
    return amount
