"""`redline serve`: the web app alone, over the same database, without crawling."""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any

import click

from redline.cli.app import App, scrub


@click.command("serve")
@click.option(
    "--bind", metavar="ADDR", help="Address to listen on [default: [web] bind, else 127.0.0.1]."
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    metavar="N",
    help="Port (0: any free one) [default: [web] port, else 8470].",
)
@click.pass_obj
def serve_command(app: App, bind: str | None, port: int | None) -> None:
    """Serve the web app (pages, JSON API, Atom feeds, /healthz, /readyz, /metrics) over the
    database, without crawling: beside a `redline run` elsewhere, or to read an archive.

    Beyond loopback it needs a token: set the variable that [web] token_env names
    (REDLINE_WEB_TOKEN by default). Stops on SIGTERM or SIGINT.

    \b
    Example:
      redline serve --port 8470
      REDLINE_WEB_TOKEN=$(openssl rand -hex 16) redline serve --bind 0.0.0.0
    """
    from redline import logs
    from redline.web import WebState, create_app
    from redline.webserver import ListenError, WebServer, web_settings

    logs.use("info")  # the group's --log-format; --log-level if given
    settings = web_settings(app.config, os.environ, bind=bind, port=port)
    server = WebServer(create_app(WebState(app.store(), settings)), settings)
    stop = threading.Event()

    def on_signal(sig: int, frame: Any) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    try:
        server.start()
    except ListenError as exc:
        click.echo(f"redline: error: {scrub(str(exc))}", err=True)
        sys.exit(1)
    try:
        while not stop.wait(0.5):
            if not server.alive:
                sys.exit(1)  # it said why
    finally:
        server.stop()
