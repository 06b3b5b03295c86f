"""What an operator sees when the network or the disk fails: `redline check` and `redline run` in
real subprocesses (the Twisted reactor runs once per process), on SQLite.

Expected network failures (a refused connection, a reset, a timeout, an address the SSRF guard
refuses) are one log line each at the level asked for, never a traceback. A full disk under the
database ends `redline check` with one line and exit code 1; `redline run` goes on retrying and
says so once a minute. The full disk is SQLite's own: the wrapper below caps the database file
at the pages it holds (`PRAGMA max_page_count`, per connection, so it is set where the process
opens its database), which fails every write that needs one more page with SQLITE_FULL, exactly
as a full file system does.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import pytest

from redline.newsite import Fault, NewsSite
from redline.scheduler.daemon import DISK_FULL_SAID_EVERY, Daemon, DaemonSettings
from redline.storage.errors import DiskFull
from tests.conftest import REPO
from tests.databases import track
from tests.test_daemon_faults import expire_leases, sql, start_worker, workers_cleanup
from tests.waiting import wait_until

# `python -c CAPPED ...`: the redline CLI, its SQLite database unable to grow by a single page.
CAPPED = """
from redline.storage import sqlite as backend
real = backend._connect
def capped(path):
    conn = real(path)
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    return conn
backend._connect = capped
from redline.cli import main
main()
"""
DISK_FULL = "redline: error: the database's disk is full ("


@pytest.fixture
def site() -> Iterator[NewsSite]:
    with NewsSite(articles=3) as running:
        yield running


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'redline.sqlite'}"


def config(tmp_path: Path, *, timeout: float = 2.0, private: bool | None = None) -> Path:
    """Short timeouts; `private` is left to REDLINE_ALLOW_PRIVATE_NETWORKS unless given."""
    path = tmp_path / "redline.toml"
    top = "" if private is None else f"allow_private_networks = {str(private).lower()}\n"
    path.write_text(f"{top}[crawl]\ntimeout = {timeout}\nautothrottle = false\n")
    return path


def check(
    db_url: str, conf: Path, *args: str, private: bool = True, script: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "REDLINE_DATABASE_URL": db_url,
        "REDLINE_CONFIG": str(conf),
        "REDLINE_ALLOW_PRIVATE_NETWORKS": "1" if private else "0",
    }
    command = ["-c", script] if script else ["-m", "redline"]
    return subprocess.run(
        [sys.executable, *command, "check", *args, "--workers", "0"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- 1. expected network failures: one line each, no traceback -------------------------------
def assert_quiet(done: subprocess.CompletedProcess[str], failing: int) -> None:
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) <= failing, done.stderr
    assert all(" ERROR " not in line for line in lines), done.stderr


def test_unreachable_hosts_are_one_line_each_not_a_traceback(sqlite_url, site, tmp_path):
    """A refused port, a connection reset, a server that never answers: `redline check` says
    one line per failing host (at WARNING, the level `check` logs at), no traceback, and exits
    1 when nothing could be fetched (README: "Exits non-zero only if nothing could be
    fetched")."""
    refused = f"http://127.0.0.1:{closed_port()}/news/gone"
    with NewsSite(articles=1) as resetting, NewsSite(articles=1) as hanging:
        resetting.misbehave("/robots.txt", Fault.reset())
        hanging.misbehave("/robots.txt", Fault.hang())
        urls = [
            refused,
            resetting.article_url(resetting.articles[0].slug),
            hanging.article_url(hanging.articles[0].slug),
        ]
        track(sqlite_url, urls)
        done = check(sqlite_url, config(tmp_path, timeout=1.0), "--all")
    assert done.returncode == 1, done.stderr
    assert "3 error" in done.stdout, done.stdout
    assert_quiet(done, failing=3)


def test_article_fetch_failures_after_robots_txt_are_quiet_too(sqlite_url, site, tmp_path):
    """robots.txt answers; the article itself resets the connection or never answers."""
    urls = [site.article_url(a.slug) for a in site.articles]
    track(sqlite_url, urls)
    site.misbehave(site.articles[0].path, Fault.reset())
    site.misbehave(site.articles[1].path, Fault.hang())
    done = check(sqlite_url, config(tmp_path, timeout=1.0), "--all")
    assert done.returncode == 0, done.stderr  # one article was fetched
    assert "1 new" in done.stdout and "2 error" in done.stdout, done.stdout
    assert_quiet(done, failing=2)


def test_addresses_the_guard_refuses_are_quiet_and_never_contacted(sqlite_url, site, tmp_path):
    """With the SSRF guard on, loopback (by address and by name) is refused: no request, no
    traceback, at most one line per URL, exit 1 (nothing fetched)."""
    port = site.base_url.rsplit(":", 1)[1]
    path = site.articles[0].path
    urls = [site.article_url(site.articles[0].slug), f"http://localhost:{port}{path}"]
    track(sqlite_url, urls)
    done = check(sqlite_url, config(tmp_path), "--all", private=False)
    assert done.returncode == 1, done.stderr
    assert "2 error" in done.stdout, done.stdout
    assert_quiet(done, failing=2)
    assert site.requests == []


# --- 2. a full disk under the database ------------------------------------------------------
def fill_up(db_url: str) -> None:
    """No free pages left inside the file: under CAPPED, the first write that needs a page
    more fails as on a full disk."""
    sql(db_url, "VACUUM")


def test_check_on_a_full_disk_ends_with_one_line_and_exit_1(sqlite_url, site, tmp_path):
    urls = [site.article_url(a.slug) for a in site.articles]
    track(sqlite_url, urls)
    fill_up(sqlite_url)
    done = check(sqlite_url, config(tmp_path), "--all", script=CAPPED)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(DISK_FULL), done.stderr
    assert "database or disk is full" in lines[0]
    assert "Traceback" not in done.stderr
    assert done.stdout == ""  # no summary of a pass that recorded nothing


def test_run_on_a_full_disk_keeps_retrying_and_says_so_once(sqlite_url, site, tmp_path):
    """The daemon fetches, cannot record, and fetches again once the leases expire (expired
    here by hand, as 300 s would): one log line for all of it, no traceback, still running,
    and a clean exit on SIGTERM."""
    urls = [site.article_url(a.slug) for a in site.articles]
    track(sqlite_url, urls)
    fill_up(sqlite_url)

    def gets(path: str) -> int:
        return sum(1 for r in site.requests if r.method == "GET" and r.path == path)

    def unrecorded() -> list[str]:
        rows = sql(sqlite_url, "SELECT url FROM articles WHERE revision_count = 0")
        return [urlsplit(r[0]).path for r in rows]

    log = tmp_path / "run.log"
    with workers_cleanup([]) as workers:
        worker = start_worker(sqlite_url, config(tmp_path, private=True), log, script=CAPPED)
        workers.append(worker)
        for attempt in (1, 2, 3):
            # A capped file still has room left in its last pages: the first revision or two
            # may fit, and a check in flight may record one after any look at the database.
            # The articles that do not fit are fetched again and again; each look asks afresh.
            fetched = lambda n=attempt: all(gets(p) >= n for p in unrecorded())  # noqa: E731
            wait_until(fetched, 60, f"fetch round {attempt}")
            wait_until(lambda: "disk is full" in worker.text(), 30, "the disk-full line")
            assert unrecorded(), "every revision fitted: the file was not full"
            expired = lambda: expire_leases(sqlite_url) == len(unrecorded())  # noqa: E731
            wait_until(expired, 30, "leases to expire")
        assert worker.alive, worker.text()
        assert worker.stop() == 0, worker.text()
    text = worker.text()
    assert "Traceback" not in text, text
    said = [line for line in text.splitlines() if "disk is full" in line]
    assert len(said) == 1, said
    assert " ERROR redline.daemon: the database's disk is full (" in said[0]
    assert "retrying" in said[0]


def test_the_daemon_says_its_disk_is_full_at_most_once_a_minute(caplog):
    now = [datetime(2026, 12, 1, tzinfo=UTC)]
    none = cast(Any, None)
    daemon = Daemon(none, none, none, none, DaemonSettings(), clock=lambda: now[0])
    caplog.set_level(logging.ERROR, logger="redline.daemon")
    for seconds in (0, 1, 30, DISK_FULL_SAID_EVERY - 1, DISK_FULL_SAID_EVERY, 90, 121):
        now[0] = datetime(2026, 12, 1, tzinfo=UTC) + timedelta(seconds=seconds)
        daemon._disk_full(DiskFull("SQLite database x: database or disk is full"))
    assert len(caplog.records) == 3  # at 0, 60 and 121 s
    assert daemon.fatal is None and not daemon._stopping  # the daemon never gives up


def test_a_one_off_pass_ends_on_a_full_disk_and_keeps_the_reason(caplog):
    none = cast(Any, None)
    daemon = Daemon(none, none, none, none, DaemonSettings(), targets=[1, 2])
    first = DiskFull("SQLite database x: database or disk is full")
    daemon._disk_full(first)
    daemon._disk_full(DiskFull("again"))
    assert daemon.fatal is first and daemon.exit_code == 1 and daemon._stopping
    assert caplog.records == []  # the CLI says it, once


def test_a_full_disk_on_postgresql_is_the_same_clear_error(store):
    """PostgreSQL says its disk is full with SQLSTATE 53100; the store names it as SQLite's
    SQLITE_FULL is named (DiskFull), so `check` and `run` treat both alike. Raised here by the
    server itself, with that code."""
    if not store.url.startswith("postgresql"):
        pytest.skip("PostgreSQL's own error code (SQLite: the tests above)")
    raise_it = "DO $$ BEGIN RAISE EXCEPTION 'could not extend file' USING ERRCODE = '53100'; END $$"
    with pytest.raises(DiskFull, match="could not extend file"), store._read() as tx:
        tx.execute(raise_it)
