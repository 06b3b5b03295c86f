"""`redline db`: apply schema migrations (`upgrade`), shrink the database while the daemon
runs (`compact`), check every stored revision (`verify`), and show what it holds (`stats`)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta

import click

from redline.cli.app import App, RedlineError, emit_json, terminal_safe, when
from redline.storage import Compacted, DamagedRevision, StoreSizes, open_store
from redline.storage.delta import KEYFRAME_EVERY, MAX_KEYFRAME_EVERY
from redline.storage.migrations import latest_version
from redline.storage.open import check_schema
from redline.storage.sqlstore.compaction import BATCH
from redline.storage.sqlstore.fetchlog import FETCH_LOG_DAYS


@click.group("db")
def db_group() -> None:
    """Database maintenance."""


@db_group.command("upgrade")
@click.pass_obj
def upgrade_command(app: App) -> None:
    """Create the schema, or migrate it to this version's. Safe to run twice.

    Each migration runs in its own transaction; a newer schema than this version knows is
    refused and left untouched.

    \b
    Example:
      REDLINE_DATABASE_URL=postgresql://redline@db/redline redline db upgrade
    """
    store = open_store(app.config.database_url, check=False)
    try:
        before = store.schema_version()
        latest = latest_version(store.BACKEND)  # type: ignore[attr-defined]
        if before > latest:
            check_schema(store, create=False)  # raises SchemaTooNew with the full message
        applied = store.upgrade()
    finally:
        store.close()
    if applied:
        click.echo(f"upgraded {store.url} from schema {before} to {applied[-1]}")
    else:
        click.echo(f"{store.url} is at schema {before}, the latest: nothing to do")


@db_group.command("compact")
@click.option(
    "--fetch-days",
    type=click.IntRange(min=1),
    default=None,
    help="Roll up quiet checks older than this many days into daily counts"
    f" (default: [storage] fetch_log_days, else {FETCH_LOG_DAYS}).",
)
@click.option(
    "--batch",
    type=click.IntRange(min=1, max=1000),
    default=BATCH,
    show_default=True,
    help="Revisions re-encoded per transaction.",
)
@click.option(
    "--keyframe-every",
    type=click.IntRange(min=1, max=MAX_KEYFRAME_EVERY),
    default=None,
    help="A standalone copy every this many revisions; the rest stored against it"
    f" (default: [storage] keyframe_every, else {KEYFRAME_EVERY}).",
)
@click.pass_obj
def compact_command(
    app: App, fetch_days: int | None, batch: int, keyframe_every: int | None
) -> None:
    """Shrink the database while the daemon runs: re-encode revisions stored before schema 8
    against their article's keyframes, and roll old quiet checks up into daily counts.

    Every change is a short transaction (checks wait at most for one batch), what a revision
    says never changes (each re-encoding is decoded and compared before it is written, and
    keeps the revision's checksums), and an interrupted run resumes where it stopped.

    \b
    Example:
      redline db compact --fetch-days 30
    """
    keyframe_every = keyframe_every or app.config.keyframe_every
    fetch_days = fetch_days or app.config.fetch_log_days
    store = open_store(app.config.database_url, create=False, keyframe_every=keyframe_every)
    try:
        left = store.legacy_revisions()
        if left:
            click.echo(f"re-encoding {left} revisions stored before schema 8...")
        done = store.compact(batch=batch, progress=_progress(left))
        rolled = (
            store.roll_up_fetches(datetime.now(UTC), older_than=timedelta(days=fetch_days))
            if fetch_days
            else None
        )
    finally:
        store.close()
    if done.revisions or left:
        click.echo(
            f"revisions: {done.revisions} of {done.articles} articles given checksums,"
            f" {done.reencoded} stored against a keyframe:"
            f" {_size(done.bytes_before)} -> {_size(done.bytes_after)}"
            + (f"; {done.damaged} damaged, left as they are" if done.damaged else "")
        )
    else:
        click.echo("revisions: nothing to re-encode")
    if rolled is None:
        click.echo("fetch log: kept itemised ([storage] fetch_log_days = 0)")
    else:
        click.echo(
            f"fetch log: {rolled.checks} checks older than {fetch_days} days rolled up into"
            " daily counts"
        )


def _progress(total: int) -> Callable[[Compacted], None]:
    """Every tenth of the way, on stderr."""
    step = max(1, total // 10)
    shown = [0]

    def show(done: Compacted) -> None:
        if done.revisions >= shown[0] + step:
            shown[0] = done.revisions
            click.echo(f"  {done.revisions}/{total} revisions", err=True)

    return show


@db_group.command("verify")
@click.pass_obj
def verify_command(app: App) -> None:
    """Read every revision's Page and raw HTML back, each checked against its checksum, and
    name each one that does not decode to what was written (exit status 1).

    Safe while the daemon runs (read-only, in short transactions). Run it on a restored
    backup, or on an old disk; a damaged revision can be restored from a backup.

    \b
    Example:
      redline --db sqlite:////var/backups/redline/copy.sqlite db verify
    """

    def report(exc: DamagedRevision) -> None:
        RedlineError(terminal_safe(str(exc))).show()

    with closing(open_store(app.config.database_url, create=False)) as store:
        done = store.verify(damaged=report)
    if done.damaged:
        click.echo(f"{done.revisions:,} revisions read: {done.damaged} damaged (above)")
        raise SystemExit(1)
    click.echo(f"{done.revisions:,} revisions read back, Page and raw HTML: none damaged")


@db_group.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON.")
@click.pass_obj
def stats_command(app: App, as_json: bool) -> None:
    """Rows and bytes on disk per table (indexes included), bytes per revision, and how far
    back the fetch log goes.

    Reads every table's size from the database itself (SQLite: dbstat; PostgreSQL:
    pg_total_relation_size). Counting rows reads each table: seconds on a large database.

    \b
    Example:
      redline db stats
    """
    with closing(open_store(app.config.database_url, create=False)) as store:
        sizes = store.store_sizes()
    if as_json:
        emit_json(_stats_json(sizes))
        return
    click.echo(f"{'table':20s} {'rows':>12s} {'on disk':>10s}")
    for table in sizes.tables:
        rows = f"~{table.rows:,}" if table.estimated else f"{table.rows:,}"
        click.echo(f"{table.name:20s} {rows:>12s} {_size(table.bytes):>10s}")
    click.echo(f"{'total':20s} {'':>12s} {_size(sizes.total_bytes):>10s}")
    for line in _stats_lines(sizes):
        click.echo(line)


def _stats_lines(sizes: StoreSizes) -> list[str]:
    lines = []
    if sizes.bytes_per_revision is not None:
        content = sizes.table("revision_content")
        per = f"{_size(sizes.bytes_per_revision)} per revision, all tables"
        if content is not None:
            per += f" ({_size(content.bytes / sizes.revisions)} of it stored content)"
        lines.append(f"revisions: {sizes.revisions:,}; {per}")
    if sizes.legacy_revisions:
        lines.append(
            f"  {sizes.legacy_revisions:,} stored before schema 8: `redline db compact`"
            " re-encodes them"
        )
    lines.append(
        f"fetch log: {sizes.fetches:,} checks itemised since {when(sizes.oldest_fetch)};"
        f" quiet ones since {when(sizes.oldest_quiet)}"
    )
    if sizes.rolled_up_checks:
        lines.append(
            f"  {sizes.rolled_up_checks:,} older quiet checks rolled up into daily counts"
            f" since {sizes.oldest_rolled_up}"
        )
    return lines


def _stats_json(sizes: StoreSizes) -> dict[str, object]:
    return {
        "tables": [
            {"name": t.name, "rows": t.rows, "bytes": t.bytes, "estimated": t.estimated}
            for t in sizes.tables
        ],
        "total_bytes": sizes.total_bytes,
        "revisions": sizes.revisions,
        "bytes_per_revision": sizes.bytes_per_revision,
        "legacy_revisions": sizes.legacy_revisions,
        "fetches": sizes.fetches,
        "oldest_fetch": sizes.oldest_fetch,
        "oldest_quiet_check": sizes.oldest_quiet,
        "rolled_up_checks": sizes.rolled_up_checks,
        "oldest_rolled_up_day": None
        if sizes.oldest_rolled_up is None
        else str(sizes.oldest_rolled_up),
    }


def _size(value: float) -> str:
    """Binary units, named as such (what `du -h` and the benchmarks say)."""
    unit = "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
