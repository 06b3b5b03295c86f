"""`redline run`, `check` and `status`: the service itself and its queue."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from typing import Any

import click

from redline import notify, service, webserver
from redline.cli.app import App, emit_json, scrub, terminal_safe, when
from redline.cli.init import nothing_to_watch, say_nothing_to_watch
from redline.cli.sources import sync_from_config
from redline.cli.urls import TRACKABLE_URL
from redline.storage import ArticleStatus, NotFound


def _logging(verbose: bool, default: str = "warning") -> None:
    """The group's --log-format and --log-level (redline/logs.py), else `default`; -v is at
    least info. Scrapy's and APScheduler's chatter stays at WARNING unless debug."""
    from redline import logs

    logs.use(default, verbose=verbose)


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
@click.option(
    "-v", "--verbose", is_flag=True, help="At least `--log-level info` (already run's default)."
)
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
    _logging(verbose, "info")  # a daemon people watch: each change, each error, a summary
    store = app.store(create=True)
    sync_from_config(app)  # the config file's [[sources]], added, updated or paused
    idle = nothing_to_watch(app.config, store)
    if idle:
        say_nothing_to_watch(idle)
    sys.exit(daemon_until_stopped(app, store, workers=workers, pin_cpus=pin_cpus, web=web))


def daemon_until_stopped(app: App, store: Any, *, workers: int, pin_cpus: bool, web: bool) -> int:
    """The daemon, its web app and systemd's notifications, until SIGTERM or SIGINT (`run`
    and `demo`); its exit code."""
    from redline.scheduler.daemon import run_daemon

    with service.single_writer(app.config.database_url, store):
        build = service.build_daemon(app.config, store, workers=workers, pin_cpus=pin_cpus)
        with (
            webserver.beside(app.config, build, os.environ, enabled=web) as build,
            notify.supervised(build, os.environ) as build,  # systemd: READY, WATCHDOG
        ):
            return int(run_daemon(build, allow_private=app.config.allow_private_networks))


@click.command("check")
@click.argument("urls", nargs=-1, metavar="[URL...]", type=TRACKABLE_URL)
@click.option("--due", is_flag=True, help="Every article that is due now.")
@click.option("--all", "every", is_flag=True, help="Every active or gone article.")
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
    due: bool,
    every: bool,
    workers: int,
    pin_cpus: bool,
    no_alerts: bool,
    as_json: bool,
) -> None:
    """Check articles once, now, and print a summary (new, changed, unchanged, not modified,
    gone, unavailable, errors; articles skipped because another worker was checking them; the
    alerts sent), then one line per URL that failed (gone, unavailable, error) with the reason.
    The alerts this pass created are sent before it exits. Exits non-zero only if nothing could
    be fetched.

    \b
    Examples:
      redline check https://kyivindependent.com/some-story/
      redline check --due
    """
    _logging(False)
    from redline.scheduler.checks import summary
    from redline.scheduler.daemon import run_daemon

    which = _which(urls, due=due, every=every)
    store = app.store(create=True)
    sync_from_config(app)  # the config file's [[sources]], added, updated or paused
    now = datetime.now(UTC)
    if urls:
        ids = [app.article(u).id for u in urls]
    else:
        statuses = (ArticleStatus.ACTIVE, ArticleStatus.GONE)
        ids = [
            a.id
            for a in store.list_articles()
            if a.status in statuses
            and not a.paused  # paused until `redline resume`
            and (which == "all" or (a.next_check_at and a.next_check_at <= now))
        ]
    if not ids:
        click.echo("nothing to check")
        return
    progress = _Progress(len(ids), enabled=sys.stderr.isatty() and not as_json)
    failures = _Failures()
    with service.single_writer(app.config.database_url, store):
        build = service.build_daemon(
            app.config,
            store,
            targets=ids,
            workers=workers,
            pin_cpus=pin_cpus,
            alerts=not no_alerts,
            on_progress=lambda fetched, recorded: (
                progress.step(fetched, recorded),
                failures.step(fetched, recorded),
            ),
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
    failed = failures.listed(store)
    if as_json:  # the counts stay at the top level (scripts read them); "failed" when any
        emit_json(
            {**outcomes, **{k: n for k, n in extra.items() if n}}
            | ({"failed": failed} if failed else {})
        )
    else:
        click.echo(summary(outcomes, extra))
        for f in failed:
            click.echo(terminal_safe(f"{f['outcome']} {f['url']}: {f['reason']}"))
    fetched = sum(n for k, n in outcomes.items() if k != "error")
    sys.exit(code or (1 if fetched == 0 else 0))


def _which(urls: tuple[str, ...], *, due: bool, every: bool) -> str:
    """What to check: named URLs, "due" or "all", exactly one of them (else a usage error)."""
    given = [name for name, on in (("URLs", bool(urls)), ("--due", due), ("--all", every)) if on]
    if len(given) > 1:
        raise click.UsageError(f"{' and '.join(given)} cannot be used together: pick one")
    if not given:
        raise click.UsageError("name URLs to check, or use --due or --all")
    return "urls" if urls else "due" if due else "all"


class _Failures:
    """The checks of a pass that fetched nothing usable, as {"url", "outcome", "reason"}:
    the reason is what the check recorded (the article's last error, or its event)."""

    FAILED = frozenset({"gone", "unavailable", "error"})

    def __init__(self) -> None:
        self.found: list[tuple[int, str, str, bool]] = []  # id, URL, outcome, recorded

    def step(self, fetched: Any, recorded: Any) -> None:
        claim = fetched.job.claim
        outcome = "error" if recorded is None else str(recorded.outcome)
        if claim is not None and outcome in self.FAILED:
            self.found.append((claim.article_id, claim.url, outcome, recorded is not None))

    def listed(self, store: Any) -> list[dict[str, str]]:
        return [
            {"url": url, "outcome": outcome, "reason": _reason(store, id_, url, outcome, written)}
            for id_, url, outcome, written in self.found
        ]


def _reason(store: Any, article_id: int, url: str, outcome: str, written: bool) -> str:
    if not written:
        return "the check could not be recorded (see the log above); it will be retried"
    if outcome == "error":
        try:
            return scrub(store.get_article(url).last_error or "unknown error")
        except NotFound:  # moved meanwhile
            return "unknown error"
    details = [e.detail for e in store.events(article_id) if str(e.kind) == outcome]
    return scrub(details[-1]) if details and details[-1] else outcome


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
