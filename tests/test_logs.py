"""The log (docs/logs.md): text for people, one JSON object per line with `--log-format json`.

The formatters are tested on records made here; the daemon's lines (one per check at DEBUG, per
change and per failed check at INFO, the periodic summary) in-process through the checker, and
end to end in real `redline run` and `redline check` processes against the loopback news site:
every stderr line parses as JSON, Scrapy's and APScheduler's lines included, no line at INFO
holds a headline, and a database password never appears.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from redline import logs
from redline.cli import cli
from redline.newsite import NewsSite
from redline.scheduler.checks import ArticleChecker
from redline.scheduler.decision import CheckSettings
from tests.conftest import REPO, require_pg
from tests.databases import PG_URL, scratch_schema
from tests.fetching import check_now
from tests.waiting import wait_until

HEADLINE = "Zanzibar quokka treaty signed"  # the edit: never in a line at INFO
TEXT_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")
PASSWORD = "Hunter2-s3cret-pw"


def record(message: str = "checked", *args: Any, **extra: Any) -> logging.LogRecord:
    made = logging.LogRecord("redline.checks", logging.INFO, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


@pytest.fixture
def restored() -> Iterator[None]:
    """Whatever `configure` changes in this process's logging, put back."""
    root = logging.getLogger()
    names = (*logs.QUIET, *logs.INTERNALS)
    saved = (root.level, list(root.handlers), {n: logging.getLogger(n).level for n in names})
    chosen = (logs._chosen.format, logs._chosen.level, logs._chosen.scrub, logs._chosen.owned)
    hook = sys.excepthook
    logs.own_process()
    yield
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)
    logs._chosen.format, logs._chosen.level, logs._chosen.scrub, logs._chosen.owned = chosen
    logs._handler = None
    sys.excepthook = hook
    logging.captureWarnings(False)


# --- the formatters ---------------------------------------------------------------------------
def test_a_json_line_carries_the_checks_fields():
    line = logs.JsonFormatter().format(
        record(
            "check %s: %s",
            "https://news.example/a",
            "changed",
            event="check",
            url="https://news.example/a",
            fetch_id="f00d",
            outcome="changed",
            duration=0.12345,
            revision=2,
            secret_attribute="never written",
        )
    )
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed.pop("time").endswith("Z")
    assert parsed == {
        "level": "info",
        "logger": "redline.checks",
        "event": "check",
        "message": "check https://news.example/a: changed",
        "url": "https://news.example/a",
        "fetch_id": "f00d",
        "outcome": "changed",
        "duration": 0.123,
        "revision": 2,
    }


def test_an_exception_is_one_json_line_and_the_event_defaults_by_level():
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        failed = logging.LogRecord(
            "redline.daemon", logging.ERROR, __file__, 1, "it broke", (), sys.exc_info()
        )
    line = logs.JsonFormatter().format(failed)
    assert len(line.splitlines()) == 1
    parsed = json.loads(line)
    assert parsed["event"] == "error" and parsed["level"] == "error"
    assert "Traceback" in parsed["exception"] and "ValueError: bad" in parsed["exception"]
    assert json.loads(logs.JsonFormatter().format(record()))["event"] == "message"


def test_json_escapes_what_could_drive_a_terminal():
    hostile = "a\x1b[31mred\u202eevil\x9bline\u2028x"
    line = logs.JsonFormatter().format(record("%s", hostile))
    assert not re.search("[\x00-\x1f\x7f-\x9f\u202e\u2028]", line)
    assert json.loads(line)["message"] == hostile


def test_text_escapes_control_characters_so_no_line_is_forged():
    forged = "Budget\n2026-11-27 12:00:00,000 ERROR redline.daemon: forged\r\x1b[2J\u202eok"
    line = logs.TextFormatter().format(record("changed %s", forged))
    assert len(line.splitlines()) == 1
    assert "\x1b" not in line and "\r" not in line and "\u202e" not in line
    assert "Budget\\n2026-11-27" in line and "\\x1b[2J" in line and "\\u202e" in line


