"""The `redline` command: a thin layer over the library. Errors become one line, in one place."""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Any

import click
from click.exceptions import NoArgsIsHelpError

from redline import __version__, logs
from redline.cli.alerts import alerts_group
from redline.cli.app import App, fail_cleanly, scrub
from redline.cli.articles import (
    add_command,
    list_command,
    pause_command,
    remove_command,
    resume_command,
)
from redline.cli.crawl import check_command, run_command, status_command
from redline.cli.db import db_group
from redline.cli.demo import demo_command
from redline.cli.export import export_command
from redline.cli.extract import extract_command
from redline.cli.history import diff_command, history_command, show_command
from redline.cli.init import init_command
from redline.cli.sources import sources_group
from redline.cli.web import serve_command

EPILOG = """\b
Examples:
  redline add https://kyivindependent.com/some-story/
  redline history https://kyivindependent.com/some-story/
  redline diff https://kyivindependent.com/some-story/ --from 1 --to 3
  REDLINE_DATABASE_URL=postgresql://user@db/redline redline list --json
"""


class OneLineError(click.ClickException):
    """Every error as one line, `redline: error: ...`, with the exit code it came with: 1 for a
    clear error, 2 for a usage error (the command's `--help` named, instead of click's usage)."""

    def __init__(self, exc: click.ClickException) -> None:
        message = exc.format_message()
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            message = f"{message.rstrip('.')} (see '{exc.ctx.command_path} --help')"
        super().__init__(" ".join(line.strip() for line in message.splitlines() if line.strip()))
        self.exit_code = exc.exit_code

    def show(self, file: object = None) -> None:
        click.echo(f"redline: error: {self.message}", err=True)


class RedlineGroup(click.Group):
    """Turns our exceptions, and click's, into `redline: error: ...` on one line (exit code 1,
    or 2 for a usage error), never a traceback."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except (OneLineError, NoArgsIsHelpError):  # bare `redline`: the help, as click shows it
            raise
        except click.ClickException as exc:  # `redline --no-such-option`
            raise OneLineError(exc) from exc

    def invoke(self, ctx: click.Context) -> object:
        try:
            with fail_cleanly():
                return super().invoke(ctx)
        except (OneLineError, NoArgsIsHelpError):  # bare `redline sources`: its help
            raise
        except click.ClickException as exc:
            raise OneLineError(exc) from exc


@click.group(
    cls=RedlineGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.option(
    "--db",
    metavar="URL",
    help="Database URL: sqlite:///path or postgresql://... "
    "[env REDLINE_DATABASE_URL; default: a SQLite file in your data directory]",
)
@click.option(
    "--config",
    "config_path",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Configuration file (TOML) [env REDLINE_CONFIG]",
)
@click.option(
    "--log-format",
    type=click.Choice(logs.FORMATS, case_sensitive=False),
    default="text",
    envvar="REDLINE_LOG_FORMAT",
    help="Log lines for people, or one JSON object per line (docs/logs.md) "
    "[env REDLINE_LOG_FORMAT; default: text]",
)
@click.option(
    "--log-level",
    type=click.Choice(logs.LEVELS, case_sensitive=False),
    envvar="REDLINE_LOG_LEVEL",
    help="Log from this level up [env REDLINE_LOG_LEVEL; default: info for run and serve, "
    "warning for the rest]",
)
@click.custom_version_option(  # the differ is imported only when asked: --help stays quick
    lambda _: f"redline {__version__} (differ: {import_module('redline.crawler.diff').BACKEND})"
)
@click.pass_context
def cli(
    ctx: click.Context,
    db: str | None,
    config_path: str | None,
    log_format: str,
    log_level: str | None,
) -> None:
    """Redline watches news articles and keeps every version of them."""
    logs.choose(log_format, log_level, scrub)
    if ctx.invoked_subcommand in STANDALONE:  # they read no configuration: init writes one
        ctx.meta["config_path"] = config_path
        return
    ctx.obj = App.load(config_path, db)
    ctx.call_on_close(ctx.obj.close)


STANDALONE = ("init", "demo")
COMMANDS: tuple[click.Command, ...] = (
    init_command,
    demo_command,
    add_command,
    list_command,
    remove_command,
    pause_command,
    resume_command,
    history_command,
    show_command,
    diff_command,
    export_command,
    extract_command,
    db_group,
    run_command,
    check_command,
    status_command,
    sources_group,
    alerts_group,
    serve_command,
)
for _command in COMMANDS:
    cli.add_command(_command)


def main() -> None:
    logs.own_process()  # the process is `redline`'s: its logging is ours (not a caller's)
    cli.main(prog_name="redline", args=sys.argv[1:])
