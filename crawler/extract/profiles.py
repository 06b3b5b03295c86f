"""Site profiles: per-site selectors as data, never code per site.

A profile is a TOML table under `[profiles."<host>"]`. Each field holds one selector or a list of
them, tried in order; a selector is CSS unless it starts with `/`, `(` or `./`, or carries an
explicit `css:` / `xpath:` prefix. Selectors are compiled when the profile is loaded, so a typo is
reported once, at start-up, with the host and field that hold it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cssselect import GenericTranslator, SelectorError
from lxml import etree

SELECTOR_FIELDS = (
    "headline",
    "byline",
    "published",
    "updated",
    "body",
    "exclude",
    "items",
    "item_key",
    "item_time",
    "item_headline",
    "item_text",
    "item_updated",
)
_OTHER_FIELDS = ("timezone", "live_url", "name")
# XPath functions that read other documents or files: never allowed in a profile.
_IO_FUNCTIONS = re.compile(
    r"\b(document|doc|doc-available|unparsed-text|unparsed-text-lines|unparsed-text-available"
    r"|collection|uri-collection|json-doc|transform|load-xquery-module)\s*\(",
    re.IGNORECASE,
)
_translator = GenericTranslator()


class ProfileError(ValueError):
    """A site profile that cannot be used, with the host and field that hold the problem."""


@dataclass(frozen=True, slots=True)
class Selector:
    """One user-written selector and the XPath it compiles to."""

    source: str
    xpath: str

    def compiled(self) -> etree.XPath:
        return _compile(self.xpath)


_CACHE: dict[str, etree.XPath] = {}


def _compile(xpath: str) -> etree.XPath:
    found = _CACHE.get(xpath)
    if found is None:
        found = _CACHE[xpath] = etree.XPath(xpath, smart_strings=False)
    return found


def parse_selector(text: str, where: str = "selector") -> Selector:
    """CSS or XPath to a checked Selector; raises ProfileError with `where` in the message."""
    if not isinstance(text, str) or not text.strip():
        raise ProfileError(f"{where}: a selector must be a non-empty string")
    source = text.strip()
    if _IO_FUNCTIONS.search(source):
        raise ProfileError(f"{where}: XPath {source!r} calls a function that reads files or URLs")
    if source.startswith("xpath:"):
        xpath, is_css = source[6:].strip(), False
    elif source.startswith("css:"):
        xpath, is_css = source[4:].strip(), True
    else:
        is_css = not source.startswith(("/", "(", "./", "@"))
        xpath = source
    if is_css:
        try:
            xpath = _translator.css_to_xpath(xpath, prefix="descendant-or-self::")
        except SelectorError as exc:
            raise ProfileError(f"{where}: invalid CSS selector {source!r}: {exc}") from exc
    try:
        _compile(xpath)
    except etree.XPathError as exc:
        raise ProfileError(f"{where}: invalid XPath {source!r}: {exc}") from exc
    return Selector(source, xpath)


@dataclass(frozen=True, slots=True)
class SiteProfile:
    """Where one site keeps each field; an empty field means "use the generic way"."""

    host: str
    headline: tuple[Selector, ...] = ()
    byline: tuple[Selector, ...] = ()
    published: tuple[Selector, ...] = ()
    updated: tuple[Selector, ...] = ()
    body: tuple[Selector, ...] = ()
    exclude: tuple[Selector, ...] = ()
    items: tuple[Selector, ...] = ()
    item_key: tuple[Selector, ...] = ()
    item_time: tuple[Selector, ...] = ()
    item_headline: tuple[Selector, ...] = ()
    item_text: tuple[Selector, ...] = ()
    item_updated: tuple[Selector, ...] = ()
    timezone: str | None = None
    live_url: str | None = None  # regex on the URL path: pages that are live feeds
    name: str = ""

    def is_live_url(self, url: str) -> bool:
        if not self.live_url:
            return False
        return re.search(self.live_url, urlsplit(url).path or "/") is not None


def _selectors(host: str, key: str, value: Any) -> tuple[Selector, ...]:
    values = value if isinstance(value, list | tuple) else [value]
    return tuple(parse_selector(v, f'profiles."{host}".{key}') for v in values)


def build_profile(host: str, table: Mapping[str, Any]) -> SiteProfile:
    if not isinstance(table, Mapping):
        raise ProfileError(f'profiles."{host}": expected a table of selectors')
    unknown = set(table) - set(SELECTOR_FIELDS) - set(_OTHER_FIELDS)
    if unknown:
        raise ProfileError(f'profiles."{host}": unknown field(s) {", ".join(sorted(unknown))}')
    kwargs: dict[str, Any] = {
        k: _selectors(host, k, table[k]) for k in SELECTOR_FIELDS if k in table
    }
    tz = table.get("timezone")
    if tz is not None:
        try:
            ZoneInfo(str(tz))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ProfileError(f'profiles."{host}".timezone: unknown time zone {tz!r}') from exc
    live = table.get("live_url")
    if live is not None:
        try:
            re.compile(str(live))
        except re.error as exc:
            raise ProfileError(f'profiles."{host}".live_url: invalid regex: {exc}') from exc
    return SiteProfile(
        host=host.lower().strip("."),
        timezone=str(tz) if tz else None,
        live_url=str(live) if live else None,
        name=str(table.get("name", "")),
        **kwargs,
    )


def load_profiles(mapping: Mapping[str, Mapping[str, Any]]) -> dict[str, SiteProfile]:
    """Profiles from the user's config tables, keyed by host; raises ProfileError on bad input."""
    return {host.lower().strip("."): build_profile(host, table) for host, table in mapping.items()}


def builtin_profiles() -> dict[str, SiteProfile]:
    """The profiles shipped with Redline (crawler/extract/profiles.toml)."""
    data = resources.files(__package__).joinpath("profiles.toml").read_text("utf-8")
    return load_profiles(tomllib.loads(data).get("profiles", {}))


def profile_for(url: str, profiles: Mapping[str, SiteProfile]) -> SiteProfile | None:
    """The profile of the URL's host or of its closest parent domain ("www.x.com" -> "x.com")."""
    host = (urlsplit(url).hostname or "").lower().strip(".")
    while host:
        if host in profiles:
            return profiles[host]
        if "." not in host:
            return None
        host = host.split(".", 1)[1]
    return None
