"""`redline run` and its process tree, with real signals: the forkserver, the resource tracker
and the extraction workers never outlive the daemon (SIGKILL, a second signal), and Ctrl-C (a
SIGINT to the whole process group) drains the pool instead of killing it under a check.

Linux only: the tree is read from /proc (each process's parent in /proc/<pid>/stat)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from redline.newsite import Fault, NewsSite
from redline.storage import open_store
from tests.conftest import REPO
from tests.test_daemon import environment, track
from tests.waiting import wait_until

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")

GONE_WITHIN = 5.0  # seconds after the daemon's end for every process it started to be gone


def parents() -> dict[int, int]:
    """pid -> parent pid, of every live process (zombies count as gone)."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        if fields[0] != "Z":
            found[int(name)] = int(fields[1])
    return found


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for child, parent in parents().items():
        children.setdefault(parent, []).append(child)
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), ()):
            found.add(child)
            todo.append(child)
    return found


def command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
    except OSError:
        return "(gone)"


class Run:
    """`redline run --workers 2` in its own session (so that a signal to its process group
    reaches it and every process it started, as Ctrl-C in a terminal does, and nothing else)."""

    def __init__(self, db_url: str, stderr: Path) -> None:
        self.stderr_path = stderr
        with stderr.open("w") as sink:  # a file: a pipe's reader would wait for orphans too
            self.process = subprocess.Popen(
                [sys.executable, "-m", "redline", "run", "--workers", "2"],
                env=environment(db_url),
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=sink,
                start_new_session=True,
            )
        self.pid = self.process.pid
        self.tree: set[int] = set()

    def wait_for_pool(self) -> set[int]:
        """Wait until the resource tracker, the forkserver and at least one worker (the
        forkserver's child) run; return every process under the daemon."""

        def pool_started() -> bool:
            tree = descendants(self.pid)
            family = parents()
            self.tree |= tree
            return len(tree) >= 3 and any(family.get(pid) in tree for pid in tree)

        wait_until(pool_started, 60, "the daemon's extraction pool to start")
        return set(self.tree)

    def wait(self, timeout: float = 60) -> tuple[int, str]:
        code = self.process.wait(timeout=timeout)
        return code, self.stderr_path.read_text()

    def assert_nothing_left(self, tree: set[int]) -> None:
        deadline = time.monotonic() + GONE_WITHIN
        while left := {pid for pid in tree if pid in parents()}:
            if time.monotonic() > deadline:
                listing = "\n".join(f"{pid}: {command(pid)}" for pid in sorted(left))
                raise AssertionError(f"still running {GONE_WITHIN} s after the daemon:\n{listing}")
            time.sleep(0.05)

    def cleanup(self) -> None:
        """Whatever a failed test left: the daemon's group, then any orphan it had."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for pid in self.tree:
            if pid in parents():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


@pytest.fixture
def site() -> Iterator[NewsSite]:
    with NewsSite(articles=6, live_items=3) as running:
        yield running


@pytest.fixture
def run(tmp_path, site) -> Iterator[tuple[Run, list[str], str]]:
    db_url = f"sqlite:///{tmp_path / 'tree.sqlite'}"
    urls = track(db_url, site)
    daemon = Run(db_url, tmp_path / "stderr.txt")
    try:
        yield daemon, urls, db_url
    finally:
        daemon.cleanup()


class TestNoOrphans:
    """Before: SIGKILL left the forkserver, the resource tracker and the workers running, owned
    by PID 1, for ever (a worker waits on a queue it holds both ends of, and holds the pipes
    the forkserver and the resource tracker wait on). Now each worker watches the daemon's
    pid (crawler.analysis.die_with) and exits when it ends; the other two follow."""

    def test_sigkill_takes_the_whole_tree_with_it(self, run):
        daemon, _, _ = run
        tree = daemon.wait_for_pool()
        daemon.process.send_signal(signal.SIGKILL)
        code, _ = daemon.wait()
        assert code == -signal.SIGKILL
        daemon.assert_nothing_left(tree)

    def test_the_second_signal_exit_takes_the_whole_tree_with_it(self, run, site):
        daemon, _, _ = run
        slow = site.articles[0].path
        site.misbehave(slow, Fault.slow(30))  # the first SIGTERM waits for it
        tree = daemon.wait_for_pool()
        wait_until(lambda: site.requests_to(slow), 30, "the slow article to be requested")
        daemon.process.send_signal(signal.SIGTERM)
        time.sleep(1)  # two signals at once are one signal
        daemon.process.send_signal(signal.SIGTERM)
        code, errors = daemon.wait()
        assert code == 2, errors
        daemon.assert_nothing_left(tree)


class TestCtrlC:
    """Before: the SIGINT sent to the group killed the workers (KeyboardInterrupt), the check
    in flight failed with BrokenProcessPool and a traceback, and was lost (exit 0 all the same).
    Now the workers ignore SIGINT, and a SIGTERM from anybody but the daemon; the daemon lets
    the check in flight finish, in the pool, records it, then stops the workers."""

    def test_ctrl_c_records_the_check_in_flight(self, run, site):
        """Not SIGTERM to the group: the forkserver dies of it, and the pool reads that as the
        death of every worker (it learns their exit through the forkserver). systemd must send
        SIGTERM to the daemon alone (KillMode=mixed)."""
        daemon, urls, db_url = run
        slow = site.articles[0].path
        site.misbehave(slow, Fault.slow(3))
        store = open_store(db_url)
        try:
            wait_until(
                lambda: all(store.get_article(u).revision_count == 1 for u in urls[1:]),
                60,
                "the other articles to be recorded (so the pool's workers run)",
            )
            tree = daemon.wait_for_pool()
            wait_until(lambda: site.requests_to(slow), 30, "the slow article to be requested")
            assert store.get_article(urls[0]).revision_count == 0  # in flight
            os.killpg(daemon.pid, signal.SIGINT)  # Ctrl-C in the terminal
            code, errors = daemon.wait()
            assert code == 0, errors
            assert "Traceback" not in errors and "BrokenProcessPool" not in errors, errors
            # Its fetch had started: it finishes, the full extraction runs in the pool, and
            # the check is recorded (not given back to be fetched again).
            assert store.get_article(urls[0]).revision_count == 1
        finally:
            store.close()
        daemon.assert_nothing_left(tree)

    def test_a_worker_killed_while_idle_does_not_hang_the_shutdown(self, run):
        """A worker killed outright (the OOM killer) breaks the pool, which then stops the other
        workers with SIGTERM: that SIGTERM, from the daemon, still ends them (one from anybody
        else is ignored), or the daemon's shutdown would wait for them for ever."""
        daemon, _, _ = run
        tree = daemon.wait_for_pool()
        family = parents()
        workers = sorted(pid for pid in tree if family.get(pid) in tree)
        os.kill(workers[0], signal.SIGKILL)
        time.sleep(1)
        daemon.process.send_signal(signal.SIGTERM)
        code, errors = daemon.wait(timeout=30)
        assert code == 0, errors
        daemon.assert_nothing_left(tree)
