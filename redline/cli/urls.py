"""URL arguments: a URL Redline could never track is a usage error (exit code 2), said at once,
before any database is opened, instead of a "not tracked" hint to `redline add` it."""

from __future__ import annotations

import click

from redline.crawler.urls import canonicalize
from redline.storage.errors import InvalidInput
from redline.storage.sqlstore.base import validate_url  # the store's own rule: one copy


class TrackableURL(click.ParamType):
    """An absolute http(s) URL that parses: the only kind `redline add` stores."""

    name = "url"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        text = str(value)
        try:
            validate_url(text)
            canonicalize(text)
        except (InvalidInput, ValueError) as exc:
            self.fail(f"not a trackable URL: {_reason(exc, text)}", param, ctx)
        return text


def _reason(exc: Exception, text: str) -> str:
    if isinstance(exc, InvalidInput):
        return str(exc)
    return f"{exc} in {text!r}"  # urlsplit's own words ("Invalid IPv6 URL")


TRACKABLE_URL = TrackableURL()