def test_text_keeps_the_human_format_and_indents_a_traceback():
    try:
        raise OSError("disk\n2026-11-27 12:00:00,000 INFO forged: line")
    except OSError:
        failed = logging.LogRecord(
            "redline.daemon",
            logging.ERROR,
            __file__,
            1,
            "the database's disk is full (%s): retrying",
            ("x",),
            sys.exc_info(),
        )
    lines = logs.TextFormatter().format(failed).splitlines()
    assert TEXT_LINE.match(lines[0])
    assert " ERROR redline.daemon: the database's disk is full (x): retrying" in lines[0]
    assert len(lines) > 1 and all(line.startswith("    ") for line in lines[1:])


def test_both_formats_scrub_every_field():
    def scrub(text: str) -> str:
        return text.replace(PASSWORD, "****")

    made = record("cannot connect with %s", PASSWORD, url=f"postgresql://u:{PASSWORD}@db/x")
    for formatter in (logs.JsonFormatter(scrub), logs.TextFormatter(scrub)):
        assert PASSWORD not in formatter.format(made)
    assert json.loads(logs.JsonFormatter(scrub).format(made))["url"] == "postgresql://u:****@db/x"


# --- one handler, levels, third parties -------------------------------------------------------
def test_configure_installs_one_handler_and_quiets_third_parties(restored):
    from redline.scheduler.alerts import channels  # its apprise filter: never a line

    root = logging.getLogger()
    before = len(root.handlers)
    for level in ("info", "debug", "info"):
        logs.configure("json", level)
    assert len(root.handlers) == before + 1
    assert isinstance(logs._handler, logs.StderrHandler)
    assert isinstance(logs._handler.formatter, logs.JsonFormatter)
    assert logging.getLogger("scrapy.core.engine").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("apscheduler.scheduler").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("trafilatura").getEffectiveLevel() == logging.WARNING
    logs.configure("text", "debug")
    assert logging.getLogger("scrapy").getEffectiveLevel() == logging.DEBUG
    assert logging.getLogger("apscheduler").getEffectiveLevel() == logging.DEBUG
    assert logging.getLogger("apprise").getEffectiveLevel() > logging.CRITICAL
    assert channels.__name__  # imported for its filter
    logs.configure("json", "error")
    assert logging.getLogger("scrapy").getEffectiveLevel() == logging.ERROR
    assert logging.getLogger("trafilatura").getEffectiveLevel() == logging.ERROR
    assert logs._handler.level == logging.NOTSET  # loggers decide: [crawl] log_level can say more


@pytest.mark.parametrize(
    ("chosen", "default", "verbose", "level"),
    [
        (None, "warning", False, logging.WARNING),
        (None, "warning", True, logging.INFO),  # -v
        (None, "info", False, logging.INFO),  # serve
        ("error", "warning", True, logging.INFO),  # -v is at least info
        ("debug", "warning", True, logging.DEBUG),
        ("error", "info", False, logging.ERROR),
    ],
)
def test_the_level_chosen_the_commands_default_and_verbose(
    restored, chosen, default, verbose, level
):
    logs.choose("text", chosen)
    logs.use(default, verbose=verbose)
    assert logging.getLogger().level == level


def test_called_inside_another_program_redline_leaves_its_logging_alone(tmp_path):
    """Only `main` (a process of its own) configures logging: a caller's stays as it was."""
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    db = f"sqlite:///{tmp_path / 'redline.sqlite'}"
    done = CliRunner().invoke(
        cli, ["--log-format", "json", "--log-level", "debug", "--db", db, "list"]
    )
    assert done.exit_code == 1  # no database: the point is what it did to logging
    assert (list(root.handlers), root.level) == before


def test_bad_log_options_are_usage_errors():
    runner = CliRunner()
    done = runner.invoke(cli, ["--log-format", "xml", "list"])
    assert done.exit_code == 2 and "--log-format" in done.stderr
    done = runner.invoke(cli, ["list"], env={"REDLINE_LOG_LEVEL": "loud"})
    assert done.exit_code == 2 and "--log-level" in done.stderr and "'loud'" in done.stderr


def test_a_bad_summary_interval_is_refused_naming_the_key(tmp_path):
    config = tmp_path / "redline.toml"
    config.write_text("[crawl]\nsummary_every = -1\n")
    done = CliRunner().invoke(cli, ["--config", str(config), "--db", "sqlite:///x", "list"])
    assert done.exit_code == 1 and "[crawl] summary_every" in done.stderr


