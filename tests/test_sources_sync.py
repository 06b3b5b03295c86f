"""The config file's [[sources]] tables brought into the database: checked like `redline
sources add`, then added, updated, and paused once gone from the file; on both backends,
in-process and through `redline check` at the start of a pass."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from redline.cli import cli
from redline.config import ConfigError
from redline.sources_sync import SourceSpec, source_specs, sync_sources
from redline.storage import SourceKind, SourceOrigin
from tests.conftest import NOW

FEED = "https://news.example.org/feed.xml"
MAP = "https://news.example.org/sitemap.xml"
LIVE = "https://news.example.org/live"
FILE = Path("/etc/redline.toml")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"kind": "feed"}, "url must be a non-empty string"),
        ({"url": FEED}, "kind must be one of feed, sitemap, page, live, not None"),
        ({"url": FEED, "kind": "rss"}, "kind must be one of"),
        ({"url": FEED, "kind": "feed", "every": "0s"}, "must be positive"),
        ({"url": FEED, "kind": "feed", "every": "400d"}, "an interval must be from 1s to 365d"),
        ({"url": FEED, "kind": "feed", "every": "soon"}, ""),
        ({"url": FEED, "kind": "page", "pattern": "(["}, "not a regular expression"),
        ({"url": FEED, "kind": "page", "pattern": 3}, "pattern must be a string"),
    ],
)
def test_a_bad_table_is_an_error_naming_the_file_and_the_table(table, message):
    tables = [{"url": MAP, "kind": "sitemap"}, table]
    with pytest.raises(ConfigError) as raised:
        source_specs(tables, FILE)
    text = str(raised.value)
    assert text.startswith(f"{FILE}: [[sources]] #2") and message in text
    assert "\n" not in text


def test_tables_are_checked_and_canonical():
    specs = source_specs(
        [
            {"url": FEED + "?utm_source=x", "kind": "feed", "every": "5m"},
            {"url": MAP, "kind": "sitemap"},
        ],
        FILE,
    )
    assert specs == [
        SourceSpec(FEED, SourceKind.FEED, 300),
        SourceSpec(MAP, SourceKind.SITEMAP, 600),
    ]
    with pytest.raises(ConfigError, match="declared twice"):
        source_specs([{"url": FEED, "kind": "feed"}, {"url": FEED, "kind": "page"}], FILE)


def test_sync_adds_updates_pauses_and_resumes(store):
    feed, sitemap = SourceSpec(FEED, SourceKind.FEED, 60), SourceSpec(MAP, SourceKind.SITEMAP, 600)
    report = sync_sources(store, [feed, sitemap, SourceSpec(LIVE, SourceKind.LIVE, 60)], NOW)
    assert (report.added, report.updated, report.paused) == ((FEED, MAP, LIVE), (), ())
    assert store.get_article(LIVE).is_live
    assert {s.url: s.origin for s in store.list_sources()} == {
        FEED: SourceOrigin.CONFIG,
        MAP: SourceOrigin.CONFIG,
    }
    assert sync_sources(store, [feed, sitemap], NOW) == type(report)()  # nothing to do
    later = NOW + timedelta(hours=1)
    faster = SourceSpec(FEED, SourceKind.FEED, 30, pattern="/20")
    report = sync_sources(store, [faster], later)
    assert (report.added, report.updated, report.paused) == ((), (FEED,), (MAP,))
    got = {s.url: s for s in store.list_sources()}
    assert (got[FEED].every_seconds, got[FEED].pattern, got[FEED].enabled) == (30, "/20", True)
    assert got[MAP].enabled is False
    assert sync_sources(store, [faster], later).paused == ()  # said once
    report = sync_sources(store, [faster, sitemap], later)  # back in the file: resumed
    assert report.updated == (MAP,) and store.get_source(MAP).enabled


def test_sync_leaves_cli_sources_alone_and_claims_a_declared_one(store):
    store.put_source(MAP, SourceKind.SITEMAP, 600, NOW)
    store.put_source(FEED, SourceKind.FEED, 600, NOW)
    report = sync_sources(store, [SourceSpec(FEED, SourceKind.FEED, 60)], NOW)
    assert (report.added, report.updated, report.paused) == ((), (FEED,), ())
    assert store.get_source(MAP).origin == SourceOrigin.CLI and store.get_source(MAP).enabled
    assert store.get_source(FEED).origin == SourceOrigin.CONFIG
    store.put_source(FEED, SourceKind.FEED, 90, NOW)  # `sources add` keeps it the file's
    assert store.get_source(FEED).origin == SourceOrigin.CONFIG


def run(db_url: str, config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--db", db_url, "--config", str(config), *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_check_syncs_the_config_file_first(db_url, tmp_path):
    config = tmp_path / "redline.toml"
    config.write_text(
        f'[[sources]]\nurl = "{FEED}"\nkind = "feed"\nevery = "1m"\n\n'
        f'[[sources]]\nurl = "{MAP}"\nkind = "sitemap"\n'
    )
    code, out, err = run(db_url, config, "check", "--due")
    assert code == 0 and out == "nothing to check\n"
    assert f"added from {config}: {FEED}, {MAP}" in err
    code, out, _ = run(db_url, config, "sources", "list", "--json")
    rows = {r["url"]: r for r in map(json.loads, out.splitlines())}
    assert {u: (r["origin"], r["every_seconds"]) for u, r in rows.items()} == {
        FEED: ("config", 60),
        MAP: ("config", 600),
    }
    code, out, _ = run(db_url, config, "sources", "list")
    assert code == 0 and all("config" in line for line in out.splitlines())
    config.write_text(f'[[sources]]\nurl = "{FEED}"\nkind = "feed"\nevery = "5m"\n')
    code, _, err = run(db_url, config, "check", "--due")
    assert code == 0
    assert f"updated from {config}: {FEED}" in err
    (paused,) = [line for line in err.splitlines() if "paused" in line]
    assert paused == f"redline: info: paused 1 source(s) no longer in {config}: {MAP}"
    code, _, err = run(db_url, config, "check", "--due")
    assert code == 0 and "redline: info" not in err  # nothing changed: nothing said


def test_a_bad_sources_table_stops_check_with_one_line(db_url, tmp_path):
    config = tmp_path / "redline.toml"
    config.write_text(f'[[sources]]\nurl = "{FEED}"\nkind = "feed"\nevery = "never"\n')
    code, out, err = run(db_url, config, "check", "--due")
    assert code == 1 and out == ""
    (line,) = err.strip().splitlines()
    assert f"{config}: [[sources]] #1" in line and "never" in line
