"""The `[alerts]` section: channels, rules and delivery settings, validated before anything is
fetched. Secrets come from the environment (or a file named by `*_file`), never from the
configuration text, and are never printed: errors name the key, never the value.

    [alerts]                                   # all optional
    max_attempts = 8                           # then an alert is marked failed
    retry_base = "30s"                         # first retry; doubles with jitter, up to 1 h
    timeout = "10s"                            # one send
    [alerts.channels.NAME]
    url = "https://..." | url_env = "VAR" | url_file = "/path"
    secret_env = "VAR" | secret_file = "/path" # webhooks: the HMAC key
    format = "text" | "html" | "markdown"      # Apprise channels
    [[alerts.rules]]
    name = "headlines"
    when = ["headline_changed"]
    channels = ["NAME"]
    ...                                        # see docs/alerts.md
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from redline.config import Config, ConfigError, refuse_unknown
from redline.durations import parse_duration

_SETTINGS = {
    "max_attempts",
    "retry_base",
    "retry_cap",
    "timeout",
    "per_channel",
    "channels",
    "rules",
}
_CHANNEL_KEYS = {"url", "url_env", "url_file", "secret_env", "secret_file", "format", "timeout"}
_RULE_KEYS = {
    "name", "when", "channels", "min_class", "pattern", "sites", "sources", "url_pattern",
    "mode", "every", "quiet", "confirm", "title", "body", "html",
}  # fmt: skip
_FORMATS = ("text", "html", "markdown")


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A channel as configured, its secrets resolved (kept out of every repr)."""

    name: str
    url: str
    secret: str | None = None
    format: str | None = None
    timeout: float = 10.0

    def __repr__(self) -> str:
        return f"ChannelSpec({self.name!r})"


@dataclass(frozen=True, slots=True)
class AlertSetup:
    """Everything alerts need, from the configuration."""

    channels: tuple[ChannelSpec, ...] = ()
    rules: tuple[Any, ...] = ()  # scheduler.alerts.rules.AlertRule
    messages: Mapping[str, Any] | None = None  # rule name -> scheduler.alerts.RuleMessages
    delivery: Any = None  # scheduler.alerts.delivery.DeliverySettings


def alert_setup(config: Config, environ: Mapping[str, str]) -> AlertSetup:
    """Read and check `[alerts]`; raise ConfigError naming the key at the first problem."""
    from redline.scheduler.alerts.settings import DeliverySettings, RuleMessages

    table = dict(config.alerts)
    where = _where(config, "[alerts]")
    refuse_unknown(table, _SETTINGS, where)
    timeout = _seconds(table.get("timeout", "10s"), f"{where} timeout")
    channels = tuple(
        _channel(name, value, environ, timeout, _where(config, f"[alerts.channels.{name}]"))
        for name, value in _tables(table.get("channels", {}), f"{where} channels").items()
    )
    names = {c.name for c in channels}
    rules = []
    messages = {}
    for index, value in enumerate(_rule_tables(table.get("rules", []), where)):
        rule_where = _where(config, f"[[alerts.rules]] #{index + 1}")
        rule, templates = _rule(value, names, rule_where)
        if rule.name in messages:
            raise ConfigError(f"{rule_where}: name {rule.name!r} is used by two rules")
        rules.append(rule)
        messages[rule.name] = RuleMessages(templates, rule.confirm)
    try:
        delivery = DeliverySettings(
            max_attempts=_positive_int(table.get("max_attempts", 8), f"{where} max_attempts"),
            retry_base=_seconds(table.get("retry_base", "30s"), f"{where} retry_base"),
            retry_cap=_seconds(table.get("retry_cap", "1h"), f"{where} retry_cap"),
            per_channel=_positive_int(table.get("per_channel", 8), f"{where} per_channel"),
            base_url=_base_url(config),
        )
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    return AlertSetup(channels, tuple(rules), messages, delivery)


