"""One log format for the whole process: Redline's lines, Scrapy's, APScheduler's and uvicorn's.

`configure` puts a single handler on the root logger, writing to stderr either the human line
(`2026-11-27 12:00:00,123 INFO redline.daemon: ...`) or one JSON object per line (docs/logs.md).
Callers pass structured fields with `extra=` (`event`, `url`, `fetch_id`, `outcome`,
`duration`...): the JSON line carries them, the text line says the same in words. Scraped text
never forges a line (control characters are escaped), and every field goes through `scrub`, so a
database password is masked in both formats. Third-party loggers say at INFO what happens per
request or per job run: they are held at WARNING unless the level is debug.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TextIO

FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error")
DEFAULT_LEVEL = "warning"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The structured fields a JSON line may carry (from `extra=`), in this order. Nothing else of a
# record is written: a stray attribute must not leak into the log.
FIELDS = (
    "url",
    "fetch_id",
    "outcome",
    "revision",
    "changed",
    "reason",
    "duration",
    "checks",
    "changes",
    "errors",
    "queue_lag",
    "outcomes",
)
# Loggers that say per request or per job run what is not news: WARNING unless debug.
QUIET = ("scrapy", "twisted", "apscheduler", "uvicorn.error", "uvicorn.access")
# Libraries whose DEBUG lines trace their own internals (two per extraction): WARNING always.
INTERNALS = ("trafilatura", "htmldate", "courlan", "justext", "tzlocal")

# Characters that must not reach a log line raw: C0 controls (a newline forges a line, ESC
# drives the terminal), DEL and C1, and the invisible direction and line-separator marks.
_UNSAFE = "\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_UNSAFE_TEXT = re.compile(f"[{_UNSAFE}]")
_UNSAFE_JSON = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r"}


def _same(text: str) -> str:
    return text


def escaped(text: str) -> str:
    """`text` on one line, with every control and direction character a visible escape."""
    return _UNSAFE_TEXT.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    code = ord(ch)
    return _NAMED.get(ch) or (f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}")


def event_of(record: logging.LogRecord) -> str:
    """The record's `event`, else one derived from its level: "error" (and "critical"),
    "warning", or "message" for what is below."""
    event = getattr(record, "event", None)
    if isinstance(event, str) and event:
        return event
    if record.levelno >= logging.WARNING:
        return record.levelname.lower()
    return "message"


class TextFormatter(logging.Formatter):
    """The human line, its message escaped and scrubbed; a traceback follows indented, so that
    no line of it can pass for a log line of its own."""

    def __init__(self, scrub: Callable[[str], str] = _same) -> None:
        super().__init__(TEXT_FORMAT)
        self.scrub = scrub

    def format(self, record: logging.LogRecord) -> str:
        values = {
            **record.__dict__,
            "message": escaped(self.scrub(_message(record))),
            "asctime": self.formatTime(record, self.datefmt),
        }
        line = TEXT_FORMAT % values
        details = _details(self, record)
        if details:
            lines = self.scrub(details).splitlines()
            line += "".join(f"\n    {escaped(part)}" for part in lines)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (ISO 8601, UTC), level, logger, event, message, the
    structured fields the record carries, and a traceback as one string."""

    def __init__(self, scrub: Callable[[str], str] = _same) -> None:
        super().__init__()
        self.scrub = scrub

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        line: dict[str, Any] = {
            "time": when.replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": event_of(record),
            "message": self.scrub(_message(record)),
        }
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = self._clean(value)
        details = _details(self, record)
        if details:
            line["exception"] = self.scrub(details)
        text = json.dumps(line, ensure_ascii=False, default=str)
        return _UNSAFE_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, float):
            return round(value, 3)
        if isinstance(value, list | tuple):
            return [self._clean(v) for v in value]
        if isinstance(value, dict):
            return {str(k): self._clean(v) for k, v in value.items()}
        return value


def _message(record: logging.LogRecord) -> str:
    """The record's message without the newline a Python warning ends with."""
    return record.getMessage().rstrip("\n")


def _details(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    """The record's traceback and stack, as text ("" for none)."""
    parts = []
    if record.exc_info:
        parts.append(formatter.formatException(record.exc_info))
    elif record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(formatter.formatStack(record.stack_info))
    return "\n".join(parts)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """sys.stderr as it is at each write: a test runner (click's, pytest's) swaps it, and a
    handler that kept the old one would write to a closed stream."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


@dataclass
class _Choice:
    """What the `redline` group was told (--log-format, --log-level or their variables)."""

    format: str = "text"
    level: str | None = None  # None: the command's own default
    scrub: Callable[[str], str] = _same
    owned: bool = False  # `redline` runs as its own process (not called in one, as by tests)


_chosen = _Choice()
_handler: StderrHandler | None = None


def chosen_format() -> str:
    """ "text" or "json": what the group's --log-format asked for."""
    return _chosen.format


def own_process() -> None:
    """`redline` is this process (`main`): `use` may configure its logging. Called in another
    program's process (a test's CliRunner), the commands leave that program's logging alone."""
    _chosen.owned = True


def choose(format: str, level: str | None, scrub: Callable[[str], str] | None = None) -> None:
    """The group's options, kept for `use`, and applied at once at the default level (so that
    every command logs in the chosen format)."""
    _chosen.format, _chosen.level = format, level
    if scrub is not None:
        _chosen.scrub = scrub
    use(DEFAULT_LEVEL)


def use(default: str, *, verbose: bool = False) -> None:
    """A command's logging: the chosen level, else `default`; `verbose` (-v) is at least info.
    Only in a process of `redline`'s own (`own_process`)."""
    if not _chosen.owned:
        return
    level = _chosen.level or default
    if verbose and LEVELS.index(level) > LEVELS.index("info"):
        level = "info"
    configure(_chosen.format, level)


def configure(format: str = "text", level: str = DEFAULT_LEVEL) -> None:
    """Install the one handler on the root logger (replacing ours, leaving others'), at
    `level`, and fold third-party loggers into it."""
    global _handler
    if format not in FORMATS:
        raise ValueError(f"log format {format!r}: one of {', '.join(FORMATS)}")
    if level not in LEVELS:
        raise ValueError(f"log level {level!r}: one of {', '.join(LEVELS)}")
    number = logging.getLevelName(level.upper())
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    _handler = StderrHandler()
    formatter = JsonFormatter if format == "json" else TextFormatter
    _handler.setFormatter(formatter(_chosen.scrub))
    # No level on the handler: each logger's own decides (the root's by default), so that
    # [crawl] log_level can let Scrapy say more than --log-level lets the rest say.
    _handler.setLevel(logging.NOTSET)
    root.addHandler(_handler)
    root.setLevel(number)
    quiet = logging.DEBUG if level == "debug" else max(number, logging.WARNING)
    for name in QUIET:
        logging.getLogger(name).setLevel(quiet)
    for name in INTERNALS:
        logging.getLogger(name).setLevel(max(number, logging.WARNING))
    logging.captureWarnings(True)  # a Python warning is a log line too, in the same format
    if format == "json":
        sys.excepthook = _uncaught
    elif sys.excepthook is _uncaught:
        sys.excepthook = sys.__excepthook__


def _uncaught(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """A crash in JSON mode is one JSON line too, not a bare traceback."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, exc, tb)
        return
    logging.getLogger("redline").critical(
        "uncaught exception", exc_info=(kind, exc, tb), extra={"event": "crash"}
    )
