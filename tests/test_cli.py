"""The history commands through click's CliRunner, against stores seeded through the Store API."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from redline.cli import COMMANDS, cli
from redline.crawler.diff import compare
from redline.storage import (
    ArticleStatus,
    Change,
    ChangeClass,
    ChangeKind,
    CrawlState,
    Error,
    EventKind,
    EventNote,
    FeedItem,
    Gone,
    Page,
    open_store,
)
from redline.storage.migrations import latest_version
from tests.conftest import NOW
from tests.records import check, revision

URL = "https://news.example/world/kursk-losses"
V1 = Page(
    headline="North Korean troops suffer losses in Kursk Oblast",
    byline=("Volodymyr Ivanyshyn",),
    published=NOW,
    body=("North Korean troops are experiencing mass casualties.", "Kirby said so on Dec. 27."),
    items=(FeedItem(key="a1", headline="Zelensky arrives", text="In South Africa.", time=NOW),),
)
V2 = Page(
    headline="North Korean troops suffer over 1,000 losses in Kursk Oblast",
    byline=("Volodymyr Ivanyshyn",),
    published=NOW,
    body=("North Korean troops are experiencing heavy casualties.", "Kirby said so on Dec. 27."),
    items=(
        FeedItem(
            key="a1",
            headline="Zelensky arrives",
            text="In South Africa.",
            time=NOW,
            updated="Updated: 8:10 AM",
        ),
    ),
)

CHANGES = (
    Change("headline", ChangeKind.CHANGED, ChangeClass.MINOR, V1.headline, V2.headline),
    Change("body", ChangeKind.CHANGED, ChangeClass.MINOR, words_added=1, words_removed=1),
    Change("item:a1", ChangeKind.CHANGED, ChangeClass.COSMETIC),
)


@pytest.fixture
def seeded(db_url: str) -> str:
    """A store with one article in two revisions and a later `gone` event."""
    store = open_store(db_url)
    article, _ = store.add_article(URL, NOW)
    store.add_article("https://news.example/other", NOW)
    store.record(revision(article.id, "f1", V1, raw_html=b"<html>v1</html>", next_at=NOW))
    store.record(
        revision(
            article.id, "f2", V2, base=1, changes=CHANGES, at=NOW + timedelta(hours=2), next_at=NOW
        )
    )
    store.record(
        check(
            article.id,
            "f3",
            Gone(),
            at=NOW + timedelta(days=2),
            next_at=NOW,
            http_status=410,
            status=ArticleStatus.GONE,
            events=[EventNote(EventKind.GONE, "HTTP 410")],
        )
    )
    store.close()
    return db_url


def run(db_url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--db", db_url, *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_add_then_list(db_url):
    code, out, _ = run(db_url, "add", URL, URL)
    assert code == 0 and out.splitlines() == [f"added: {URL}", f"already tracked: {URL}"]
    code, out, _ = run(db_url, "list", "--json")
    assert code == 0 and [json.loads(line)["url"] for line in out.splitlines()] == [URL]


def test_add_refuses_non_http_urls_with_one_line(db_url):
    code, out, err = run(db_url, "add", "file:///etc/passwd")
    assert code == 2 and out == ""  # a malformed argument: a usage error (README)
    assert err.strip().splitlines() == [
        "redline: error: Invalid value for 'URL...': not a trackable URL: only http and https "
        "URLs can be tracked, not 'file:///etc/passwd' (see 'cli add --help')"
    ]


def test_history_lists_revisions_changes_and_events(seeded):
    code, out, _ = run(seeded, "history", URL)
    assert code == 0
    assert "#1" in out and "#2" in out and "over 1,000 losses" in out
    assert "headline changed" in out and "gone" in out
    code, out, _ = run(seeded, "history", URL, "--json")
    data = json.loads(out)
    assert [r["revision"] for r in data["revisions"]] == [1, 2]
    assert {c["field"] for c in data["revisions"][1]["changes"]} >= {"headline", "body"}
    assert [e["kind"] for e in data["events"]] == ["first_seen", "gone"]


def test_unknown_url_is_a_clear_error(seeded):
    code, out, err = run(seeded, "history", "https://news.example/never")
    assert code == 1 and out == ""
    assert "not tracked: https://news.example/never" in err and "Traceback" not in err


def test_show_latest_and_a_given_revision(seeded):
    code, out, _ = run(seeded, "show", URL)
    assert code == 0 and "revision 2 of 2" in out and "heavy casualties" in out
    assert "Updated: 8:10 AM" in out
    code, out, _ = run(seeded, "show", URL, "--rev", "1", "--json")
    data = json.loads(out)
    assert data["revision"] == 1 and data["page"]["headline"] == V1.headline
    code, out, _ = run(seeded, "show", URL, "--rev", "1", "--html")
    assert code == 0 and out == "<html>v1</html>"


@pytest.mark.parametrize("rev", ["0", "3", "-1"])
def test_bad_revision_numbers_are_clear_errors(seeded, rev):
    code, _, err = run(seeded, "show", URL, "--rev", rev)
    assert code == 1 and f"no revision {rev} of {URL}: it has revisions 1 to 2" in err


def test_diff_is_word_level_and_plain_when_piped(seeded):
    code, out, _ = run(seeded, "diff", URL)
    assert code == 0 and "\x1b[" not in out  # CliRunner's stdout is not a terminal
    assert "== headline: changed" in out and "== body: changed" in out
    assert "mass" in out and "heavy" in out
    code, out, _ = run(seeded, "diff", URL, "--from", "1", "--to", "2", "--json")
    data = json.loads(out)
    assert (data["from"], data["to"]) == (1, 2)
    assert {"headline", "body", "item:a1"} <= {c["field"] for c in data["changes"]}


def test_diff_refuses_reversed_range(seeded):
    code, _, err = run(seeded, "diff", URL, "--from", "2", "--to", "1")
    assert code == 1 and "must be older" in err


def test_export_jsonl_and_csv(seeded):
    code, out, _ = run(seeded, "export")
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [(r["type"], r.get("revision"), r.get("kind")) for r in records] == [
        ("event", None, "first_seen"),
        ("event", None, "first_seen"),
        ("revision", 1, None),
        ("revision", 2, None),
        ("event", None, "gone"),
    ]
    second = records[3]
    assert second["url"] == URL and second["headline"] == V2.headline
    assert {"field": "headline", "kind": "changed"}.items() <= second["changes"][0].items()
    code, out, _ = run(seeded, "export", "--format", "csv", "--since", "2026-11-27T13:00:00Z")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["type"], r["revision"]) for r in rows] == [("revision", "2"), ("event", "")]
    assert "headline:changed:" in rows[0]["changes"]


SEO = "Kursk: North Korea loses 1,000 troops in a week, US says"


@pytest.fixture
def titled(db_url: str) -> str:
    """One article whose second revision set its SEO title apart from its headline."""
    store = open_store(db_url)
    article, _ = store.add_article(URL, NOW)
    store.record(revision(article.id, "f1", V1, next_at=NOW))
    v2 = replace(V1, title=SEO)
    changes = compare(V1, v2)
    at = NOW + timedelta(hours=2)
    store.record(revision(article.id, "f2", v2, base=1, changes=changes, at=at, next_at=NOW))
    store.close()
    return db_url


def test_history_show_diff_and_export_show_the_title(titled):
    code, out, _ = run(titled, "history", URL)
    assert code == 0 and f"title: {SEO}" in out and "title changed (rewrite)" in out
    data = json.loads(run(titled, "history", URL, "--json")[1])
    assert [r["title"] for r in data["revisions"]] == ["", SEO]
    code, out, _ = run(titled, "show", URL)
    assert code == 0 and f"{V1.headline}\ntitle: {SEO}\n" in out
    assert json.loads(run(titled, "show", URL, "--json")[1])["page"]["title"] == SEO
    assert "title:" not in run(titled, "show", URL, "--rev", "1")[1]
    code, out, _ = run(titled, "diff", URL)
    assert code == 0 and "== title: changed (rewrite)" in out and SEO.split(":")[0] in out
    (change,) = json.loads(run(titled, "diff", URL, "--json")[1])["changes"]
    assert (change["field"], change["old"], change["new"]) == ("title", V1.headline, SEO)
    records = [json.loads(line) for line in run(titled, "export")[1].splitlines()]
    assert [r["title"] for r in records if r["type"] == "revision"] == ["", SEO]
    rows = list(csv.DictReader(io.StringIO(run(titled, "export", "--format", "csv")[1])))
    assert [r["title"] for r in rows if r["type"] == "revision"] == ["", SEO]


def test_export_rejects_a_bad_since(seeded):
    code, _, err = run(seeded, "export", "--since", "last tuesday")
    assert code == 2 and "--since" in err


def test_hostile_text_cannot_drive_the_terminal(db_url):
    store = open_store(db_url)
    article, _ = store.add_article(URL, NOW)
    evil = Page(
        headline="Safe\x1b[2J\x1b]0;owned\x07 \u202eheadline",
        title="Title\x1b[31m \u202eevil",
        body=("x",),
    )
    store.record(revision(article.id, "f1", evil))
    store.close()
    for args in (("history", URL), ("show", URL), ("list",)):
        code, out, _ = run(db_url, *args)
        assert code == 0 and "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\x1b[2J" in run(db_url, "show", URL)[1]


def test_db_upgrade_is_idempotent_and_refuses_newer_schemas(db_url):
    code, out, _ = run(db_url, "db", "upgrade")
    assert code == 0 and f"from schema 0 to {latest_version('sqlite')}" in out
    code, out, _ = run(db_url, "db", "upgrade")
    assert code == 0 and "nothing to do" in out
    newer = latest_version("sqlite") + 1
    store = open_store(db_url)
    with store._tx(write=True) as tx:
        tx.execute(
            "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
            (newer, store._ts(NOW)),
        )
    store.close()
    code, _, err = run(db_url, "db", "upgrade")
    assert code == 1 and "newer than this Redline knows" in err
    code, _, err = run(db_url, "list")
    assert code == 1 and f"schema version {newer}" in err


def test_unreachable_database_is_one_line_not_a_traceback():
    code, out, err = run("postgresql://redline@127.0.0.1:1/nothing", "list")
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and "cannot connect to PostgreSQL" in err


def test_bad_config_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "redline.toml"
    bad.write_text("database_url = 3\nsurprise = true\n")
    result = CliRunner().invoke(cli, ["--config", str(bad), "list"])
    assert result.exit_code == 1 and "surprise: unknown setting" in result.stderr


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_every_command_has_help_with_an_example(command):
    result = CliRunner().invoke(cli, [command.name, "--help"])
    assert result.exit_code == 0
    if hasattr(command, "commands"):
        for sub in command.commands:
            sub_help = CliRunner().invoke(cli, [command.name, sub, "--help"])
            assert "Example" in sub_help.stdout
    else:
        assert "Example" in result.stdout


def test_export_since_an_age(seeded):
    code, out, _ = run(seeded, "export", "--since", "5000w")
    assert code == 0 and len(out.splitlines()) == 5
    everything = [json.loads(line) for line in run(seeded, "export")[1].splitlines()]
    cutoff = datetime.now(UTC) - timedelta(hours=1)
    code, out, _ = run(seeded, "export", "--since", "1h")
    recent = [r for r in everything if datetime.fromisoformat(r["time"]) >= cutoff]
    assert code == 0 and [json.loads(line) for line in out.splitlines()] == recent


def test_urls_are_tracked_under_their_canonical_form(db_url):
    messy = "HTTPS://News.Example:443/world/story?utm_source=rss&id=7&fbclid=x#comments"
    code, out, _ = run(db_url, "add", messy)
    assert code == 0 and out.strip() == "added: https://news.example/world/story?id=7"
    code, out, _ = run(db_url, "add", "https://news.example/world/story?id=7&utm_medium=email")
    assert out.strip() == "already tracked: https://news.example/world/story?id=7"
    code, out, _ = run(db_url, "history", messy)
    assert code == 0 and "https://news.example/world/story?id=7" in out


def test_status_shows_the_queue_and_errors_by_host(seeded):
    store = open_store(seeded)
    other = store.get_article("https://news.example/other")
    failed = CrawlState(error_count=1, last_error="timeout: no answer in 30 s")
    store.record(check(other.id, "e1", Error("timeout", "no answer in 30 s"), state=failed))
    store.close()
    code, out, _ = run(seeded, "status")
    assert code == 0 and "articles: 1 active, 1 gone" in out
    assert "due now: 1" in out and "news.example: 1 (timeout: no answer in 30 s)" in out
    data = json.loads(run(seeded, "status", "--json")[1])
    assert data["by_status"] == {"active": 1, "gone": 1} and data["due_now"] == 1


def test_status_names_articles_the_plain_fallback_read(seeded):
    """An article Redline's own cuts would have left empty is recorded all the same, read by
    the plain fallback; `status` says which, so that an operator can write a profile."""
    store = open_store(seeded)
    other = store.get_article("https://news.example/other")
    plain = replace(V1, extractor="redline/plain")
    store.record(revision(other.id, "p1", plain))
    store.close()
    code, out, _ = run(seeded, "status")
    assert code == 0 and "read by the plain fallback: 1 article(s)" in out
    assert "  https://news.example/other\n" in out
    code, out, _ = run(seeded, "show", "https://news.example/other")
    assert code == 0 and "read by the plain fallback" in out
    data = json.loads(run(seeded, "status", "--json")[1])
    assert data["plain_fallback_urls"] == ["https://news.example/other"]


def test_sources_add_and_list(db_url):
    code, out, _ = run(
        db_url,
        "sources",
        "add",
        "https://news.example/rss?utm_source=x",
        "--kind",
        "feed",
        "--every",
        "15m",
    )
    assert code == 0 and out.strip() == "added: feed https://news.example/rss every 900s"
    code, out, _ = run(db_url, "sources", "add", "https://news.example/live", "--kind", "live")
    assert out.strip() == "added live feed: https://news.example/live"
    data = [json.loads(line) for line in run(db_url, "sources", "list", "--json")[1].splitlines()]
    assert [(d["url"], d["kind"], d["every_seconds"]) for d in data] == [
        ("https://news.example/rss", "feed", 900)
    ]
    listed = json.loads(run(db_url, "list", "--json")[1])
    assert listed["url"] == "https://news.example/live" and listed["live"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--every", "soon"], "not a duration"),
        (["--pattern", "("], "not a regular expression"),
    ],
)
def test_sources_add_rejects_bad_values(db_url, args, message):
    code, _, err = run(db_url, "sources", "add", "https://news.example/", "--kind", "page", *args)
    assert code == 2 and message in err


def test_diff_of_hostile_text_cannot_drive_the_terminal(db_url):
    store = open_store(db_url)
    article, _ = store.add_article(URL, NOW)
    store.record(revision(article.id, "f1", Page(headline="Safe", body=("x",))))
    evil = Page(headline="Safe\x1b[2J\x07 \u202eowned", body=("x",))
    store.record(revision(article.id, "f2", evil, base=1))
    store.close()
    code, out, _ = run(db_url, "diff", URL)
    assert code == 0 and "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\x1b[2J" in out
