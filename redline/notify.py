"""systemd's notification protocol (sd_notify(3)) for `redline run`, in the standard library.

Under `Type=notify` systemd counts the service as started only on READY=1, sent here once the
daemon has looked at its due queue for the first time. With `WatchdogSec=` it restarts the
service when WATCHDOG=1 stops coming: a thread of its own sends one every WatchdogSec/2, but
only while the daemon's last look at the due queue is recent (the signal /readyz reads, see
redline/web/health.py), so a stuck event loop or a dead scheduler gets the process restarted.
STOPPING=1 goes out as soon as the daemon starts to stop; STATUS= says why in `systemctl
status`. Outside systemd ($NOTIFY_SOCKET unset) all of this does nothing, and nothing here
ever raises into the daemon: a notification that cannot be sent is logged, once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger("redline.notify")
# As /readyz's `scheduler` condition (WebSettings.tick_max_age): the due queue is looked at
# every second, so a minute without a look is a stall.
TICK_MAX_AGE = timedelta(seconds=60)
POLL_SECONDS = 0.25  # how soon READY=1 and STOPPING=1 follow what they announce


class Notifier:
    """Datagrams to the socket $NOTIFY_SOCKET names ('@' is the abstract namespace)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        path = environ.get("NOTIFY_SOCKET", "")
        self.address: str | None = "\0" + path[1:] if path.startswith("@") else path or None
        self._failed = False

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, *fields: str) -> bool:
        """Send `fields` ("READY=1", "STATUS=...") as one message; False if not sent."""
        if self.address is None:
            return False
        message = "\n".join(f.replace("\n", " ") for f in fields).encode("utf-8", "replace")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(message, self.address)
        except (OSError, ValueError) as exc:
            if not self._failed:  # once: a gone socket would otherwise log every ping
                log.warning("cannot notify systemd at %s: %s", self.address.lstrip("\0"), exc)
            self._failed = True
            return False
        return True


def watchdog_interval(environ: Mapping[str, str], pid: int | None = None) -> float | None:
    """Seconds between WATCHDOG=1 pings (half of $WATCHDOG_USEC), or None when systemd asks
    for none, or asks another process ($WATCHDOG_PID)."""
    owner = environ.get("WATCHDOG_PID")
    if owner and owner != str(os.getpid() if pid is None else pid):
        return None
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 2e6 if usec > 0 else None


def healthy(daemon: Any, now: datetime) -> bool:
    """Running, and its last look at the due queue is recent."""
    last_tick = getattr(daemon, "last_tick", None)
    return bool(getattr(daemon, "running", False)) and (
        last_tick is not None and now - last_tick <= TICK_MAX_AGE
    )


class Supervisor:
    """The thread that tells systemd how the daemon is doing (READY, WATCHDOG, STOPPING)."""

    def __init__(self, notifier: Notifier, interval: float | None) -> None:
        self.notifier, self.interval = notifier, interval
        self.daemon: Any = None  # set once the daemon is built
        self.ready = self.stopping = self.stalled = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="redline-notify", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop the thread; say STOPPING=1 if the daemon ended without saying so."""
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(2)
        self.stop("STATUS=stopped")

    def stop(self, status: str) -> None:
        if not self.stopping:
            self.stopping = True
            self.notifier.send("STOPPING=1", status)

    def step(self, now: datetime) -> bool:
        """One look at the daemon: READY=1 the first time it is up, STOPPING=1 when it stops;
        True when a watchdog ping is deserved now."""
        daemon = self.daemon
        if daemon is None or self.stopping:
            return False
        if getattr(daemon, "started_at", None) is not None and not daemon.running:
            self.stop("STATUS=stopping: finishing the checks in flight")
            return False
        if not healthy(daemon, now):
            if self.ready and not self.stalled:
                self.stalled = True
                seconds = int(TICK_MAX_AGE.total_seconds())
                self.notifier.send(f"STATUS=stalled: no look at the due queue in {seconds} s")
            return False
        if not self.ready:
            self.ready = True
            self.notifier.send("READY=1", f"STATUS=running as {getattr(daemon, 'owner', '?')}")
        elif self.stalled:
            self.stalled = False
            self.notifier.send("STATUS=running again")
        return True

    def _run(self) -> None:
        next_ping = 0.0
        while not self._done.wait(POLL_SECONDS):
            try:
                deserved = self.step(datetime.now(UTC))
                if deserved and self.interval is not None and time.monotonic() >= next_ping:
                    self.notifier.send("WATCHDOG=1")
                    next_ping = time.monotonic() + self.interval
            except Exception:  # never into the daemon; systemd's watchdog will notice
                log.exception("the systemd notification thread failed")
                return


@contextmanager
def supervised(build: Callable[[], Any], environ: Mapping[str, str]) -> Iterator[Callable[[], Any]]:
    """`redline run`'s daemon factory, wrapped so that systemd hears about the daemon it
    builds; `build` itself when $NOTIFY_SOCKET is unset."""
    notifier = Notifier(environ)
    if not notifier.enabled:
        yield build
        return
    supervisor = Supervisor(notifier, watchdog_interval(environ))

    def build_and_watch() -> Any:
        daemon = build()
        supervisor.daemon = daemon
        return daemon

    supervisor.start()
    try:
        yield build_and_watch
    finally:
        supervisor.close()
