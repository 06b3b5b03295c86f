"""What every command shares: the loaded configuration, the store, clean errors, output helpers."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

import click

from redline.config import Config, ConfigError, load_config
from redline.scheduler.terminal import terminal_safe as terminal_safe  # re-exported
from redline.storage import Article, NotFound, StorageError, Store, open_store
from redline.storage.open import normalize_database_url, redact

# The database URLs of this process: their passwords (and PGPASSWORD) are masked in every error.
_DATABASE_URLS: set[str] = set()


def scrub(text: str) -> str:
    """`text` without any password of the database URLs in use, nor PGPASSWORD."""
    for url in _DATABASE_URLS or {""}:
        text = redact(text, url, os.environ)
    return text


class RedlineError(click.ClickException):
    """One of our errors: `redline: error: ...` on stderr, exit code 1."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"redline: error: {self.format_message()}", err=True, file=file)


@contextmanager
def fail_cleanly() -> Iterator[None]:
    """Our errors (and a missing article) as one line on stderr with exit code 1."""
    try:
        yield
    except (StorageError, ConfigError) as exc:
        raise RedlineError(scrub(str(exc))) from exc


@dataclass
class App:
    config: Config
    _store: Store | None = field(default=None, repr=False)

    @classmethod
    def load(cls, config_path: str | None, db: str | None) -> App:
        with fail_cleanly():
            config = load_config(config_path)
        if db:
            config = _replace(config, database_url=db)
        _DATABASE_URLS.add(config.database_url)
        with fail_cleanly():  # a libpq key=value string: PostgreSQL, never a SQLite file name
            url = normalize_database_url(config.database_url)
        _DATABASE_URLS.add(url)
        return cls(_replace(config, database_url=url))

    def store(self, *, create: bool = False) -> Store:
        """Open the store on first use: commands that need no database never touch one. Only
        the commands that write (`add`, `sources add`, `run`, `check`) pass `create=True`: the
        others refuse a missing or empty database instead of creating one."""
        if self._store is None:
            self._store = open_store(
                self.config.database_url,
                create=create,
                keyframe_every=self.config.keyframe_every,
            )
        return self._store

    def article(self, url: str) -> Article:
        """By the URL as given, or by its canonical form (the key `redline add` stores)."""
        from redline.crawler.urls import canonicalize

        try:
            return self.store().get_article(url)
        except NotFound:
            pass
        try:
            return self.store().get_article(canonicalize(url))
        except (NotFound, ValueError):
            raise click.ClickException(
                f"not tracked: {url} (add it with `redline add {url}`)"
            ) from None

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def _replace(config: Config, **changes: Any) -> Config:
    from dataclasses import replace

    return replace(config, **changes)


def use_color() -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def when(value: datetime | None) -> str:
    """A time for people: UTC, to the second."""
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%SZ")
