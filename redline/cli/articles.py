"""`redline add` and `redline list`: what is tracked."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from redline.cli.app import App, emit_json, terminal_safe, when
from redline.tracking import canonical
from storage import ArticleStatus


@click.command("add")
@click.argument("urls", nargs=-1, required=True, metavar="URL...")
@click.option("--live", is_flag=True, help="Track as a live feed (its items are the news).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per URL.")
@click.pass_obj
def add_command(app: App, urls: tuple[str, ...], live: bool, as_json: bool) -> None:
    """Track article URLs (http or https). Adding a tracked URL again changes nothing.

    \b
    Example:
      redline add https://kyivindependent.com/north-korean-troops-suffer-losses/
    """
    store = app.store()
    now = datetime.now(UTC)
    for url in urls:
        article, created = store.add_article(canonical(url), now, is_live=live)
        if as_json:
            emit_json({"url": article.url, "id": article.id, "created": created})
        else:
            click.echo(f"{'added' if created else 'already tracked'}: {terminal_safe(article.url)}")


@click.command("list")
@click.option(
    "--status",
    type=click.Choice([s.value for s in ArticleStatus]),
    help="Only articles with this status.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per article.")
@click.pass_obj
def list_command(app: App, status: str | None, as_json: bool) -> None:
    """List tracked articles with their revision count and next check.

    \b
    Example:
      redline list --status active
    """
    articles = app.store().list_articles(ArticleStatus(status) if status else None)
    if as_json:
        for a in articles:
            emit_json(
                {
                    "url": a.url,
                    "site": a.site,
                    "status": str(a.status),
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
            f"{a.revision_count:>4}  {a.status:<7}  {when(a.last_changed_at):<20}  "
            f"{when(a.next_check_at):<20}  {terminal_safe(a.url)}"
        )
