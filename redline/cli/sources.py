"""`redline sources`: where articles are discovered (feeds, sitemaps, section pages, live feeds)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from redline.cli.app import App, emit_json, terminal_safe, when
from redline.sources_sync import source_specs, sync_sources
from redline.storage import Source, SourceKind, SourceOrigin
from redline.tracking import canonical, check_pattern, source_interval


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
    """Add a discovery source, or change a known one's kind, interval and pattern. A live
    source is tracked as one article whose items are news.

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
    store = app.store(create=True)
    if kind == SourceKind.LIVE:
        article, created = store.add_article(canonical(url), now, is_live=True)
        click.echo(f"{'added' if created else 'already tracked'} live feed: {article.url}")
        return
    source, before = store.put_source(
        canonical(url), SourceKind(kind), seconds, now, pattern=pattern
    )
    shown = f"{source.kind} {terminal_safe(source.url)} every {source.every_seconds}s"
    if before is None:
        click.echo(f"added: {shown}")
    elif (before.kind, before.every_seconds, before.pattern) == (kind, seconds, pattern):
        click.echo(f"already known: {shown}")
    else:
        click.echo(f"updated: {shown} ({_was(before, source)})")


@sources_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per source.")
@click.pass_obj
def sources_list(app: App, as_json: bool) -> None:
    """List discovery sources: interval, where each came from (cli: `sources add`; config:
    the config file's [[sources]]), active or paused, last check and last error.

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
                    "enabled": s.enabled,
                    "origin": str(s.origin),
                    "last_checked_at": s.last_checked_at,
                    "next_check_at": s.next_check_at,
                    "last_error": s.last_error,
                }
            )
        else:
            click.echo(
                f"{s.kind:<8} every {s.every_seconds:>6}s  {s.origin:<6}"
                f"  {'active' if s.enabled else 'paused':<6}  last {when(s.last_checked_at)}"
                f"  {terminal_safe(s.url)}"
                + (f"  ({terminal_safe(s.last_error)})" if s.last_error else "")
            )


@sources_group.command("remove")
@click.argument("url")
@click.pass_obj
def sources_remove(app: App, url: str) -> None:
    """Forget a discovery source. The articles it found stay tracked, with their history.

    \b
    Example:
      redline sources remove https://example.com/feed/
    """
    source = app.store().remove_source(_known(app, url))
    click.echo(f"removed: {source.kind} {terminal_safe(source.url)}")
    if source.origin == SourceOrigin.CONFIG and app.config.path is not None:
        click.echo(
            f"redline: warning: {terminal_safe(source.url)} is declared in {app.config.path}:"
            " `redline run` adds it again unless it is taken out of the file",
            err=True,
        )


@sources_group.command("pause")
@click.argument("url")
@click.pass_obj
def sources_pause(app: App, url: str) -> None:
    """Stop reading a discovery source until `redline sources resume`.

    \b
    Example:
      redline sources pause https://example.com/feed/
    """
    source, changed = app.store().set_source_enabled(_known(app, url), False, datetime.now(UTC))
    click.echo(f"{'paused' if changed else 'already paused'}: {terminal_safe(source.url)}")
    if source.origin == SourceOrigin.CONFIG:
        click.echo(
            "redline: warning: a source of the config file is resumed by the next `redline run`"
            " or `check`: take it out of the file to keep it paused",
            err=True,
        )


@sources_group.command("resume")
@click.argument("url")
@click.pass_obj
def sources_resume(app: App, url: str) -> None:
    """Read a paused discovery source again, at once.

    \b
    Example:
      redline sources resume https://example.com/feed/
    """
    source, changed = app.store().set_source_enabled(_known(app, url), True, datetime.now(UTC))
    click.echo(f"{'resumed' if changed else 'not paused'}: {terminal_safe(source.url)}")


def sync_from_config(app: App) -> None:
    """Bring the config file's [[sources]] into the database (`run` and `check` start so),
    one info line on stderr for what changed."""
    specs = source_specs(app.config.sources, app.config.path)
    if not specs and not any(s.origin == SourceOrigin.CONFIG for s in app.store().list_sources()):
        return
    report = sync_sources(app.store(), specs, datetime.now(UTC))
    where = app.config.path or "the config file"
    for verb, urls in (("added", report.added), ("updated", report.updated)):
        if urls:
            click.echo(f"redline: info: {verb} from {where}: {_urls(urls)}", err=True)
    if report.paused:
        click.echo(
            f"redline: info: paused {len(report.paused)} source(s) no longer in {where}:"
            f" {_urls(report.paused)}",
            err=True,
        )


def _urls(urls: tuple[str, ...]) -> str:
    return ", ".join(terminal_safe(u) for u in urls)


def _known(app: App, url: str) -> str:
    """The URL a source is stored under: as given, or its canonical form."""
    store = app.store()
    for candidate in dict.fromkeys((url, canonical(url))):
        if any(s.url == candidate for s in store.list_sources()):
            return candidate
    raise click.ClickException(f"not a source: {terminal_safe(url)} (see `redline sources list`)")


def _was(before: Source, after: Source) -> str:
    """ "was 60s", "was feed every 60s, pattern '/world/'": what an update changed."""
    parts = []
    if before.kind != after.kind:
        parts.append(str(before.kind))
    if before.every_seconds != after.every_seconds or not parts:
        parts.append(f"{before.every_seconds}s")
    if before.pattern != after.pattern:
        parts.append(f"pattern {before.pattern!r}" if before.pattern else "no pattern")
    return "was " + ", ".join(parts)
