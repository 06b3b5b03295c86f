"""Process wiring of the web app: [web] settings, and uvicorn in a thread of its own.

`redline serve` runs the web app alone; `redline run` runs it beside the daemon (`beside`).
Either way uvicorn gets its own thread and its own event loop, never the daemon's: a slow page
must not delay a check. Beside the daemon it reads through its own Store (another SQLite
connection: its reads never wait for the daemon's connection lock).

Beyond loopback (any `bind` other than 127.0.0.1, ::1 or localhost) the app is served only
with a token set (`[web] token_env` names the environment variable that holds it).
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from redline.config import Config, ConfigError
from redline.durations import parse_duration
from redline.web.state import DEFAULT_PORT, DaemonStatus, WebSettings, WebState

log = logging.getLogger("redline.web")
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
DEFAULT_TOKEN_ENV = "REDLINE_WEB_TOKEN"
STOP_SECONDS = 5.0  # in-flight requests get this long at shutdown


class ListenError(ConfigError):
    """The address cannot be listened on (in use, not this host's, not allowed)."""


def web_enabled(config: Config) -> bool:
    return bool(config.web.get("enabled", True))


def web_settings(
    config: Config,
    environ: Mapping[str, str],
    *,
    bind: str | None = None,
    port: int | None = None,
) -> WebSettings:
    """[web] and the token from the environment, checked; options override the file."""
    table = config.web
    host = bind or str(table.get("bind", "127.0.0.1"))
    port = int(table.get("port", DEFAULT_PORT)) if port is None else port
    if not 0 <= port <= 65535:
        raise ConfigError(f"port {port}: must be a whole number from 0 to 65535")
    token_env = str(table.get("token_env", DEFAULT_TOKEN_ENV))
    token = environ.get(token_env) or None
    if host not in LOOPBACK and token is None:
        raise ConfigError(
            f"refusing to serve the web app on {host} without a token: set {token_env} "
            "(see [web] token_env), or bind 127.0.0.1"
        )
    values: dict[str, Any] = {
        "bind": host,
        "port": port,
        "token": token,
        "allow_private_networks": config.allow_private_networks,
    }
    if "base_url" in table:
        values["base_url"] = str(table["base_url"]).rstrip("/")
    if "ready_max_age" in table:
        values["ready_max_age"] = parse_duration(table["ready_max_age"])
    return WebSettings(**values)


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, or one clean line saying why not."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {where}: {exc.strerror}") from None
    sock = socket.socket(info[0], socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(info[4])
        sock.listen(128)
    except OSError as exc:
        sock.close()
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise ListenError(f"cannot listen on {where}: {reason}") from None
    sock.set_inheritable(False)
    return sock


class WebServer:
    """uvicorn on a socket of ours, in its own thread with its own event loop."""

    def __init__(self, app: Any, settings: WebSettings) -> None:
        import uvicorn

        self.settings = settings
        self.config = uvicorn.Config(
            app,
            log_config=None,  # leave the process's logging alone
            access_log=False,  # one line per request is not news
            lifespan="off",
            server_header=False,
            timeout_graceful_shutdown=int(STOP_SECONDS),
        )
        self.server = uvicorn.Server(self.config)
        self.sock: socket.socket | None = None
        self.thread: threading.Thread | None = None
        # uvicorn says "Started server process" and the like at INFO: ours says it once. Left
        # alone when redline.logs set it (at debug, uvicorn's lines are wanted).
        quiet = logging.getLogger("uvicorn.error")
        if quiet.level == logging.NOTSET:
            quiet.setLevel(logging.WARNING)

    @property
    def address(self) -> tuple[str, int]:
        assert self.sock is not None
        host, port = self.sock.getsockname()[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    @property
    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self) -> None:
        """Listen (raising ListenError at once), then serve from a new thread."""
        self.sock = listen(self.settings.bind, self.settings.port)
        self.thread = threading.Thread(target=self._serve, name="redline-web", daemon=True)
        self.thread.start()
        log.info("web app on %s", self.url)

    def _serve(self) -> None:
        try:
            self.server.run(sockets=[self.sock] if self.sock is not None else None)
        except BaseException:  # never silently: the process goes on without its web app
            log.exception("the web app stopped")

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(STOP_SECONDS + 2)
        if self.sock is not None:
            self.sock.close()


def status_of(daemon: Any) -> DaemonStatus:
    """What /readyz reads from the daemon (scheduler/daemon.py), or "not running" before it
    was built."""
    if daemon is None:
        return DaemonStatus(running=False)
    return DaemonStatus(
        running=daemon.running,
        last_tick=daemon.last_tick,
        last_success=daemon.last_success,
        started_at=daemon.started_at,
        last_check=daemon.last_check,
    )


@contextmanager
def beside(
    config: Config, build: Callable[[], Any], environ: Mapping[str, str], *, enabled: bool = True
) -> Iterator[Callable[[], Any]]:
    """`redline run`'s web app: yields the daemon's factory, wrapped so that the app sees the
    daemon once it is built. The settings are checked first (a ConfigError stops `run`); an
    address already in use is one warning, and the daemon runs without its web app (several
    workers on one host, or a test suite running many, need no port each)."""
    if not enabled or not web_enabled(config):
        yield build
        return
    from redline.storage import open_store
    from redline.web import create_app

    settings = web_settings(config, environ)
    store = open_store(config.database_url)
    built: dict[str, Any] = {}
    state = WebState(store, settings, daemon=lambda: status_of(built.get("daemon")))

    def build_and_show() -> Any:
        daemon = build()
        built["daemon"] = daemon
        state.registry = daemon.metrics.registry
        return daemon

    server = WebServer(create_app(state), settings)
    try:
        server.start()
    except ListenError as exc:
        log.warning("running without the web app: %s", exc)
        store.close()
        yield build
        return
    try:
        yield build_and_show
    finally:
        server.stop()
        store.close()
