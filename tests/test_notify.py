"""systemd's notification protocol (redline/notify.py): READY=1 once the daemon looks at its due
queue, WATCHDOG=1 only while it keeps looking, STOPPING=1 when it stops; nothing without
$NOTIFY_SOCKET. The rules in-process against a real datagram socket; then a real `redline run`
under a real socket, as systemd would run it (Type=notify, WatchdogSec=)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from redline import notify
from redline.cli import cli
from redline.newsite import NewsSite
from redline.notify import Notifier, Supervisor, supervised, watchdog_interval
from redline.web.state import WebSettings
from tests.conftest import REPO

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket where systemd's would be, and the $NOTIFY_SOCKET that names it."""
    folder = tmp_path
    if len(str(tmp_path / "notify.sock")) > 100:  # AF_UNIX paths stop at 107 bytes
        folder = Path(tempfile.mkdtemp(prefix="rl-"))
    path = folder / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(0.05)
        yield sock, str(path)


def received(sock: socket.socket) -> list[str]:
    """Every message waiting on `sock`, oldest first."""
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096).decode())
        except TimeoutError:
            return messages


def test_a_message_reaches_a_socket_path(listener):
    sock, path = listener
    assert Notifier({"NOTIFY_SOCKET": path}).send("READY=1", "STATUS=line\nbreak")
    assert received(sock) == ["READY=1\nSTATUS=line break"]


def test_a_message_reaches_an_abstract_socket():
    name = f"redline-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(0.05)
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).send("WATCHDOG=1")
        assert received(sock) == ["WATCHDOG=1"]


def test_without_notify_socket_nothing_is_sent_and_the_factory_is_unchanged():
    assert not Notifier({}).enabled and not Notifier({}).send("READY=1")

    def build():
        return "daemon"

    with supervised(build, {}) as wrapped:
        assert wrapped is build


def test_a_socket_that_is_gone_never_raises_and_is_said_once(tmp_path, caplog):
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    with caplog.at_level(logging.WARNING, logger="redline.notify"):
        assert not notifier.send("READY=1")
        assert not notifier.send("WATCHDOG=1")
    assert len([r for r in caplog.records if "cannot notify systemd" in r.message]) == 1


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "120000000"}, 60.0),
        ({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "4242"}, 1.0),
        ({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "4243"}, None),  # another process's
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
    ],
)
def test_the_watchdog_interval_is_half_of_what_systemd_asks(environ, expected):
    assert watchdog_interval(environ, pid=4242) == expected


def test_health_is_what_readyz_calls_a_running_scheduler():
    assert WebSettings().tick_max_age == notify.TICK_MAX_AGE


def test_ready_once_the_due_queue_was_looked_at_watchdog_only_while_it_is(listener):
    sock, path = listener
    supervisor = Supervisor(Notifier({"NOTIFY_SOCKET": path}), interval=1.0)
    assert supervisor.step(NOW) is False  # not built yet
    daemon = SimpleNamespace(running=False, started_at=None, last_tick=None, owner="host:1:ab")
    supervisor.daemon = daemon
    assert supervisor.step(NOW) is False and received(sock) == []  # being built
    daemon.running, daemon.started_at = True, NOW
    assert supervisor.step(NOW) is False and received(sock) == []  # no look at the queue yet
    daemon.last_tick = NOW
    assert supervisor.step(NOW + timedelta(seconds=1)) is True
    assert received(sock) == ["READY=1\nSTATUS=running as host:1:ab"]
    assert supervisor.step(NOW + timedelta(seconds=60)) is True and received(sock) == []
    assert supervisor.step(NOW + timedelta(seconds=61)) is False  # stalled: no ping
    assert supervisor.step(NOW + timedelta(seconds=90)) is False
    assert received(sock) == ["STATUS=stalled: no look at the due queue in 60 s"]
    daemon.last_tick = NOW + timedelta(seconds=91)
    assert supervisor.step(NOW + timedelta(seconds=92)) is True
    assert received(sock) == ["STATUS=running again"]
    daemon.running = False  # SIGTERM: stopping
    assert supervisor.step(NOW + timedelta(seconds=93)) is False
    assert received(sock) == ["STOPPING=1\nSTATUS=stopping: finishing the checks in flight"]
    supervisor.close()
    assert received(sock) == []  # said once


def test_stopping_is_said_when_the_daemon_never_started(listener):
    sock, path = listener

    def build():
        raise RuntimeError("no daemon")

    with supervised(build, {"NOTIFY_SOCKET": path}) as wrapped, pytest.raises(RuntimeError):
        wrapped()
    assert received(sock) == ["STOPPING=1\nSTATUS=stopped"]


# --- a real `redline run` -------------------------------------------------------------------
def test_redline_run_says_ready_then_pings_the_watchdog_then_stopping(tmp_path, listener):
    sock, path = listener
    db_url = f"sqlite:///{tmp_path / 'redline.sqlite'}"
    env = {
        **os.environ,
        "REDLINE_DATABASE_URL": db_url,
        "REDLINE_CONFIG": os.devnull,
        "REDLINE_ALLOW_PRIVATE_NETWORKS": "1",
        "NOTIFY_SOCKET": path,
        "WATCHDOG_USEC": "600000",  # a ping every 0.3 s
    }
    with NewsSite(articles=2, live_items=0) as site:
        urls = [site.article_url(a.slug) for a in site.articles]
        added = CliRunner().invoke(cli, ["add", *urls], env=env)
        assert added.exit_code == 0, added.output
        daemon = subprocess.Popen(
            [sys.executable, "-m", "redline", "run", "--workers", "1", "--no-web"],
            env=env,
            cwd=REPO,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            messages = wait_for(sock, lambda m: m.count("WATCHDOG=1") >= 3, 60, daemon)
            assert messages[0].startswith("READY=1\nSTATUS=running as ")  # before any ping
            assert set(messages[1:]) == {"WATCHDOG=1"}
            daemon.send_signal(signal.SIGTERM)
            _, errors = daemon.communicate(timeout=30)
            assert daemon.returncode == 0, errors
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.communicate()
    rest = received(sock)  # STOPPING=1 once (its STATUS depends on how fast the stop was)
    assert [m.split("\n")[0] for m in rest if not m.startswith("WATCHDOG")] == ["STOPPING=1"]


def wait_for(sock, done, timeout: float, process: subprocess.Popen) -> list[str]:
    """Messages from `sock` until `done(messages)`; fails if the process exits first."""
    messages: list[str] = []
    deadline = time.monotonic() + timeout
    while not done(messages):
        if process.poll() is not None:
            raise AssertionError(f"redline run exited: {process.communicate()[1]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s with {messages}")
        messages.extend(received(sock))
    return messages
