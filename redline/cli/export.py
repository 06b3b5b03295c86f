"""`redline export`: every revision and event as JSON lines or CSV, for researchers."""

from __future__ import annotations

import csv
import heapq
import json
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import click

from redline.cli.app import App, RedlineError, emit_json, terminal_safe
from redline.durations import parse_duration
from redline.storage import DamagedRevision, Event, Revision, Store
from redline.storage.codec import page_to_dict

CSV_COLUMNS = (
    "type",
    "url",
    "revision",
    "time",
    "kind",
    "headline",
    "title",
    "byline",
    "published",
    "updated",
    "body",
    "items",
    "changes",
    "detail",
)


def parse_since(value: str, now: datetime) -> datetime:
    """An ISO 8601 date or time (UTC unless it says otherwise), or an age like 30m, 24h, 7d."""
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    try:
        if parsed is None and text[-1:] in ("s", "m", "h", "d", "w"):  # a bare 2026 is a year
            return now - parse_duration(text)
        if parsed is None:
            raise ValueError(text)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is neither an ISO 8601 time (2026-11-27, 2026-11-27T09:30+02:00) "
            "nor an age (30m, 24h, 7d)",
            param_hint="--since",
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def revision_record(url: str, rev: Revision) -> dict[str, Any]:
    page = page_to_dict(rev.page)
    page["page_kind"] = page.pop("kind")  # "kind" names an event's kind in the same stream
    return {
        "type": "revision",
        "url": url,
        "revision": rev.number,
        "time": rev.fetched_at,
        "content_hash": rev.content_hash,
        **page,
        "changes": [
            {
                "field": c.field,
                "kind": str(c.kind),
                "class": str(c.class_),
                "words_added": c.words_added,
                "words_removed": c.words_removed,
                "similarity": c.similarity,
                "notes": list(c.notes),
                "stealth": c.stealth,
                "coarse": c.coarse,
            }
            for c in rev.changes
        ],
    }


def event_record(url: str, event: Event) -> dict[str, Any]:
    return {
        "type": "event",
        "url": url,
        "time": event.at,
        "kind": str(event.kind),
        "detail": event.detail,
    }


def records(
    store: Store,
    since: datetime | None,
    damaged: Callable[[DamagedRevision], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Revisions and events merged in time order (an event first on a tie: `first_seen` comes
    before the first revision), streamed in constant memory. A damaged revision is handed to
    `damaged` and left out (without it, it raises)."""
    revisions = (revision_record(u, r) for u, r in store.iter_revisions(since, damaged=damaged))
    events = (event_record(u, e) for u, e in store.iter_events(since))
    return heapq.merge(events, revisions, key=lambda rec: rec["time"])


# A cell starting with one of these is a formula to Excel, LibreOffice or Google Sheets
# (OWASP "CSV Injection"): scraped text must not run as one.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A text cell that a spreadsheet would read as a formula gets a leading single quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_row(rec: dict[str, Any]) -> dict[str, Any]:
    row = {key: rec.get(key, "") for key in CSV_COLUMNS}
    row["time"] = rec["time"].isoformat()
    if rec["type"] == "revision":
        row["byline"] = "; ".join(rec["byline"])
        row["body"] = "\n\n".join(rec["body"])
        row["items"] = json.dumps(rec["items"], ensure_ascii=False) if rec["items"] else ""
        row["changes"] = "; ".join(f"{c['field']}:{c['kind']}:{c['class']}" for c in rec["changes"])
    return {key: csv_cell(value) for key, value in row.items()}


@click.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    help="JSON lines, or CSV with one row per record.",
)
@click.option("--since", metavar="TIME", help="Only records from TIME on: ISO 8601 or 30m/24h/7d.")
@click.pass_obj
def export_command(app: App, fmt: str, since: str | None) -> None:
    """Export every revision and event: URL, revision number, times, the page's fields and
    its changes (field, kind, class), one record per line.

    \b
    Examples:
      redline export --since 7d > last-week.jsonl
      redline export --format csv --since 2026-11-01 > november.csv

    In CSV, a cell starting with = + - @, a tab or a carriage return gets a leading ' so that
    no spreadsheet runs it as a formula (JSON lines are unchanged).

    A revision whose stored content is damaged is left out with one line on stderr naming it,
    the export goes on, and it exits with status 1.
    """
    start = parse_since(since, datetime.now(UTC)) if since else None
    left_out: list[DamagedRevision] = []

    def report(exc: DamagedRevision) -> None:
        left_out.append(exc)
        RedlineError(f"{terminal_safe(str(exc))}; left out of the export").show()

    stream = records(app.store(), start, report)
    if fmt == "jsonl":
        for rec in stream:
            emit_json(rec)
    else:
        # RFC 4180 line ends: a field holding a carriage return is then quoted, not split in two
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        for rec in stream:
            writer.writerow(csv_row(rec))
    if left_out:
        raise SystemExit(1)
