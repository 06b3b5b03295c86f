"""Query parameters of the pages, the API and the feeds, checked: a malformed value raises
storage.InvalidInput with a message that names the parameter (the app answers 422)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime

from redline.storage import CHANGE_GROUPS, ChangeClass, ChangeQuery, InvalidInput
from redline.storage.sqlstore import site_of

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_ID = 2**63 - 1  # the databases' BIGINT: a larger id is no article, not an overflow
_CURSOR = re.compile(r"^[A-Za-z0-9_.:=+/-]{1,512}$")


def _values(params: Mapping[str, str], *names: str) -> list[str]:
    """Comma-separated values of one or several parameter names, empty ones dropped."""
    out: list[str] = []
    for name in names:
        out.extend(v.strip() for v in (params.get(name) or "").split(",") if v.strip())
    return out


def parse_time(name: str, value: str | None) -> datetime | None:
    """A date (midnight UTC) or an ISO 8601 time (UTC when it names no zone)."""
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name}: not a date or an ISO 8601 time: {value[:40]!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_id(name: str, value: str | None) -> int | None:
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or not 0 < int(value) <= MAX_ID:
        raise InvalidInput(f"{name}: not an id: {value[:40]!r}")
    return int(value)


def parse_site(value: str | None) -> str | None:
    """A site as the store keys it (the host, lower case, without "www.")."""
    if not value or not value.strip():
        return None
    try:
        return site_of(value) or None
    except ValueError:  # "[::1" and the like
        raise InvalidInput(f"site: not a host name: {value[:40]!r}") from None


def change_query(params: Mapping[str, str]) -> ChangeQuery:
    """The filters of a recent-changes listing: `site`, `article` (an id), `kind` (or `group`:
    what changed, comma-separated), `class` (comma-separated), `since` and `until`."""
    groups = _values(params, "kind", "group")
    unknown = [g for g in groups if g not in CHANGE_GROUPS]
    if unknown:
        raise InvalidInput(f"kind: {unknown[0][:40]!r} is not one of {', '.join(CHANGE_GROUPS)}")
    classes = _values(params, "class")
    names = [c.value for c in ChangeClass]
    bad = [c for c in classes if c not in names]
    if bad:
        raise InvalidInput(f"class: {bad[0][:40]!r} is not one of {', '.join(names)}")
    since = parse_time("since", params.get("since"))
    until = parse_time("until", params.get("until"))
    if since and until and since >= until:
        raise InvalidInput("since: must be before until")
    return ChangeQuery(
        site=parse_site(params.get("site")),
        article_id=parse_id("article", params.get("article")),
        groups=frozenset(groups),
        classes=frozenset(ChangeClass(c) for c in classes),
        since=since,
        until=until,
    )


def page_params(params: Mapping[str, str], default: int = DEFAULT_LIMIT) -> tuple[str | None, int]:
    """`cursor` (opaque, from the previous page) and `limit` (1 to 200)."""
    cursor = params.get("cursor") or None
    if cursor is not None and not _CURSOR.match(cursor):
        raise InvalidInput("cursor: malformed (pass back the next_cursor of a listing)")
    text = params.get("limit")
    if not text:
        return cursor, default
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise InvalidInput(f"limit: must be a whole number from 1 to {MAX_LIMIT}")
    return cursor, int(text)
