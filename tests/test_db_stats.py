"""`redline db stats`, on both backends: rows and bytes on disk per table, bytes per revision,
and how far back the fetch log goes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from redline.cli import cli
from redline.storage import NotModified, Page, open_store
from tests.records import check, revision

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
URL = "https://news.example/politics/budget"


def history(db_url: str) -> None:
    """Two articles of 3 revisions with raw HTML, and 40 quiet checks over 40 days."""
    with open_store(db_url) as store:
        for name in ("a", "b"):
            article, _ = store.add_article(f"{URL}/{name}", NOW - timedelta(days=50))
            for n in range(1, 4):
                page = Page(headline=f"{name} {n}", body=("Same.", f"Paragraph {n}."))
                html = f"<html><p>Paragraph {n}</p>{'<li>menu</li>' * 100}</html>".encode()
                at = NOW - timedelta(days=45 - n)
                store.record(
                    revision(article.id, f"{name}{n}", page, base=n - 1, raw_html=html, at=at)
                )
        for day in range(40, 0, -1):
            at = NOW - timedelta(days=day)
            store.record(check(article.id, f"q{day}", NotModified(), at=at))
        store.roll_up_fetches(NOW)


def test_db_stats_shows_tables_bytes_per_revision_and_the_fetch_log(db_url):
    history(db_url)
    result = CliRunner().invoke(cli, ["--db", db_url, "db", "stats"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    rows = {line.split()[0]: line.split()[1] for line in lines[1:] if line.split()[0] != "total"}
    assert rows["revisions"] == "6" and rows["revision_content"] == "6"
    assert rows["fetches"] == "36"  # 6 revisions' checks, the last 30 days' quiet ones
    assert "revisions: 6;" in result.stdout and "per revision, all tables" in result.stdout
    assert "fetch log: 36 checks itemised since 2026-10-14 12:00:00Z" in result.stdout
    assert "quiet ones since 2026-10-28 12:00:00Z" in result.stdout
    assert "10 older quiet checks rolled up into daily counts since 2026-10-18" in result.stdout


def test_db_stats_json_adds_up(db_url):
    history(db_url)
    result = CliRunner().invoke(cli, ["--db", db_url, "db", "stats", "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    tables = {t["name"]: t for t in stats["tables"]}
    assert tables["revisions"]["rows"] == 6 and tables["fetch_days"]["rows"] == 10
    assert all(t["bytes"] > 0 for t in tables.values())
    assert sum(t["bytes"] for t in stats["tables"]) <= stats["total_bytes"]
    assert stats["bytes_per_revision"] == stats["total_bytes"] / 6
    assert stats["legacy_revisions"] == 0 and stats["rolled_up_checks"] == 10
    assert stats["oldest_quiet_check"] == "2026-10-28T12:00:00+00:00"
