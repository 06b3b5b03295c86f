"""`redline init`: a commented configuration file where Redline looks for one; and what `run`
says when it has nothing to watch."""

from __future__ import annotations

import logging
import os
from importlib.resources import files
from pathlib import Path

import click

from redline.cli.app import RedlineError, scrub
from redline.config import ENV_CONFIG, Config, default_config_path
from redline.storage import Store


def example_config() -> str:
    """The commented file `init` writes (also deploy/redline.example.toml, a link to it)."""
    return files("redline").joinpath("config.example.toml").read_text(encoding="utf-8")


def config_target(path: str | None, config_option: str | None) -> Path:
    """Where `init` writes: its argument, else --config / REDLINE_CONFIG, else the platform's
    configuration directory, which every command reads by default."""
    chosen = path or config_option or os.environ.get(ENV_CONFIG)
    return Path(chosen).expanduser() if chosen else default_config_path()


@click.command("init")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.pass_context
def init_command(ctx: click.Context, path: str | None) -> None:
    """Write a commented configuration file (database, sources, site profiles, alert rules and
    channels, politeness, web) and never overwrite one.

    Without PATH it goes where every command looks by default (--config or REDLINE_CONFIG
    when given), so `redline run` uses it as written.

    \b
    Example:
      redline init
      redline init /etc/redline/redline.toml
    """
    target = config_target(path, ctx.meta.get("config_path"))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: an existing file is never replaced, not even by two inits racing.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise RedlineError(f"{target} exists: not overwritten (edit it, or move it away)") from None
    except OSError as exc:
        raise RedlineError(f"cannot write {target}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(example_config())
    click.echo(f"wrote {target}")
    click.echo("next: uncomment what you need, then `redline sources add URL --kind feed` or")
    click.echo("`redline add URL`, and `redline run`")


def nothing_to_watch(config: Config, store: Store) -> str | None:
    """The screen `redline run` shows instead of sitting silent when it has no source and no
    article; None when it has work."""
    if store.list_sources() or store.articles_page(limit=1).rows:
        return None
    where = str(config.path) if config.path else f"none ({default_config_path()}: `redline init`)"
    return "\n".join(
        [
            "redline: nothing to watch yet. Running: what you add now is picked up as it comes.",
            f"  data:    {scrub(config.database_url)}",
            f"  config:  {where}",
            "  add a source (articles are found in it):",
            "    redline sources add https://example.com/rss/ --kind feed --every 10m",
            "  or an article:",
            "    redline add https://example.com/2026/12/some-story/",
            "  see it work first, offline, in a minute: redline demo",
        ]
    )


def say_nothing_to_watch(screen: str) -> None:
    """The screen as it is on a terminal; one warning line (event "idle") in JSON logs."""
    from redline import logs

    if logs.chosen_format() == "json":
        logging.getLogger("redline").warning(screen, extra={"event": "idle"})
    else:
        click.echo(screen, err=True)
