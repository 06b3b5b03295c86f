"""`redline add`, `list`, `remove`, `pause` and `resume`: what is tracked."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from redline.cli.app import App, emit_json, terminal_safe, when
from redline.cli.urls import TRACKABLE_URL
from redline.storage import Article, ArticleStatus, PurgeCounts
from redline.storage.sqlstore import site_of
from redline.tracking import canonical, check_fetchable

PAUSED = "paused"  # a state `list` shows and filters on: the status of a paused article stays


@click.command("add")
@click.argument("urls", nargs=-1, required=True, metavar="URL...", type=TRACKABLE_URL)
@click.option("--live", is_flag=True, help="Track as a live feed (its items are the news).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per URL.")
@click.pass_obj
def add_command(app: App, urls: tuple[str, ...], live: bool, as_json: bool) -> None:
    """Track article URLs (http or https). Adding a tracked URL again changes nothing.

    A URL the network guard will refuse to fetch (a loopback or private address, unless
    allow_private_networks is set) is tracked, with a warning on stderr.

    \b
    Example:
      redline add https://kyivindependent.com/north-korean-troops-suffer-losses/
    """
    store = app.store(create=True)
    now = datetime.now(UTC)
    for url in urls:
        article, created = store.add_article(canonical(url), now, is_live=live)
        if as_json:
            emit_json({"url": article.url, "id": article.id, "created": created})
        else:
            click.echo(f"{'added' if created else 'already tracked'}: {terminal_safe(article.url)}")
        try:
            check_fetchable(article.url, allow_private=app.config.allow_private_networks)
        except ValueError as exc:  # tracked all the same: the setting may change
            click.echo(
                f"redline: warning: will not be fetched: {terminal_safe(str(exc))}", err=True
            )


@click.command("list")
@click.option(
    "--status",
    type=click.Choice([*(s.value for s in ArticleStatus), PAUSED]),
    help="Only articles in this state (paused: active or gone ones that are paused).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per article.")
@click.pass_obj
def list_command(app: App, status: str | None, as_json: bool) -> None:
    """List tracked articles with their state (active, gone, moved, stopped or paused),
    revision count and next check.

    \b
    Example:
      redline list --status active
    """
    articles = [a for a in app.store().list_articles() if status is None or a.state == status]
    if as_json:
        for a in articles:
            emit_json(
                {
                    "url": a.url,
                    "site": a.site,
                    "status": str(a.status),
                    "paused": a.paused,
                    "state": a.state,
                    "live": a.is_live,
                    "revisions": a.revision_count,
                    "first_seen": a.first_seen,
                    "last_checked_at": a.last_checked_at,
                    "last_changed_at": a.last_changed_at,
                    "next_check_at": a.next_check_at,
                    "last_error": a.last_error,
                }
            )
        return
    if not articles:
        click.echo("no articles tracked yet (add one with `redline add URL`)")
        return
    click.echo(f"{'REVS':>4}  {'STATUS':<7}  {'LAST CHANGE':<20}  {'NEXT CHECK':<20}  URL")
    for a in articles:
        click.echo(
            f"{a.revision_count:>4}  {a.state:<7}  {when(a.last_changed_at):<20}  "
            f"{when(a.next_check_at):<20}  {terminal_safe(a.url)}"
        )


@click.command("remove")
@click.argument("urls", nargs=-1, required=True, metavar="URL...")
@click.option("--purge", is_flag=True, help="Delete the whole history too, for good (needs --yes).")
@click.option("--yes", is_flag=True, help="Confirm --purge.")
@click.pass_obj
def remove_command(app: App, urls: tuple[str, ...], purge: bool, yes: bool) -> None:
    """Stop tracking articles. Their history is kept and stays readable (history, show, diff,
    export, the web app); `redline resume URL` tracks one again. With --purge --yes, delete
    each article and its whole history instead: revisions, changes, events, fetches, alerts.

    \b
    Examples:
      redline remove https://example.com/2026/11/some-story/
      redline remove https://example.com/2026/11/some-story/ --purge --yes
    """
    if yes and not purge:
        raise click.UsageError("--yes only confirms --purge")
    store = app.store()
    articles = _resolve(app, urls)
    if purge and not yes:
        counts = [store.purge_counts(a.id) for a in articles]
        what = terminal_safe(articles[0].url) if len(articles) == 1 else f"{len(articles)} articles"
        raise click.ClickException(
            f"--purge would delete {what} and its whole history for good "
            f"({_tally(counts)}): add --yes to do it"
        )
    now = datetime.now(UTC)
    for article in articles:
        url = terminal_safe(article.url)
        if purge:
            click.echo(f"purged: {url} ({_tally([store.purge_article(article.id)])} deleted)")
        elif store.stop_article(article.id, now):
            click.echo(f"stopped: {url} (history kept)")
        else:
            click.echo(f"already stopped: {url}")


@click.command("pause")
@click.argument("urls", nargs=-1, metavar="[URL...]")
@click.option("--site", metavar="HOST", help="Every article of this site (example.com).")
@click.pass_obj
def pause_command(app: App, urls: tuple[str, ...], site: str | None) -> None:
    """Stop checking articles for a while; `redline resume` checks them again. A paused
    article keeps its status and its history.

    \b
    Examples:
      redline pause https://example.com/2026/11/some-story/
      redline pause --site example.com
    """
    store = app.store()
    now = datetime.now(UTC)
    for article in _chosen(app, urls, site):
        done = store.pause_article(article.id, now)
        click.echo(f"{'paused' if done else 'already paused'}: {terminal_safe(article.url)}")


@click.command("resume")
@click.argument("urls", nargs=-1, metavar="[URL...]")
@click.option("--site", metavar="HOST", help="Every article of this site (example.com).")
@click.pass_obj
def resume_command(app: App, urls: tuple[str, ...], site: str | None) -> None:
    """Check paused (or removed) articles again: they are due at once.

    \b
    Examples:
      redline resume https://example.com/2026/11/some-story/
      redline resume --site example.com
    """
    store = app.store()
    now = datetime.now(UTC)
    for article in _chosen(app, urls, site):
        if store.resume_article(article.id, now):
            click.echo(f"resumed: {terminal_safe(article.url)} (due now)")
        else:
            click.echo(f"not paused: {terminal_safe(article.url)}")


def _resolve(app: App, urls: tuple[str, ...]) -> list[Article]:
    """Every URL's article, or a one-line error before anything changes."""
    found: dict[int, Article] = {}
    for url in urls:
        article = app.article(url)
        found.setdefault(article.id, article)
    return list(found.values())


def _chosen(app: App, urls: tuple[str, ...], site: str | None) -> list[Article]:
    if bool(urls) == bool(site):
        raise click.UsageError("name URLs, or a site with --site (not both)")
    if urls:
        return _resolve(app, urls)
    try:
        host = site_of(site or "")
    except ValueError:
        raise click.BadParameter(f"not a host name: {site}", param_hint="--site") from None
    chosen = [a for a in app.store().list_articles() if a.site == host]
    if not chosen:
        raise click.ClickException(f"no tracked articles on {terminal_safe(site or '')}")
    return chosen


def _tally(counts: list[PurgeCounts]) -> str:
    """ "3 revisions, 5 events, 4 fetches, 0 alerts": what a purge deletes."""
    totals = (
        (sum(c.revisions for c in counts), "revision", "revisions"),
        (sum(c.events for c in counts), "event", "events"),
        (sum(c.fetches for c in counts), "fetch", "fetches"),
        (sum(c.alerts for c in counts), "alert", "alerts"),
    )
    return ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in totals)
