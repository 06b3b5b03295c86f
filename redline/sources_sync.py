"""The config file's `[[sources]]` tables, brought into the database.

`redline run` and `redline check` call `sync_sources` first: each declared source is added, or
updated to what the file says (kind, interval, pattern) and resumed; a source that came from
the file and is no longer in it is paused (not removed: what it found stays tracked, and
putting it back in the file resumes it). Each table is checked with the rules `redline
sources add` applies (`redline.tracking`), and an error names the file and the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from redline.config import ConfigError
from redline.storage import Source, SourceKind, SourceOrigin, Store
from redline.tracking import canonical, check_pattern, source_interval

DEFAULT_EVERY = "10m"  # as `redline sources add`


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """One `[[sources]]` table, checked."""

    url: str
    kind: SourceKind
    every_seconds: int
    pattern: str | None = None


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What a sync did, source URLs by what happened to them."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    paused: tuple[str, ...] = ()


def source_specs(tables: Sequence[Mapping[str, Any]], file: Path | None) -> list[SourceSpec]:
    """Check every `[[sources]]` table; ConfigError naming the file and the table."""
    specs = []
    for number, table in enumerate(tables, start=1):
        url = table.get("url")
        where = f"{file or 'config'}: [[sources]] #{number}" + (
            f" ({url})" if isinstance(url, str) and url else ""
        )
        try:
            specs.append(_spec(table))
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    seen: set[str] = set()
    for spec in specs:
        if spec.url in seen:
            raise ConfigError(f"{file or 'config'}: [[sources]] {spec.url} is declared twice")
        seen.add(spec.url)
    return specs


def _spec(table: Mapping[str, Any]) -> SourceSpec:
    """Its values checked; its keys were checked when the file was loaded (config.SOURCE_KEYS)."""
    url, kind, pattern = table.get("url"), table.get("kind"), table.get("pattern")
    if not isinstance(url, str) or not url.strip():
        raise ValueError("url must be a non-empty string")
    kinds = [k.value for k in SourceKind]
    if kind not in kinds:
        raise ValueError(f"kind must be one of {', '.join(kinds)}, not {kind!r}")
    if pattern is not None and not isinstance(pattern, str):
        raise ValueError(f"pattern must be a string, not {pattern!r}")
    seconds = source_interval(table.get("every", DEFAULT_EVERY))
    check_pattern(pattern)
    return SourceSpec(canonical(url.strip()), SourceKind(kind), seconds, pattern or None)


def sync_sources(store: Store, specs: Sequence[SourceSpec], now: datetime) -> SyncReport:
    """Make the database's sources what the config file declares (see the module's doc)."""
    added: list[str] = []
    updated: list[str] = []
    for spec in specs:
        if spec.kind == SourceKind.LIVE:  # a live source is one article, tracked as such
            _, created = store.add_article(spec.url, now, is_live=True)
            if created:
                added.append(spec.url)
            continue
        source, before = store.put_source(
            spec.url,
            spec.kind,
            spec.every_seconds,
            now,
            pattern=spec.pattern,
            origin=SourceOrigin.CONFIG,
        )
        if before is None:
            added.append(source.url)
        elif _differs(before, source):
            updated.append(source.url)
    declared = {spec.url for spec in specs}
    paused = []
    for source in store.list_sources():
        if source.origin == SourceOrigin.CONFIG and source.enabled and source.url not in declared:
            store.set_source_enabled(source.url, False, now)
            paused.append(source.url)
    return SyncReport(tuple(added), tuple(updated), tuple(paused))


def _differs(before: Source, after: Source) -> bool:
    return (before.kind, before.every_seconds, before.pattern, before.enabled, before.origin) != (
        after.kind,
        after.every_seconds,
        after.pattern,
        after.enabled,
        after.origin,
    )
