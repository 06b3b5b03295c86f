"""`redline demo`: see Redline work within a minute, offline (redline/demo.py has the parts)."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path

import click

from redline import demo, logs
from redline.cli.app import App, RedlineError
from redline.cli.crawl import daemon_until_stopped
from redline.cli.sources import sync_from_config
from redline.config import load_config
from redline.newsite import NewsSite


@click.command("demo")
@click.option(
    "--seconds", type=click.FloatRange(min=1), help="Stop after this long [default: at Ctrl-C]."
)
@click.option(
    "--every",
    type=click.FloatRange(min=0.5),
    default=3.0,
    show_default=True,
    help="Seconds between two edits of the site.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8470,
    show_default=True,
    help="The web app's port (any free one if it is taken).",
)
@click.option(
    "--keep",
    type=click.Path(file_okay=False),
    help="Keep the database and configuration in this directory [default: a temporary one, "
    "removed on exit].",
)
def demo_command(seconds: float | None, every: float, port: int, keep: str | None) -> None:
    """Watch a local news site edit itself: revisions, diffs and alerts within a minute.

    A small news site on loopback (articles, an RSS feed, a live "News Feed" page, and page
    noise that must not show) is edited every few seconds: headline rewrites, paragraph edits,
    corrections, "(Updated)" items, stealth edits, new articles. Redline watches it on a
    temporary SQLite database and prints each change as it is recorded and each alert (a
    console channel); the web app shows the history. No network beyond 127.0.0.1. Ctrl-C stops
    and removes the temporary directory.

    \b
    Example:
      redline demo
      redline demo --seconds 60 --keep ./demo && redline --db sqlite:///demo/redline.sqlite list
    """
    directory = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="redline-demo-"))
    database = directory.resolve() / "redline.sqlite"
    if keep and database.exists():
        raise RedlineError(f"{database} exists: give --keep an empty or new directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        code = _run(directory.resolve(), database, seconds, every, port, kept=bool(keep))
    finally:
        if not keep:
            shutil.rmtree(directory, ignore_errors=True)
    sys.exit(code)


def _run(
    directory: Path, database: Path, seconds: float | None, every: float, port: int, *, kept: bool
) -> int:
    logs.use("warning")  # the demo prints changes itself; problems still show
    with NewsSite(articles=4, live_items=3) as site:
        site.set_noise(True)
        port = demo.web_port(port)
        config_file = directory / "redline.toml"
        config_file.write_text(demo.config_text(database, site.base_url, port), encoding="utf-8")
        app = App(load_config(config_file, environ={}))  # the user's REDLINE_* do not apply
        web = f"http://127.0.0.1:{port}"
        _banner(site.base_url, web, directory, kept=kept)
        store = app.store(create=True)
        sync_from_config(app)
        stop = threading.Event()
        helpers = [
            threading.Thread(target=demo.run_editor, args=(site, every, stop, sys.stdout)),
            threading.Thread(
                target=demo.run_reporter, args=(app.config.database_url, web, stop, sys.stdout)
            ),
        ]
        for thread in helpers:
            thread.daemon = True
            thread.start()
        if seconds:  # the daemon's own clean stop, as on Ctrl-C
            timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGTERM))
            timer.daemon = True
            timer.start()
        try:
            return daemon_until_stopped(app, store, workers=0, pin_cpus=False, web=True)
        finally:
            stop.set()
            for thread in helpers:
                thread.join(timeout=5)
            app.close()


def _banner(site: str, web: str, directory: Path, *, kept: bool) -> None:
    fate = "kept" if kept else "removed on exit; --keep DIR keeps it"
    click.echo(
        "\n".join(
            [
                "Redline demo: a local news site edits itself every few seconds; Redline watches.",
                f"  news site  {site}/  (its feed and its live News Feed page are the sources)",
                f"  web app    {web}/",
                f"  data       {directory}  ({fate})",
                "Changes and alerts appear below as they are recorded. Ctrl-C stops.",
                "",
            ]
        )
    )
