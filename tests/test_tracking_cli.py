"""Managing what is tracked, through the CLI on both backends: remove (and purge), pause,
resume, and the `sources` commands that update, pause, resume and remove a source."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from redline.cli import cli
from redline.storage import (
    ArticleStatus,
    EventKind,
    EventNote,
    Gone,
    NotFound,
    Page,
    PlannedAlert,
    StorageError,
    open_store,
)
from tests.conftest import NOW
from tests.records import check, revision
from tests.seeded import story

URL = "https://news.example.org/2026/12/05/minister"
OTHER = "https://news.example.org/2026/12/05/other"
ELSEWHERE = "https://elsewhere.example.com/story"
FEED = "https://news.example.org/feed.xml"
DAY = timedelta(days=1)


def run(db_url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--db", db_url, *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def two_stories(db_url: str) -> str:
    """Two articles with three revisions each (searchable), and a third with none."""
    store = open_store(db_url)
    article_id = story(store, URL)
    story(store, OTHER)
    store.add_article(ELSEWHERE, NOW)
    page = Page(headline="Minister quits", body=("Gone.",))
    alerts = [
        PlannedAlert("edits", "log", ("headline_changed",), NOW),
        PlannedAlert("edits", "log", ("article_gone",), NOW, event=0),
    ]
    gone = EventNote(EventKind.GONE, "HTTP 410")
    store.record(
        revision(article_id, "f4", page, base=3, alerts=alerts, events=[gone], at=NOW + DAY)
    )
    store.close()
    return db_url


def kinds(db_url: str, url: str) -> list[EventKind]:
    store = open_store(db_url)
    try:
        return [e.kind for e in store.events(store.get_article(url).id)]
    finally:
        store.close()


def listed(db_url: str) -> dict[str, dict[str, object]]:
    code, out, _ = run(db_url, "list", "--json")
    assert code == 0
    return {row["url"]: row for row in map(json.loads, out.splitlines())}


# --- remove ---------------------------------------------------------------------------------------
def test_remove_stops_tracking_and_keeps_the_history(two_stories):
    code, out, _ = run(two_stories, "remove", URL)
    assert (code, out) == (0, f"stopped: {URL} (history kept)\n")
    assert listed(two_stories)[URL]["state"] == "stopped"
    assert kinds(two_stories, URL)[-1] == EventKind.STOPPED
    code, out, _ = run(two_stories, "history", URL)
    assert code == 0 and "Minister quits" in out
    for args in (("show", URL), ("diff", URL, "--from", "1", "--to", "3"), ("export",)):
        code, out, _ = run(two_stories, *args)
        assert code == 0 and out
    code, out, _ = run(two_stories, "list", "--status", "stopped")
    assert code == 0 and URL in out and OTHER not in out
    code, out, _ = run(two_stories, "remove", URL)
    assert (code, out) == (0, f"already stopped: {URL}\n")
    assert kinds(two_stories, URL).count(EventKind.STOPPED) == 1


def test_remove_of_an_unknown_url_changes_nothing(two_stories):
    code, out, err = run(two_stories, "remove", URL, "https://news.example.org/never")
    assert code == 1 and out == ""
    assert "not tracked: https://news.example.org/never" in one_line(err)
    assert listed(two_stories)[URL]["state"] == "active"  # all URLs are checked first


def test_purge_without_yes_says_what_it_would_delete_and_deletes_nothing(two_stories):
    code, out, err = run(two_stories, "remove", "--purge", URL)
    assert code == 1 and out == ""
    line = one_line(err)
    assert URL in line and "4 revisions" in line and "2 alerts" in line and "--yes" in line
    assert listed(two_stories)[URL]["revisions"] == 4
    code, _, err = run(two_stories, "remove", "--yes", URL)
    assert code == 2 and "--yes only confirms --purge" in one_line(err)


def test_purge_with_yes_deletes_the_whole_history_of_that_article_only(two_stories):
    store = open_store(two_stories)
    gone = store.get_article(URL).id
    kept = store.get_article(OTHER).id
    assert len(store.search("minister").rows) == 2
    store.close()
    code, out, _ = run(two_stories, "remove", "--purge", "--yes", URL)
    assert code == 0 and out.startswith(f"purged: {URL} (4 revisions, ")
    assert out.endswith(", 2 alerts deleted)\n")
    store = open_store(two_stories)
    try:
        with pytest.raises(NotFound):
            store.get_article(URL)
        with store._tx() as tx:
            for table in ("revisions", "events", "fetches", "alerts", "article_urls"):
                sql = f"SELECT count(*) AS n FROM {table} WHERE article_id = ?"
                assert tx.one(sql, (gone,))["n"] == 0, table
            assert tx.one("SELECT count(*) AS n FROM purges")["n"] == 0
            assert tx.one("SELECT count(*) AS n FROM revision_content")["n"] == 3
        assert [h.article_id for h in store.search("minister").rows] == [kept]
        assert len(store.history(kept)) == 3
    finally:
        store.close()
    code, _, err = run(two_stories, "history", URL)
    assert code == 1 and "not tracked" in one_line(err)


def test_revisions_stay_append_only_outside_a_purge(two_stories):
    store = open_store(two_stories)
    article_id = store.get_article(OTHER).id
    statements = (
        "DELETE FROM revisions WHERE article_id = ?",
        "DELETE FROM revision_content WHERE revision_id IN"
        " (SELECT id FROM revisions WHERE article_id = ?)",
        "UPDATE revisions SET headline = 'x' WHERE article_id = ?",
    )
    try:
        for sql in statements:
            with pytest.raises(StorageError, match="append-only"), store._tx(write=True) as tx:
                tx.execute(sql, (article_id,))
        # Even with the article's purge marker, an update is refused; and a marker for one
        # article lets no other article's revisions go.
        for sql in (statements[2], "DELETE FROM revisions WHERE article_id <> ?"):
            with pytest.raises(StorageError, match="append-only"), store._tx(write=True) as tx:
                tx.execute("INSERT INTO purges (article_id) VALUES (?)", (article_id,))
                tx.execute(sql, (article_id,))
        assert len(store.history(article_id)) == 3
    finally:
        store.close()


# --- pause and resume -----------------------------------------------------------------------------
def test_pause_keeps_an_article_from_being_claimed_and_resume_makes_it_due(two_stories):
    code, out, _ = run(two_stories, "pause", URL)
    assert (code, out) == (0, f"paused: {URL}\n")
    assert listed(two_stories)[URL]["state"] == "paused"
    assert listed(two_stories)[URL]["status"] == "active"
    store = open_store(two_stories)
    article_id = store.get_article(URL).id
    later = datetime.now(UTC) + timedelta(days=30)
    try:
        assert article_id not in [
            c.article_id for c in store.claim_due(later, "w", limit=10, lease_seconds=60)
        ]
        assert store.claim_ids([article_id], later, "w", lease_seconds=60) == []
        assert store.queue_gauges(later)["due"] == store.queue_status(later)["due_now"] == 2
        store.release_all()
    finally:
        store.close()
    code, out, _ = run(two_stories, "pause", URL)
    assert (code, out) == (0, f"already paused: {URL}\n")
    before = datetime.now(UTC)
    code, out, _ = run(two_stories, "resume", URL)
    assert (code, out) == (0, f"resumed: {URL} (due now)\n")
    store = open_store(two_stories)
    try:
        article = store.get_article(URL)
        assert not article.paused and article.next_check_at is not None
        assert before - timedelta(seconds=1) <= article.next_check_at <= datetime.now(UTC)
        due = store.claim_due(datetime.now(UTC), "w", limit=10, lease_seconds=60)
        assert article_id in [c.article_id for c in due]
    finally:
        store.close()
    assert kinds(two_stories, URL)[-2:] == [EventKind.PAUSED, EventKind.RESUMED]
    code, out, _ = run(two_stories, "resume", URL)
    assert (code, out) == (0, f"not paused: {URL}\n")


def test_pause_and_resume_a_whole_site(two_stories):
    code, out, _ = run(two_stories, "pause", "--site", "www.News.example.org")
    assert code == 0 and out.splitlines() == [f"paused: {URL}", f"paused: {OTHER}"]
    code, out, _ = run(two_stories, "list", "--status", "paused")
    assert code == 0 and URL in out and OTHER in out and ELSEWHERE not in out
    code, out, _ = run(two_stories, "list", "--status", "active")
    assert code == 0 and ELSEWHERE in out and URL not in out
    code, out, _ = run(two_stories, "resume", "--site", "news.example.org")
    assert code == 0 and out.splitlines() == [
        f"resumed: {URL} (due now)",
        f"resumed: {OTHER} (due now)",
    ]
    code, _, err = run(two_stories, "pause", "--site", "nowhere.example")
    assert code == 1 and "no tracked articles on nowhere.example" in one_line(err)
    for args in (("pause",), ("resume", URL, "--site", "news.example.org")):
        code, _, err = run(two_stories, *args)
        assert code == 2 and "--site" in one_line(err)


def test_resume_tracks_a_removed_article_again(two_stories):
    run(two_stories, "remove", URL)
    code, out, _ = run(two_stories, "resume", URL)
    assert (code, out) == (0, f"resumed: {URL} (due now)\n")
    assert listed(two_stories)[URL]["status"] == str(ArticleStatus.ACTIVE)
    assert kinds(two_stories, URL)[-2:] == [EventKind.STOPPED, EventKind.RESUMED]


def test_operator_events_do_not_hide_what_a_check_last_saw(db_url):
    """The checker reads an article's last event (gone, unavailable) to decide what a check
    means: a pause and a resume in between must not hide it."""
    store = open_store(db_url)
    try:
        article, _ = store.add_article(URL, NOW)
        gone = EventNote(EventKind.GONE, "HTTP 410")
        store.record(
            check(article.id, "f1", Gone(), http_status=410, status=ArticleStatus.GONE,
                  events=[gone], next_at=NOW)
        )  # fmt: skip
        store.pause_article(article.id, NOW)
        store.resume_article(article.id, NOW)
        (claim,) = store.claim_due(NOW + timedelta(hours=1), "w", limit=5, lease_seconds=60)
        assert claim.last_event == EventKind.GONE
    finally:
        store.close()


# --- sources --------------------------------------------------------------------------------------
def sources(db_url: str) -> dict[str, dict[str, object]]:
    code, out, _ = run(db_url, "sources", "list", "--json")
    assert code == 0
    return {row["url"]: row for row in map(json.loads, out.splitlines())}


def test_sources_add_on_a_known_source_updates_it(db_url):
    code, out, _ = run(db_url, "sources", "add", FEED, "--kind", "feed", "--every", "1m")
    assert (code, out) == (0, f"added: feed {FEED} every 60s\n")
    code, out, _ = run(db_url, "sources", "add", FEED, "--kind", "feed", "--every", "5m")
    assert (code, out) == (0, f"updated: feed {FEED} every 300s (was 60s)\n")
    code, out, _ = run(db_url, "sources", "add", FEED, "--kind", "feed", "--every", "5m")
    assert (code, out) == (0, f"already known: feed {FEED} every 300s\n")
    code, out, _ = run(
        db_url, "sources", "add", FEED, "--kind", "page", "--every", "5m", "--pattern", "/20"
    )
    assert (code, out) == (0, f"updated: page {FEED} every 300s (was feed, no pattern)\n")
    row = sources(db_url)[FEED]
    assert (row["kind"], row["every_seconds"], row["pattern"], row["origin"]) == (
        "page",
        300,
        "/20",
        "cli",
    )


def test_sources_pause_resume_and_remove(db_url):
    run(db_url, "sources", "add", FEED, "--kind", "feed", "--every", "1m")
    store = open_store(db_url)
    store.add_article(URL, NOW, source_id=store.get_source(FEED).id)
    store.close()
    assert run(db_url, "sources", "pause", FEED)[:2] == (0, f"paused: {FEED}\n")
    assert run(db_url, "sources", "pause", FEED)[:2] == (0, f"already paused: {FEED}\n")
    assert sources(db_url)[FEED]["enabled"] is False
    code, out, _ = run(db_url, "sources", "list")
    assert code == 0 and "paused" in out and "cli" in out
    store = open_store(db_url)
    later = datetime.now(UTC) + timedelta(days=1)
    assert store.claim_due_sources(later, "w", limit=5, lease_seconds=60) == []
    store.close()
    assert run(db_url, "sources", "resume", FEED)[:2] == (0, f"resumed: {FEED}\n")
    assert run(db_url, "sources", "resume", FEED)[:2] == (0, f"not paused: {FEED}\n")
    store = open_store(db_url)
    (due,) = store.claim_due_sources(datetime.now(UTC), "w", limit=5, lease_seconds=60)
    assert due.url == FEED
    store.close()
    assert run(db_url, "sources", "remove", FEED)[:2] == (0, f"removed: feed {FEED}\n")
    assert sources(db_url) == {}
    assert listed(db_url)[URL]["state"] == "active"  # what it found stays tracked
    for command in ("remove", "pause", "resume"):
        code, out, err = run(db_url, "sources", command, FEED)
        assert code == 1 and out == "" and f"not a source: {FEED}" in one_line(err)


def test_a_database_upgraded_to_schema_7_can_purge_and_stays_append_only(db_url, monkeypatch):
    """Migration 7 replaces the append-only triggers of a database that already holds
    history: the purge works there, and nothing else may delete a revision."""
    import sys

    from redline.storage import migrations as shipped

    store = open_store(db_url, check=False)
    try:
        backend = sys.modules[type(store).__module__]
        monkeypatch.setattr(backend, "migrations", lambda name: shipped.migrations(name)[:6])
        assert store.upgrade() == [1, 2, 3, 4, 5, 6]
        monkeypatch.undo()
        purged, kept = old_story(store, URL), old_story(store, OTHER)
        assert store.upgrade()[0] == 7  # and any migration after it
        assert store.get_article(URL).paused is False
        with pytest.raises(StorageError, match="append-only"), store._tx(write=True) as tx:
            tx.execute("DELETE FROM revisions WHERE article_id = ?", (kept,))
        counts = store.purge_article(purged)
        assert (counts.url, counts.revisions) == (URL, 3)
        assert [h.article_id for h in store.search("minister").rows] == [kept]
        assert len(store.history(kept)) == 3
    finally:
        store.close()


def old_story(store, url):
    """Three revisions as a schema-6 Redline stored them (written directly: today's write path
    needs today's schema); returns the article's id."""
    from redline.storage.codec import content_hash, encode_page

    article, _ = store.add_article(url, NOW)
    pages = [
        Page(headline=f"Minister resigns, take {n}", body=("The minister resigned.", f"{n}."))
        for n in (1, 2, 3)
    ]
    with store._tx(write=True) as tx:
        for number, page in enumerate(pages, start=1):
            fetch_id = f"{url}#old{number}"
            tx.execute(
                "INSERT INTO revisions (article_id, number, fetched_at, content_hash, headline,"
                " title, extractor, summary, fetch_id)"
                " VALUES (?, ?, ?, ?, ?, '', 'redline', '[]', ?)",
                (article.id, number, store._ts(NOW), content_hash(page), page.headline, fetch_id),
            )
            tx.execute(
                "INSERT INTO revision_content (revision_id, page) SELECT id, ? FROM revisions"
                " WHERE fetch_id = ?",
                (encode_page(page), fetch_id),
            )
        tx.execute("UPDATE articles SET revision_count = 3 WHERE id = ?", (article.id,))
    return article.id