# --- the checker's lines, in-process ----------------------------------------------------------
def test_one_line_per_check_at_debug_and_per_change_at_info_without_its_text(store, caplog):
    with NewsSite(articles=2) as site:
        urls = [site.article_url(a.slug) for a in site.articles]
        for url in urls:
            store.add_article(url, datetime.now(UTC))
        checker = ArticleChecker(store, CheckSettings(), {})
        caplog.set_level(logging.DEBUG, logger="redline.checks")
        asyncio.run(check_now(checker, store, urls))
        site.edit(site.articles[0].slug, headline=HEADLINE)
        site.remove(site.articles[1].slug)
        caplog.clear()
        asyncio.run(check_now(checker, store, urls))
        asyncio.run(checker.close())
    by_event = {(r.event, r.url): r for r in caplog.records}
    checks = [r for r in caplog.records if r.event == "check"]
    assert len(checks) == 2 and all(r.levelno == logging.DEBUG for r in checks)
    assert all(r.fetch_id and r.duration >= 0 for r in checks)
    change = by_event["change", urls[0]]
    assert change.levelno == logging.INFO and change.outcome == "changed"
    assert change.revision == 2 and "headline changed" in change.changed
    gone = by_event["error", urls[1]]
    assert gone.levelno == logging.INFO and gone.outcome == "gone"
    assert gone.reason == "HTTP 410"
    assert not [r for r in caplog.records if HEADLINE in r.getMessage()]


# --- real processes ---------------------------------------------------------------------------
def environment(db_url: str, config: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "REDLINE_DATABASE_URL": db_url,
        "REDLINE_CONFIG": str(config),
        "REDLINE_ALLOW_PRIVATE_NETWORKS": "1",
        "REDLINE_LOG_FORMAT": "json",
    }
    env.pop("REDLINE_LOG_LEVEL", None)
    return env


def write_config(tmp_path: Path, summary_every: float = 1) -> Path:
    """A re-check every second or two, a summary every second, the web app on any port."""
    path = tmp_path / "redline.toml"
    path.write_text(
        f"[crawl]\nsummary_every = {summary_every}\nautothrottle = false\n"
        '[policy]\nmin_interval = "1s"\nmax_interval = "2s"\njitter = 0\n'
        "[web]\nport = 0\n"
    )
    return path


def redline(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "redline", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def json_lines(stderr: str) -> list[dict[str, Any]]:
    """Every line of stderr, parsed: the test fails on the first that is not one JSON object."""
    parsed = []
    for line in stderr.splitlines():
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"not a JSON line: {line!r}\n{stderr[-3000:]}")
        assert isinstance(parsed[-1], dict) and {"time", "level", "event"} <= set(parsed[-1])
    return parsed


def at_info(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["level"] != "debug"]


def assert_no_headline_at_info(lines: list[dict[str, Any]]) -> None:
    leaked = [line for line in at_info(lines) if HEADLINE in json.dumps(line)]
    assert leaked == []


def test_run_logs_json_lines_with_changes_a_summary_and_third_parties(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'redline.sqlite'}"
    env = environment(db_url, write_config(tmp_path))
    log = tmp_path / "run.log"
    with NewsSite(articles=2) as site:
        urls = [site.article_url(a.slug) for a in site.articles]
        assert redline(env, "add", *urls).returncode == 0
        with log.open("w") as sink:
            daemon = subprocess.Popen(
                [sys.executable, "-m", "redline", "--log-level", "debug", "run", "--workers", "0"],
                env=env,
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=sink,
            )
        try:

            def said(event: str, outcome: str) -> bool:
                text = log.read_text()
                return f'"event": "{event}"' in text and f'"outcome": "{outcome}"' in text

            wait_until(lambda: said("change", "new"), 60, "the first revisions")
            site.edit(site.articles[0].slug, headline=HEADLINE)
            wait_until(lambda: said("change", "changed"), 60, "the edit to be recorded")
            wait_until(lambda: '"event": "summary"' in log.read_text(), 30, "a summary")
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(60) == 0, log.read_text()[-3000:]
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
    lines = json_lines(log.read_text())
    events = {line["event"] for line in lines}
    assert {"started", "check", "change", "summary", "stopping"} <= events
    changed = [line for line in lines if line["event"] == "change" and line["url"] == urls[0]]
    assert changed[-1]["level"] == "info" and changed[-1]["outcome"] == "changed"
    assert changed[-1]["revision"] == 2 and "headline changed" in changed[-1]["changed"]
    assert changed[-1]["fetch_id"] and changed[-1]["duration"] >= 0
    summary = next(line for line in lines if line["event"] == "summary" and line["checks"])
    assert summary["level"] == "info"
    assert {"checks", "changes", "errors", "queue_lag"} <= set(summary)
    loggers = {line["logger"].split(".")[0] for line in lines}
    assert {"scrapy", "apscheduler", "redline"} <= loggers  # folded into the same JSON
    assert_no_headline_at_info(lines)


