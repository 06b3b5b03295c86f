"""`redline history`, `redline show` and `redline diff`: reading an article's versions."""

from __future__ import annotations

import sys

import click

from redline.cli.app import App, emit_json, terminal_safe, use_color, when
from redline.cli.urls import TRACKABLE_URL
from redline.storage import Article, Page, Revision
from redline.storage.codec import change_to_dict, page_to_dict

URL_ARG = click.argument("url", metavar="URL", type=TRACKABLE_URL)
JSON_OPT = click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON.")


@click.command("history")
@URL_ARG
@JSON_OPT
@click.pass_obj
def history_command(app: App, url: str, as_json: bool) -> None:
    """List an article's revisions, with what changed in each, and what happened to its URL.

    \b
    Example:
      redline history https://kyivindependent.com/some-story/
    """
    article = app.article(url)
    store = app.store()
    revisions = store.history(article.id)
    events = store.events(article.id)
    if as_json:
        emit_json(
            {
                "url": article.url,
                "status": str(article.status),
                "revisions": [
                    {
                        "revision": r.number,
                        "fetched_at": r.fetched_at,
                        "headline": r.headline,
                        "title": r.title,
                        "content_hash": r.content_hash,
                        "changes": [
                            {"field": c.field, "kind": str(c.kind), "class": str(c.class_)}
                            for c in r.changes
                        ],
                    }
                    for r in revisions
                ],
                "events": [{"at": e.at, "kind": str(e.kind), "detail": e.detail} for e in events],
            }
        )
        return
    click.echo(f"{terminal_safe(article.url)}  ({article.status}, {len(revisions)} revisions)")
    for r in revisions:
        what = ", ".join(f"{c.field} {c.kind} ({c.class_})" for c in r.changes) or "first version"
        click.echo(f"  #{r.number:<3} {when(r.fetched_at)}  {terminal_safe(r.headline)}")
        if r.title:
            click.echo(f"        title: {terminal_safe(r.title)}")
        click.echo(f"        {terminal_safe(what)}")
    for e in events:
        click.echo(f"  event {when(e.at)}  {e.kind}  {terminal_safe(e.detail)}")


def _pick(app: App, article: Article, number: int | None) -> Revision:
    count = article.revision_count
    if count == 0:
        raise click.ClickException(f"{article.url} has no revisions yet (it was never fetched)")
    number = count if number is None else number
    if not 1 <= number <= count:
        raise click.ClickException(
            f"no revision {number} of {article.url}: it has revisions 1 to {count}"
        )
    return app.store().revision(article.id, number)


@click.command("show")
@URL_ARG
@click.option("--rev", "number", type=int, metavar="N", help="Revision number (default: latest).")
@click.option("--html", "raw", is_flag=True, help="Print the raw HTML the revision came from.")
@JSON_OPT
@click.pass_obj
def show_command(app: App, url: str, number: int | None, raw: bool, as_json: bool) -> None:
    """Show one revision of an article: headline, title, byline, dates, body and live-feed items.

    \b
    Example:
      redline show https://kyivindependent.com/some-story/ --rev 2
    """
    article = app.article(url)
    revision = _pick(app, article, number)
    if raw:
        html = app.store().raw_html(article.id, revision.number)
        if html is None:
            raise click.ClickException(f"revision {revision.number} kept no raw HTML")
        sys.stdout.buffer.write(html)
        return
    if as_json:
        emit_json(
            {
                "url": article.url,
                "revision": revision.number,
                "fetched_at": revision.fetched_at,
                "content_hash": revision.content_hash,
                "page": page_to_dict(revision.page),
                "changes": [change_to_dict(c) for c in revision.changes],
            }
        )
        return
    click.echo(
        f"{terminal_safe(article.url)}  revision {revision.number} of "
        f"{article.revision_count}, fetched {when(revision.fetched_at)}"
    )
    click.echo(_render_page(revision.page))


def _render_page(page: Page) -> str:
    lines = [f"\n{page.headline}"]
    if page.title:
        lines.append(f"title: {page.title}")
    if page.byline:
        lines.append(f"by {', '.join(page.byline)}")
    dates = [
        f"published {when(page.published)}" if page.published else "",
        f"updated {when(page.updated)}" if page.updated else "",
    ]
    if any(dates):
        lines.append("  ".join(d for d in dates if d))
    if page.extractor == "redline/plain":
        lines.append("read by the plain fallback: Redline's own cuts kept far less of this page")
    lines.extend(["", *(f"{p}\n" for p in page.body)])
    for item in page.items:
        marker = f" ({item.updated})" if item.updated else ""
        lines.append(f"* {when(item.time)}{marker}  {item.headline}\n  {item.text}\n")
    return terminal_safe("\n".join(lines))


@click.command("diff")
@URL_ARG
@click.option("--from", "start", type=int, metavar="N", help="Older revision (default: TO - 1).")
@click.option("--to", "end", type=int, metavar="M", help="Newer revision (default: latest).")
@click.option(
    "--context",
    type=click.IntRange(min=0),
    metavar="N",
    help="Unchanged paragraphs shown around each change  [default: 1]",
)
@click.option("--full", is_flag=True, help="Show every paragraph, changed or not.")
@JSON_OPT
@click.pass_obj
def diff_command(
    app: App,
    url: str,
    start: int | None,
    end: int | None,
    context: int | None,
    full: bool,
    as_json: bool,
) -> None:
    """Show what changed between two revisions, word by word: the changed paragraphs with
    --context paragraphs around them (the others counted on a line of their own), or --full.

    Coloured on a terminal; plain [-removed-]{+added+} markers when piped. --json gives each
    change's whole old and new text and its word-level operations (see docs/diff.md).

    \b
    Example:
      redline diff https://kyivindependent.com/some-story/ --from 1 --to 3
    """
    from redline.crawler import (
        diff as differ,  # loaded only when diffing: keeps other commands quick
    )
    from redline.crawler.diff.render import render_ops

    if full and context is not None:
        raise click.UsageError("--full and --context cannot be used together: pick one")
    article = app.article(url)
    new = _pick(app, article, end)
    start = new.number - 1 if start is None else start
    old = None if start == 0 else _pick(app, article, start)
    if old is not None and old.number >= new.number:
        raise click.ClickException(f"--from ({old.number}) must be older than --to ({new.number})")
    changes = differ.compare(old.page if old else None, new.page)
    old_body = old.page.text if old else ""
    diffs = [differ.diff_change(c, old_body if c.field == "body" else None) for c in changes]
    if as_json:
        emit_json(
            {
                "url": article.url,
                "from": old.number if old else 0,
                "to": new.number,
                "changes": [
                    change_to_dict(c) | {"old": d.old, "new": d.new, "ops": render_ops(d)}
                    for c, d in zip(changes, diffs, strict=True)
                ],
            }
        )
        return
    color = use_color()
    shown = None if full else (1 if context is None else context)
    click.echo(f"{terminal_safe(article.url)}  revision {old.number if old else 0} -> {new.number}")
    if not changes:
        click.echo("no changes")
    for change, text_diff in zip(changes, diffs, strict=True):
        click.echo(f"\n== {terminal_safe(change.field)}: {change.kind} ({change.class_})")
        # render_terminal escapes scraped control and bidi characters itself
        click.echo(differ.render_terminal(text_diff, color=color, context=shown))
