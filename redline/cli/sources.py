"""`redline sources`: where articles are discovered (feeds, sitemaps, section pages, live feeds)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from redline.cli.app import App, emit_json, terminal_safe, when
from redline.tracking import canonical, check_pattern, source_interval
from storage import SourceKind


@click.group("sources")
def sources_group() -> None:
    """Where articles are discovered: feeds, sitemaps, section pages, live feeds."""


@sources_group.command("add")
@click.argument("url")
@click.option(
    "--kind",
    type=click.Choice([k.value for k in SourceKind]),
    required=True,
    help="feed (RSS/Atom), sitemap, page (links matching --pattern), or live.",
)
@click.option("--every", default="10m", show_default=True, help="How often: 90s, 10m, 6h, 1d.")
@click.option("--pattern", metavar="REGEX", help="Only links whose URL matches this.")
@click.pass_obj
def sources_add(app: App, url: str, kind: str, every: str, pattern: str | None) -> None:
    """Add a discovery source. A live source is tracked as one article whose items are news.

    \b
    Examples:
      redline sources add https://kyivindependent.com/feed/ --kind feed --every 10m
      redline sources add https://example.com/world/ --kind page --pattern '/world/20'
      redline sources add https://kyivindependent.com/news-feed/ --kind live
    """
    try:
        seconds = source_interval(every)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--every") from None
    try:
        check_pattern(pattern)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--pattern") from None
    now = datetime.now(UTC)
    store = app.store()
    if kind == SourceKind.LIVE:
        article, created = store.add_article(canonical(url), now, is_live=True)
        click.echo(f"{'added' if created else 'already tracked'} live feed: {article.url}")
        return
    source, created = store.add_source(
        canonical(url), SourceKind(kind), seconds, now, pattern=pattern
    )
    click.echo(
        f"{'added' if created else 'already known'}: {source.kind} {source.url} "
        f"every {source.every_seconds}s"
    )


@sources_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per source.")
@click.pass_obj
def sources_list(app: App, as_json: bool) -> None:
    """List discovery sources with their interval, last check and last error.

    \b
    Example:
      redline sources list
    """
    for s in app.store().list_sources():
        if as_json:
            emit_json(
                {
                    "url": s.url,
                    "kind": str(s.kind),
                    "every_seconds": s.every_seconds,
                    "pattern": s.pattern,
                    "last_checked_at": s.last_checked_at,
                    "next_check_at": s.next_check_at,
                    "last_error": s.last_error,
                }
            )
        else:
            click.echo(
                f"{s.kind:<8} every {s.every_seconds:>6}s  last {when(s.last_checked_at)}"
                f"  {terminal_safe(s.url)}"
                + (f"  ({terminal_safe(s.last_error)})" if s.last_error else "")
            )