def check_alerts(alerts: Mapping[str, Any], prefix: str = "") -> None:
    """`[alerts]` when the file is read, by every command: each key's name and type, and the
    rules whole. Nothing is read from the environment here: a secret is needed only by the
    commands that send (`alert_setup`)."""
    where = f"{prefix}[alerts]"
    refuse_unknown(alerts, _SETTINGS, where)
    for key in ("max_attempts", "per_channel"):
        if key in alerts:
            _positive_int(alerts[key], f"{where} {key}")
    for key in ("retry_base", "retry_cap", "timeout"):
        if key in alerts:
            _seconds(alerts[key], f"{where} {key}")
    channels = _tables(alerts.get("channels", {}), f"{where} channels")
    for name, value in channels.items():
        _channel_keys(name, value, f"{prefix}[alerts.channels.{name}]")
    names: set[str] = set()
    for index, value in enumerate(_rule_tables(alerts.get("rules", []), where)):
        rule_where = f"{prefix}[[alerts.rules]] #{index + 1}"
        rule, _ = _rule(value, set(channels), rule_where)
        if rule.name in names:
            raise ConfigError(f"{rule_where}: name {rule.name!r} is used by two rules")
        names.add(rule.name)


def build_channels(setup: AlertSetup) -> dict[str, Any]:
    """The channel senders (scheduler.alerts.channels), built from resolved specs."""
    from redline.scheduler.alerts.channels import build_channel

    built = {}
    for spec in setup.channels:
        try:
            built[spec.name] = build_channel(
                spec.name,
                spec.url,
                secret=spec.secret,
                timeout=spec.timeout,
                body_format=spec.format,
            )
        except ValueError as exc:
            raise ConfigError(f"[alerts.channels.{spec.name}] url: {exc}") from exc
    return built


# --- channels -----------------------------------------------------------------------------------
def _channel(
    name: str, value: Mapping[str, Any], environ: Mapping[str, str], timeout: float, where: str
) -> ChannelSpec:
    from redline.scheduler.alerts.channels import build_channel

    _channel_keys(name, value, where)
    url = _secret(value, "url", environ, where, required=True)
    secret = _secret(value, "secret", environ, where, required=False)
    body_format = value.get("format")
    if "timeout" in value:
        timeout = _seconds(value["timeout"], f"{where} timeout")
    assert url is not None
    try:  # a malformed Apprise URL is refused now, not at the first send
        build_channel(name, url, secret=secret, timeout=timeout, body_format=body_format)
    except ValueError as exc:
        key = "secret_env" if secret is not None and "secret" in str(exc) else "url"
        raise ConfigError(f"{where} {key}: {exc}") from exc
    return ChannelSpec(name, url, secret, body_format, timeout)


def _channel_keys(name: str, value: Mapping[str, Any], where: str) -> None:
    """A channel's keys and their types, with nothing read from the environment or a file."""
    from redline.scheduler.alerts.rules import NAME

    if not NAME.match(name):
        raise ConfigError(f"{where}: a channel name uses letters, digits, '.', '_' and '-' only")
    if "secret" in value:
        raise ConfigError(
            f"{where}: a secret never goes in the file: use secret_env or secret_file"
        )
    refuse_unknown(value, _CHANNEL_KEYS, where)
    _secret_key(value, "url", where, required=True)
    _secret_key(value, "secret", where, required=False)
    body_format = value.get("format")
    if body_format is not None and body_format not in _FORMATS:
        raise ConfigError(f"{where} format: one of {', '.join(_FORMATS)}")
    if "timeout" in value:
        _seconds(value["timeout"], f"{where} timeout")


def _secret_key(value: Mapping[str, Any], key: str, where: str, *, required: bool) -> str | None:
    """Which of `key` itself (only for a URL: the contract allows it in the file), `key_env`
    (the name of an environment variable) or `key_file` (a file holding it) is given: one."""
    given = [k for k in (key, f"{key}_env", f"{key}_file") if k in value]
    if key == "secret" and "secret" in value:
        raise ConfigError(
            f"{where}: a secret never goes in the file: use secret_env or secret_file"
        )
    if len(given) > 1:
        raise ConfigError(f"{where}: give one of {', '.join(given)}")
    if not given:
        if required:
            raise ConfigError(f"{where}: {key} (or {key}_env, {key}_file) is required")
        return None
    (which,) = given
    raw = value[which]
    if not isinstance(raw, str) or not raw:
        raise ConfigError(f"{where} {which}: must be a non-empty string")
    return which


def _secret(
    value: Mapping[str, Any], key: str, environ: Mapping[str, str], where: str, *, required: bool
) -> str | None:
    """The value of `key`, `key_env` or `key_file` (see `_secret_key`)."""
    which = _secret_key(value, key, where, required=required)
    if which is None:
        return None
    raw = value[which]
    if which.endswith("_env"):
        if not environ.get(raw):
            raise ConfigError(f"{where} {which}: the environment variable {raw} is not set")
        return environ[raw]
    if which.endswith("_file"):
        try:
            text = Path(raw).expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{where} {which}: cannot read {raw}: {exc.strerror}") from exc
        if not text:
            raise ConfigError(f"{where} {which}: {raw} is empty")
        return text
    return raw


