"""Process wiring: from the configuration to a running daemon (or a one-off check pass)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields
from datetime import timedelta
from pathlib import Path
from typing import Any

from redline.alerting import AlertSetup, alert_setup, build_channels
from redline.config import Config, ConfigError, refuse_unknown

LOCK_SUFFIX = ".lock"


def crawl_settings(config: Config) -> Any:
    from redline.crawler.crawlsettings import CrawlSettings

    values = _known(CrawlSettings, config.crawl, "[crawl]")
    user_agent = config.user_agent
    if config.contact_url and config.contact_url not in user_agent:
        user_agent = _with_contact(user_agent, config.contact_url)
    return CrawlSettings(
        user_agent=user_agent, allow_private_networks=config.allow_private_networks, **values
    )


def _with_contact(user_agent: str, contact_url: str) -> str:
    """`Redline/0.1 (+contact)`: the default agent names the project's page; a contact URL
    replaces it, since that is who site operators should write to."""
    from redline import __version__
    from redline.crawler.politeness import build_user_agent

    if user_agent == Config().user_agent:
        return build_user_agent(__version__, contact_url)
    return f"{user_agent} (+{contact_url})"


def check_settings(config: Config) -> Any:
    """[policy] is the default revisit policy; [policy.sites."example.com"] overrides some of
    its settings for one site and the hosts under it."""
    from redline.scheduler.decision import CheckSettings
    from redline.scheduler.policy import PolicySettings

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
    return CheckSettings(policy=default, site_policies=site_policies)


def _policy_values(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    from redline.scheduler.policy import PolicySettings

    return {
        k: _minutes(v, f"{where} {k}") if k not in ("quiet_factor", "jitter") else v
        for k, v in _known(PolicySettings, table, where).items()
    }


def profiles(config: Config) -> dict[str, Any]:
    from redline.crawler.extract import ProfileError, builtin_profiles, load_profiles

    try:
        return {**builtin_profiles(), **load_profiles(config.profiles)}
    except ProfileError as exc:
        raise ConfigError(f"[profiles]: {exc}") from exc


def _known(cls: type, table: Any, where: str) -> dict[str, Any]:
    names = {f.name for f in fields(cls)} - {"user_agent", "allow_private_networks"}
    refuse_unknown(table, names, where)
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
    alerts: bool = True,
    on_progress: Callable[..., None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Callable[[], Any]:
    """A factory for the Daemon: it must be built on the running event loop. Every setting is
    read and checked here, before anything is fetched. `alerts` False: alerts are recorded
    (in the outbox) but this process sends none (`redline check --no-alerts`)."""
    from redline.scheduler.checks import ArticleChecker
    from redline.scheduler.daemon import Daemon, DaemonSettings, worker_name
    from redline.scheduler.discovery import SourceChecker

    crawl = crawl_settings(config)
    checks = check_settings(config)
    site_profiles = profiles(config)
    setup = alert_setup(config, os.environ if environ is None else environ)  # checks channels

    def build() -> Daemon:
        owner = worker_name()
        return Daemon(
            store,
            crawl,
            ArticleChecker(store, checks, site_profiles, rules=setup.rules),
            SourceChecker(store),
            DaemonSettings(
                workers=workers, pin_cpus=pin_cpus, fetch_log_days=config.fetch_log_days
            ),
            alerts=dispatcher(config, store, setup, owner) if alerts else None,
            owner=owner,
            targets=targets,
            on_progress=on_progress,
        )

    return build


def dispatcher(config: Config, store: Any, setup: AlertSetup, owner: str) -> Any:
    """The alert sender of one process, or None when no channel is configured."""
    if not setup.channels:
        return None
    from redline.scheduler.alerts.confirm import confirmer
    from redline.scheduler.alerts.delivery import AlertDispatcher

    crawl = crawl_settings(config)
    return AlertDispatcher(
        store,
        build_channels(setup),
        setup.messages or {},
        setup.delivery,
        owner,
        confirm=confirmer(
            allow_private=config.allow_private_networks,
            user_agent=crawl.user_agent,
            profiles=profiles(config),
        ),
    )
