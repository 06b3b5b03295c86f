"""Configuration: read once, here, from the TOML file and the environment; plain values go down.

Precedence, highest first: command-line options, environment variables, the config file, the
defaults below. Nothing below `redline/` reads `os.environ`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
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

# Sections owned by later parts (crawl settings, revisit policy, alert channels, sources): kept
# as plain mappings here and validated by the code that uses them.
_SECTIONS = ("profiles", "crawl", "policy", "alerts", "sources", "web")
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
    path: Path | None = None  # the file it was read from, if any


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


def _from_file(data: Mapping[str, Any], file: Path) -> dict[str, Any]:
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ConfigError(f"{file}: unknown setting(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for key in ("database_url", "user_agent", "contact_url"):
        if key in data:
            values[key] = _string(data[key], f"{file}: {key}")
    if "allow_private_networks" in data:
        values["allow_private_networks"] = _bool(
            data["allow_private_networks"], f"{file}: allow_private_networks"
        )
    for key in ("profiles", "crawl", "policy", "alerts", "web"):
        if key in data:
            values[key] = MappingProxyType(dict(_table(data[key], f"{file}: [{key}]")))
    if "sources" in data:
        if not isinstance(data["sources"], list):
            raise ConfigError(f"{file}: sources must be an array of tables ([[sources]])")
        values["sources"] = tuple(_table(s, f"{file}: [[sources]]") for s in data["sources"])
    return values


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