def test_check_logs_json_lines_and_never_the_database_password(tmp_path):
    """On PostgreSQL, with a password in the URL (trust authentication ignores it)."""
    require_pg()
    base = PG_URL.replace("postgres@", f"postgres:{PASSWORD}@", 1)
    assert PASSWORD in base
    with scratch_schema(base) as db_url, NewsSite(articles=2) as site:
        env = environment(db_url, write_config(tmp_path))
        urls = [site.article_url(a.slug) for a in site.articles]
        assert redline(env, "add", *urls).returncode == 0
        first = redline(env, "--log-level", "debug", "check", "--all", "--workers", "0")
        site.edit(site.articles[1].slug, headline=HEADLINE)
        second = redline(env, "--log-level", "info", "check", "--all", "--workers", "0")
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    for done in (first, second):
        assert PASSWORD not in done.stderr + done.stdout
    lines = json_lines(first.stderr + second.stderr)
    assert any(line["logger"].startswith("scrapy") for line in lines)  # at debug
    changes = [line for line in json_lines(second.stderr) if line["event"] == "change"]
    assert [(c["url"], c["outcome"], c["level"]) for c in changes] == [(urls[1], "changed", "info")]
    summaries = [line for line in json_lines(second.stderr) if line["event"] == "summary"]
    assert summaries and sum(s["changes"] for s in summaries) == 1
    assert_no_headline_at_info(lines)


def test_the_text_format_is_one_human_line_per_record(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'redline.sqlite'}"
    config = write_config(tmp_path, summary_every=600)  # one summary: the pass's, at its end
    env = {**environment(db_url, config), "REDLINE_LOG_FORMAT": "text"}
    with NewsSite(articles=1) as site:
        url = site.article_url(site.articles[0].slug)
        assert redline(env, "add", url).returncode == 0
        done = redline(env, "--log-level", "info", "check", "--all", "--workers", "0")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines and all(TEXT_LINE.match(line) for line in lines), done.stderr
    assert any(f" INFO redline.checks: new {url}: revision 1" in line for line in lines)
    summaries = [line for line in lines if " INFO redline.daemon: last " in line]
    assert len(summaries) == 1 and ": 1 check (1 new), 1 change, 0 errors;" in summaries[0]


@pytest.mark.parametrize("scrapy_level", [None, "INFO"])
def test_crawl_log_level_sets_scrapys_lines_alone(tmp_path, scrapy_level):
    """`[crawl] log_level` is Scrapy's level, whatever --log-level lets the rest say."""
    config = write_config(tmp_path)
    if scrapy_level:
        config.write_text(
            config.read_text().replace("[crawl]\n", f'[crawl]\nlog_level = "{scrapy_level}"\n')
        )
    env = environment(f"sqlite:///{tmp_path / 'redline.sqlite'}", config)
    with NewsSite(articles=1) as site:
        assert redline(env, "add", site.article_url(site.articles[0].slug)).returncode == 0
        done = redline(env, "check", "--all", "--workers", "0")  # at warning
    assert done.returncode == 0, done.stderr
    lines = json_lines(done.stderr)
    scrapy = [line for line in lines if line["logger"].startswith("scrapy")]
    assert bool(scrapy) == bool(scrapy_level), lines
    assert all(line["level"] != "info" for line in lines if line["logger"].startswith("redline"))