# --- rules --------------------------------------------------------------------------------------
def _rule(value: Mapping[str, Any], channels: set[str], where: str) -> tuple[Any, Any]:
    from redline.scheduler.alerts.messages import check_templates, compile_templates
    from redline.scheduler.alerts.rules import AlertRule
    from redline.storage import ChangeClass

    refuse_unknown(value, _RULE_KEYS, where)
    name = value.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: name is required")
    where = f"{where} ({name})"
    unknown = [
        c for c in _strings(value.get("channels", []), f"{where} channels") if c not in channels
    ]
    if unknown:
        known = ", ".join(sorted(channels)) or "none configured"
        raise ConfigError(f"{where} channels: unknown channel {unknown[0]!r} (known: {known})")
    min_class = value.get("min_class", "minor")
    if min_class not in {str(c) for c in ChangeClass}:
        raise ConfigError(f"{where} min_class: one of {', '.join(map(str, ChangeClass))}")
    try:
        rule = AlertRule(
            name=name,
            when=frozenset(_strings(value.get("when", []), f"{where} when")),
            channels=tuple(_strings(value.get("channels", []), f"{where} channels")),
            min_class=ChangeClass(min_class),
            pattern=_regex(value.get("pattern"), f"{where} pattern"),
            sites=tuple(s.lower() for s in _strings(value.get("sites", []), f"{where} sites")),
            sources=tuple(
                _canonical(s) for s in _strings(value.get("sources", []), f"{where} sources")
            ),
            url_pattern=_regex(value.get("url_pattern"), f"{where} url_pattern"),
            mode=str(value.get("mode", "immediate")),
            every=_duration(value.get("every"), f"{where} every"),
            quiet=_duration(value.get("quiet"), f"{where} quiet"),
            confirm=_flag(value.get("confirm", False), f"{where} confirm"),
            title=_template_text(value.get("title"), f"{where} title"),
            body=_template_text(value.get("body"), f"{where} body"),
        )
    except ValueError as exc:  # AlertRule names the key in its message
        raise ConfigError(f"{where}: {exc}") from exc
    html = _template_text(value.get("html"), f"{where} html")
    if rule.title is None and rule.body is None and html is None:
        return rule, None
    try:
        templates = compile_templates(rule.title, rule.body, html)
        check_templates(templates)
    except ValueError as exc:
        raise ConfigError(f"{where} templates: {exc}") from exc
    return rule, templates


def _canonical(url: str) -> str:
    from redline.crawler.urls import canonicalize

    try:
        return canonicalize(url)
    except ValueError:
        return url


def _regex(value: Any, where: str) -> re.Pattern[str] | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: must be a regular expression (a non-empty string)")
    try:
        return re.compile(value, re.IGNORECASE)
    except re.error as exc:
        raise ConfigError(f"{where}: not a regular expression: {exc}") from exc


def _template_text(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{where}: must be a string (a Jinja2 template)")
    return value


# --- small readers ------------------------------------------------------------------------------
def _where(config: Config, section: str) -> str:
    return f"{config.path}: {section}" if config.path else section


def _tables(value: Any, where: str) -> dict[str, Mapping[str, Any]]:
    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
        raise ConfigError(f"{where}: expected tables like [alerts.channels.NAME]")
    return dict(value)


def _rule_tables(value: Any, where: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise ConfigError(f"{where} rules: expected [[alerts.rules]] tables")
    return value


def _strings(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: expected a list of strings")
    return list(value)


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: must be true or false")
    return value


def _duration(value: Any, where: str) -> timedelta | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _seconds(value: Any, where: str) -> float:
    duration = _duration(value, where)
    assert duration is not None
    if duration <= timedelta(0):
        raise ConfigError(f"{where}: must be a positive duration")
    return duration.total_seconds()


def _positive_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}: must be a whole number of at least 1")
    return value


def _base_url(config: Config) -> str | None:
    value = dict(config.web).get("base_url")
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ConfigError(f"{_where(config, '[web]')} base_url: must be an http(s) URL")
    return value
