"""`redline run`, `check` and `status`: the service itself and its queue."""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

import click

from redline import service, webserver
from redline.cli.app import App, emit_json, scrub, terminal_safe, when
from storage import ArticleStatus


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # APScheduler logs every run of every job at INFO (several lines a second): not news.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


_PIN_CPUS = click.option(
    "--pin-cpus/--no-pin-cpus",
    default=True,
    show_default=True,
    help="With a pool on 2+ CPUs: keep this process on one CPU and the pool on the others.",
)


@click.command("run")
@click.option(
    "--workers",
    default=2,
    show_default=True,
    help="Extraction processes (0: extract in the main process).",
)
@_PIN_CPUS
@click.option(
    "--web/--no-web",
    default=True,
    show_default=True,
    help="Serve the web app beside the daemon ([web] bind and port; off with [web] enabled "
    "= false). If its port is taken, the daemon runs without it (one warning).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log each step, not only problems.")
@click.pass_obj
def run_command(app: App, workers: int, pin_cpus: bool, web: bool, verbose: bool) -> None:
    """Run the daemon: discover articles, re-fetch them on schedule, record every real change.

    Stops cleanly on SIGTERM or SIGINT (in-flight fetches finish and are recorded, the rest is
    given back); a second signal exits at once. The web app is served beside it, in its own
    thread (http://127.0.0.1:8470 unless [web] says otherwise; see `redline serve`).

    \b
    Example:
      redline sources add https://kyivindependent.com/feed/ --kind feed --every 10m
      redline run
    """
    _logging(verbose)
    from scheduler.daemon import run_daemon

    store = app.store()
    with service.single_writer(app.config.database_url, store):
        build = service.build_daemon(app.config, store, workers=workers, pin_cpus=pin_cpus)
        with webserver.beside(app.config, build, os.environ, enabled=web) as build:
            code = run_daemon(build, allow_private=app.config.allow_private_networks)
    sys.exit(code)


@click.command("check")
@click.argument("urls", nargs=-1, metavar="[URL...]")
@click.option("--due", "which", flag_value="due", help="Every article that is due now.")
@click.option("--all", "which", flag_value="all", help="Every active or gone article.")
@click.option("--workers", default=2, show_default=True, help="Extraction processes.")
@_PIN_CPUS
@click.option(
    "--no-alerts",
    "no_alerts",
    is_flag=True,
    help="Record alerts but leave sending them to `redline run` or `redline alerts deliver`.",
)
@click.option("--json", "as_json", is_flag=True, help="The summary as JSON.")
@click.pass_obj
def check_command(
    app: App,
    urls: tuple[str, ...],
    which: str | None,
    workers: int,
    pin_cpus: bool,
    no_alerts: bool,
    as_json: bool,
) -> None:
    """Check articles once, now, and print a summary (new, changed, unchanged, not modified,
    gone, unavailable, errors; articles skipped because another worker was checking them; the
    alerts sent). The alerts this pass created are sent before it exits. Exits non-zero only
    if nothing could be fetched.

    \b
    Examples:
      redline check https://kyivindependent.com/some-story/
      redline check --due
    """
    _logging(False)
    from scheduler.checks import summary
    from scheduler.daemon import run_daemon

    store = app.store()
    now = datetime.now(UTC)
    if urls:
        ids = [app.article(u).id for u in urls]
    elif which in ("due", "all"):
        statuses = (ArticleStatus.ACTIVE, ArticleStatus.GONE)
        ids = [
            a.id
            for a in store.list_articles()
            if a.status in statuses
            and (which == "all" or (a.next_check_at and a.next_check_at <= now))
        ]
    else:
        raise click.UsageError("name URLs to check, or use --due or --all")
    if not ids:
        click.echo("nothing to check")
        return
    progress = _Progress(len(ids), enabled=sys.stderr.isatty() and not as_json)
    with service.single_writer(app.config.database_url, store):
        build = service.build_daemon(
            app.config,
            store,
            targets=ids,
            workers=workers,
            pin_cpus=pin_cpus,
            alerts=not no_alerts,
            on_progress=progress.step,
        )
        holder: dict[str, object] = {}

        def build_and_keep():
            daemon = build()
            holder["daemon"] = daemon
            return daemon

        code = run_daemon(build_and_keep, allow_private=app.config.allow_private_networks)
    progress.done()
    if "daemon" not in holder:
        raise click.ClickException("the check could not start (see the log above)")
    daemon = holder["daemon"]
    fatal = getattr(daemon, "fatal", None)
    if fatal is not None:  # the database's disk is full: what was checked is not recorded
        click.echo(
            f"redline: error: the database's disk is full ({scrub(str(fatal))}): "
            "the check stopped; free some space and run it again",
            err=True,
        )
        sys.exit(1)
    outcomes = daemon.checker.outcomes  # type: ignore[attr-defined]
    extra = _pass_counts(daemon)
    if as_json:
        emit_json({**outcomes, **{k: n for k, n in extra.items() if n}})
    else:
        click.echo(summary(outcomes, extra))
    fetched = sum(n for k, n in outcomes.items() if k != "error")
    sys.exit(code or (1 if fetched == 0 else 0))


def _pass_counts(daemon: Any) -> dict[str, int]:
    """What a pass did besides checking: targets it left alone, alerts it sent."""
    counts = {
        "skipped": len(daemon.skipped),  # another worker was checking them
        "not_leased": len(daemon.unclaimed),  # the database did not answer
    }
    if daemon.alerts is not None:
        totals = daemon.alerts.totals
        counts |= {
            "alerts_sent": totals.sent,
            "alerts_failed": totals.failed + totals.retried,
            "alerts_dropped": totals.dropped,
        }
    return counts


class _Progress:
    """A one-line progress bar on a terminal; silent when piped."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self.total, self.count, self.enabled = total, 0, enabled

    def step(self, fetched: object, recorded: object) -> None:
        self.count += 1
        if self.enabled:
            filled = int(30 * self.count / self.total)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.count}/{self.total}")
            sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON.")
@click.pass_obj
def status_command(app: App, as_json: bool) -> None:
    """Show the queue: due now, the next checks, alerts, errors by host, and the articles
    whose latest revision the plain fallback read (a site that may want a profile).

    \b
    Example:
      redline status
    """
    status = app.store().queue_status(datetime.now(UTC))
    if as_json:
        emit_json({**status, "alerts": app.store().alert_counts()})
        return
    counts = ", ".join(f"{n} {s}" for s, n in sorted(status["by_status"].items())) or "none"
    click.echo(f"articles: {counts}")
    click.echo(f"due now: {status['due_now']}   being checked: {status['leased']}")
    if status["next_checks"]:
        click.echo("next checks:")
        for url, at in status["next_checks"]:
            click.echo(f"  {when(at)}  {terminal_safe(url)}")
    alerts = app.store().alert_counts()
    if alerts:
        click.echo("alerts: " + ", ".join(f"{n} {s}" for s, n in sorted(alerts.items())))
    if status["plain_fallback"]:
        click.echo(
            f"read by the plain fallback: {status['plain_fallback']} article(s) whose latest "
            "revision Redline's own cuts would have left (nearly) empty:"
        )
        for url in status["plain_fallback_urls"]:
            click.echo(f"  {terminal_safe(url)}")
    if status["errors_by_host"]:
        click.echo("errors by host:")
        for site, count, error in status["errors_by_host"]:
            click.echo(f"  {terminal_safe(site)}: {count} ({terminal_safe(error or '')})")
