"""Configuration: read once, here, from the TOML file and the environment; plain values go down.

Precedence, highest first: command-line options, environment variables, the config file, the
defaults below. Nothing below `redline/` reads `os.environ`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import platformdirs

ENV_CONFIG = "REDLINE_CONFIG"
ENV_DATABASE = "REDLINE_DATABASE_URL"
ENV_PRIVATE = "REDLINE_ALLOW_PRIVATE_NETWORKS"
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}

# Sections kept as plain mappings for the code that uses them; every key of every one of them is
# checked (name and type) below when the file is read, so that every command refuses a typo.
_SECTIONS = ("profiles", "crawl", "policy", "alerts", "sources", "web", "storage")
_KEYS = {"database_url", "allow_private_networks", "user_agent", "contact_url", *_SECTIONS}


class ConfigError(Exception):
    """The configuration file or an environment variable holds something unusable."""


def default_database_url() -> str:
    """A SQLite file in the user's data directory: works with no server and no setup."""
    return f"sqlite:///{Path(platformdirs.user_data_dir('redline')) / 'redline.sqlite'}"


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir("redline")) / "redline.toml"


@dataclass(frozen=True, slots=True)
class Config:
    database_url: str = field(default_factory=default_database_url)
    allow_private_networks: bool = False
    user_agent: str = "Redline/0.1 (+https://github.com/redline-news/redline)"
    contact_url: str | None = None
    profiles: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    crawl: Mapping[str, Any] = field(default_factory=dict)
    policy: Mapping[str, Any] = field(default_factory=dict)
    alerts: Mapping[str, Any] = field(default_factory=dict)
    sources: tuple[Mapping[str, Any], ...] = ()
    web: Mapping[str, Any] = field(default_factory=dict)
    storage: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None  # the file it was read from, if any

    @property
    def keyframe_every(self) -> int:
        """[storage] keyframe_every: a revision stored standalone every this many, the others
        against it (docs/storage.md)."""
        from redline.storage.delta import KEYFRAME_EVERY

        return int(self.storage.get("keyframe_every", KEYFRAME_EVERY))

    @property
    def fetch_log_days(self) -> int:
        """[storage] fetch_log_days: quiet checks older than this become daily counts; 0 keeps
        every check itemised for ever."""
        from redline.storage.sqlstore.fetchlog import FETCH_LOG_DAYS

        return int(self.storage.get("fetch_log_days", FETCH_LOG_DAYS))


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read the config file (if any) and the environment into a Config.

    An explicitly named file must exist; the default location may be absent.
    """
    env = os.environ if environ is None else environ
    explicit = path or env.get(ENV_CONFIG)
    file = Path(explicit).expanduser() if explicit else default_config_path()
    data = _read(file) if explicit or file.exists() else {}
    values = _from_file(data, file)
    if env.get(ENV_DATABASE):
        values["database_url"] = env[ENV_DATABASE]
    if env.get(ENV_PRIVATE) is not None:
        values["allow_private_networks"] = _bool(env[ENV_PRIVATE], ENV_PRIVATE)
    return Config(**values, path=file if data else None)


def _read(file: Path) -> dict[str, Any]:
    try:
        with file.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {file}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file {file}: {exc}") from exc


def refuse_unknown(table: Mapping[str, Any], known: Iterable[str], where: str) -> None:
    """A key nothing reads is refused, naming it and the keys that are read: a typo must not be
    a setting silently ignored."""
    names = set(known)
    unknown = sorted(str(k) for k in table if k not in names)
    if unknown:
        many = "s" if len(unknown) > 1 else ""
        raise ConfigError(
            f"{where} {', '.join(unknown)}: unknown setting{many} "
            f"(known: {', '.join(sorted(names))})"
        )


def _from_file(data: Mapping[str, Any], file: Path) -> dict[str, Any]:
    refuse_unknown(data, _KEYS, f"{file}:")
    values: dict[str, Any] = {}
    for key in ("database_url", "user_agent", "contact_url"):
        if key in data:
            values[key] = _string(data[key], f"{file}: {key}")
    if "allow_private_networks" in data:
        values["allow_private_networks"] = _bool(
            data["allow_private_networks"], f"{file}: allow_private_networks"
        )
    for key in ("profiles", "crawl", "policy", "alerts", "web", "storage"):
        if key in data:
            values[key] = MappingProxyType(dict(_table(data[key], f"{file}: [{key}]")))
    if "crawl" in values:
        _check_table(values["crawl"], CRAWL_KEYS, f"{file}: [crawl]")
    if "policy" in values:
        _check_policy(values["policy"], file)
    if "web" in values:
        _check_table(values["web"], WEB_KEYS, f"{file}: [web]")
    if "storage" in values:
        _check_table(values["storage"], STORAGE_KEYS, f"{file}: [storage]")
    if values.get("profiles"):
        _check_profiles(values["profiles"], file)
    if "alerts" in values:
        from redline.alerting import check_alerts

        check_alerts(values["alerts"], f"{file}: ")
    if "sources" in data:
        if not isinstance(data["sources"], list):
            raise ConfigError(f"{file}: sources must be an array of tables ([[sources]])")
        values["sources"] = tuple(
            MappingProxyType(dict(_table(s, f"{file}: [[sources]] #{n}")))
            for n, s in enumerate(data["sources"], 1)
        )
        _check_sources(values["sources"], file)
    return values


SOURCE_KEYS = ("url", "kind", "every", "pattern")


def _check_sources(tables: tuple[Mapping[str, Any], ...], file: Path) -> None:
    """`[[sources]]`: each key named here, each value by the rules that sync them into the
    database (redline/sources_sync.py, the same as `redline sources add`)."""
    from redline.sources_sync import source_specs

    for number, table in enumerate(tables, 1):
        refuse_unknown(table, SOURCE_KEYS, f"{file}: [[sources]] #{number}")
    source_specs(tables, file)


# --- type and range checks, at start-up ---------------------------------------------------------
# Each key of [crawl], [policy] and [web]: (what it must be, check). A wrong value stops Redline
# with one line naming the file, the table and the key, before anything is fetched. [alerts] is
# checked by redline/alerting.py (it needs the environment for its secrets).
Check = tuple[str, Callable[[Any], bool]]


def _number(low: float, high: float | None = None, *, above: bool = False) -> Check:
    def ok(v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, int | float) or v != v:
            return False
        return (v > low if above else v >= low) and (high is None or v <= high)

    bound = f"greater than {low:g}" if above else f"at least {low:g}"
    return (f"a number {bound}" + (f" and at most {high:g}" if high is not None else ""), ok)


def _integer(low: int, high: int | None = None) -> Check:
    def ok(v: Any) -> bool:
        return (
            isinstance(v, int)
            and not isinstance(v, bool)
            and v >= low
            and (high is None or v <= high)
        )

    return (f"a whole number from {low}" + (f" to {high}" if high is not None else " up"), ok)


def _duration_check() -> Check:
    from redline.durations import parse_duration

    def ok(v: Any) -> bool:
        try:
            parse_duration(v)
        except ValueError:
            return False
        return True

    return ("a positive duration: minutes (a number) or text such as 90s, 10m, 6h, 2d", ok)


def _fraction_below_one(v: Any) -> bool:
    return _number(0)[1](v) and v < 1


def _proxy_url(v: Any) -> bool:
    from redline.crawler.netguard import check_proxy_url

    try:
        check_proxy_url(v)
    except ValueError:
        return False
    return True


LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
CRAWL_KEYS: Mapping[str, Check] = MappingProxyType(
    {
        "per_host": _integer(1, 1000),
        "concurrency": _integer(1, 10_000),
        "timeout": _number(0, 3600, above=True),
        "max_bytes": _integer(1024),
        "crawl_delay_cap": _number(0, 86_400),
        "robots_ttl": _number(0, above=True),
        "robots_error_ttl": _number(0, above=True),
        "max_redirects": _integer(0, 100),
        "autothrottle": ("true or false", lambda v: isinstance(v, bool)),
        "log_level": (f"one of {', '.join(LOG_LEVELS)}", lambda v: v in LOG_LEVELS),
        "summary_every": _number(0, 86_400),
        "proxy": ("an http:// URL of scheme, host and port, like http://proxy:3128", _proxy_url),
    }
)
STORAGE_KEYS: Mapping[str, Check] = MappingProxyType(
    {
        "keyframe_every": _integer(1, 1024),
        "fetch_log_days": _integer(0, 36_500),
    }
)
POLICY_KEYS: Mapping[str, Check] = MappingProxyType(
    {
        "min_interval": _duration_check(),
        "max_interval": _duration_check(),
        "max_age": _duration_check(),
        "error_base": _duration_check(),
        "quiet_factor": _number(0, above=True),
        "jitter": ("a number from 0 up to (not including) 1", _fraction_below_one),
    }
)


def _host(v: Any) -> bool:
    """An IP address or a host name (no scheme, port or path)."""
    import ipaddress
    import re

    if not isinstance(v, str) or not v or len(v) > 253:
        return False
    try:
        ipaddress.ip_address(v)
    except ValueError:
        return (
            re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9-]{1,63})*\.?", v)
            is not None
        )
    return True


def _env_name(v: Any) -> bool:
    import re

    return isinstance(v, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v) is not None


WEB_KEYS: Mapping[str, Check] = MappingProxyType(
    {
        "base_url": (
            "an http(s) URL",
            lambda v: isinstance(v, str) and v.startswith(("http://", "https://")) and len(v) > 8,
        ),
        "bind": ("an IP address or a host name, like 127.0.0.1", _host),
        "port": _integer(0, 65535),
        "token_env": ("the name of an environment variable, like REDLINE_WEB_TOKEN", _env_name),
        "ready_max_age": _duration_check(),
        "enabled": ("true or false", lambda v: isinstance(v, bool)),
    }
)


def _settings_fields(where: str) -> set[str]:
    """The keys the settings class of a table knows (one added there and not yet to the table
    above is let through, to be checked by that class)."""
    from dataclasses import fields

    if "[crawl]" in where:
        from redline.crawler.crawlsettings import CrawlSettings

        return {f.name for f in fields(CrawlSettings)} - {"user_agent", "allow_private_networks"}
    if "[policy" in where:
        from redline.scheduler.policy import PolicySettings

        return {f.name for f in fields(PolicySettings)}
    return set()


def _check_table(
    table: Mapping[str, Any], keys: Mapping[str, Check], where: str, also: Iterable[str] = ()
) -> None:
    if set(table) - set(keys):
        refuse_unknown(table, {*keys, *also, *_settings_fields(where)}, where)
    for key, value in table.items():
        if key not in keys:
            continue
        expected, ok = keys[key]
        if not ok(value):
            raise ConfigError(f"{where} {key}: must be {expected}, not {_shown(value)}")


def _check_policy(table: Mapping[str, Any], file: Path) -> None:
    from redline.durations import parse_duration

    where = f"{file}: [policy]"
    tables = {where: {k: v for k, v in table.items() if k != "sites"}}
    sites = table.get("sites", {})
    if not isinstance(sites, Mapping):
        raise ConfigError(f'{where} sites: expected tables like [policy.sites."example.com"]')
    for site, value in sites.items():
        site_where = f'{file}: [policy.sites."{site}"]'
        if not isinstance(value, Mapping):
            raise ConfigError(f'{site_where}: expected a table like [policy.sites."example.com"]')
        tables[site_where] = value
    default = {"min_interval": 5, "max_interval": 1440}  # minutes: scheduler/policy.py
    for table_where, values in tables.items():
        _check_table(values, POLICY_KEYS, table_where, ("sites",) if table_where == where else ())
        merged = {**default, **tables[where], **values}
        low, high = parse_duration(merged["min_interval"]), parse_duration(merged["max_interval"])
        if high < low:
            key = "max_interval" if "max_interval" in values else "min_interval"
            raise ConfigError(
                f"{table_where} {key}: max_interval ({_shown(merged['max_interval'])}) must be "
                f"at least min_interval ({_shown(merged['min_interval'])})"
            )


def _check_profiles(profiles: Mapping[str, Any], file: Path) -> None:
    from dataclasses import fields

    from redline.crawler.extract import ProfileError, SiteProfile, load_profiles

    known = {f.name for f in fields(SiteProfile)} - {"host"}
    for host, table in profiles.items():
        if isinstance(table, Mapping):
            refuse_unknown(table, known, f'{file}: [profiles."{host}"]')
    try:
        load_profiles(profiles)
    except ProfileError as exc:
        raise ConfigError(f"{file}: [profiles] {_one_line(str(exc))}") from None


def _shown(value: Any) -> str:
    return _one_line(repr(value))[:80]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where} must be a non-empty string")
    return value


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a table")
    return value


def _bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    raise ConfigError(f"{where} must be true or false, not {value!r}")
