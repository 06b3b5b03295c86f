"""Process wiring: from the configuration to a running daemon (or a one-off check pass)."""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import timedelta
from pathlib import Path
from typing import Any

from redline.config import Config, ConfigError

LOCK_SUFFIX = ".lock"


def crawl_settings(config: Config) -> Any:
    from crawler.crawlsettings import CrawlSettings

    values = _known(CrawlSettings, config.crawl, "[crawl]")
    user_agent = config.user_agent
    if config.contact_url and config.contact_url not in user_agent:
        user_agent = f"{user_agent} {config.contact_url}".strip()
    return CrawlSettings(
        user_agent=user_agent, allow_private_networks=config.allow_private_networks, **values
    )


def check_settings(config: Config, alert_channels: Sequence[str] = ()) -> Any:
    """[policy] is the default revisit policy; [policy.sites."example.com"] overrides some of
    its settings for one site and the hosts under it."""
    from scheduler.checks import CheckSettings
    from scheduler.policy import PolicySettings

    table = dict(config.policy)
    sites = table.pop("sites", {})
    if not isinstance(sites, Mapping) or not all(isinstance(v, Mapping) for v in sites.values()):
        raise ConfigError('[policy.sites]: expected tables like [policy.sites."example.com"]')
    try:
        default = PolicySettings(**_policy_values(table, "[policy]"))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"[policy]: {exc}") from exc
    site_policies = {}
    for site, values in sites.items():
        where = f'[policy.sites."{site}"]'
        try:
            site_policies[site.lower().strip(".")] = default.with_overrides(
                **_policy_values(values, where)
            )
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{where}: {exc}") from exc
    return CheckSettings(
        policy=default, site_policies=site_policies, alert_channels=tuple(alert_channels)
    )


def _policy_values(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    from scheduler.policy import PolicySettings

    return {
        k: _minutes(v, f"{where} {k}") if k not in ("quiet_factor", "jitter") else v
        for k, v in _known(PolicySettings, table, where).items()
    }


def profiles(config: Config) -> dict[str, Any]:
    from crawler.extract import ProfileError, builtin_profiles, load_profiles

    try:
        return {**builtin_profiles(), **load_profiles(config.profiles)}
    except ProfileError as exc:
        raise ConfigError(f"[profiles]: {exc}") from exc


def _known(cls: type, table: Any, where: str) -> dict[str, Any]:
    names = {f.name for f in fields(cls)} - {"user_agent", "allow_private_networks"}
    unknown = sorted(set(table) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s): {', '.join(unknown)}")
    return dict(table)


def _minutes(value: Any, where: str) -> timedelta:
    """Intervals in the config file are minutes (a number) or text like "90s", "10m", "2d"."""
    from redline.durations import parse_duration

    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


@contextmanager
def single_writer(database_url: str, store: Any = None) -> Iterator[None]:
    """SQLite has one writing daemon: a second `redline run` on the same file is refused.
    Holding the lock, every lease found is a dead writer's: they are given back at once
    instead of after their expiry."""
    if database_url.startswith(("postgresql://", "postgres://")):
        yield
        return
    path = Path(database_url.removeprefix("sqlite:///")).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}{LOCK_SUFFIX}", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"another `redline run` is already using {path}; SQLite has one writer. "
                "Stop it first, or use PostgreSQL to run several workers."
            ) from None
        if store is not None:
            store.release_all()
        yield


def build_daemon(
    config: Config,
    store: Any,
    *,
    targets: Sequence[int] | None = None,
    workers: int = 2,
    pin_cpus: bool = True,
    on_progress: Callable[..., None] | None = None,
) -> Callable[[], Any]:
    """A factory for the Daemon: it must be built on the running event loop."""
    from scheduler.checks import ArticleChecker
    from scheduler.daemon import Daemon, DaemonSettings
    from scheduler.discovery import SourceChecker

    crawl = crawl_settings(config)
    checks = check_settings(config)
    site_profiles = profiles(config)

    def build() -> Daemon:
        return Daemon(
            store,
            crawl,
            ArticleChecker(store, checks, site_profiles),
            SourceChecker(store),
            DaemonSettings(workers=workers, pin_cpus=pin_cpus),
            targets=targets,
            on_progress=on_progress,
        )

    return build
