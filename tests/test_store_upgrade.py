"""`redline db upgrade` from an older schema that holds data: nothing is lost, history reads the
same, and the store writes again afterwards. Runs on both backends."""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from redline.cli import cli
from redline.storage import (
    Change,
    ChangeClass,
    ChangeKind,
    FeedItem,
    Outcome,
    Page,
    SchemaOutdated,
    StorageError,
    open_store,
)
from redline.storage import migrations as shipped
from redline.storage.codec import compress_html, content_hash, encode_page
from tests.conftest import NOW
from tests.records import revision

URL = "https://news.example/politics/story-1"
PAGES = [
    Page(headline="Council approves budget", body=("First.", "Second.")),
    Page(headline="Council approves budget after all-night session", body=("First.", "Later.")),
]
HTML = [b"<html><h1>v1</h1></html>", None]


def at_schema_2(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database as Redline with schema 2 left it: one article with two revisions."""
    store = open_store(db_url, check=False)
    backend = sys.modules[type(store).__module__]
    monkeypatch.setattr(backend, "migrations", lambda name: shipped.migrations(name)[:2])
    assert store.upgrade() == [1, 2]
    monkeypatch.undo()
    article, _ = store.add_article(URL, NOW)
    with store._tx(write=True) as tx:
        for number, (page, html) in enumerate(zip(PAGES, HTML, strict=True), start=1):
            tx.execute(
                "INSERT INTO revisions (article_id, number, fetched_at, content_hash, headline,"
                " summary, page, raw_html, fetch_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    article.id,
                    number,
                    store._ts(NOW + timedelta(hours=number)),
                    content_hash(page),
                    page.headline,
                    '[["headline","changed","minor"]]' if number == 2 else "[]",
                    encode_page(page),
                    None if html is None else compress_html(html),
                    f"old-{number}",
                ),
            )
        revision_id = tx.one("SELECT id FROM revisions WHERE number = 2")["id"]
        tx.execute(
            "INSERT INTO changes (revision_id, position, field, kind, class, old, new, patch,"
            " words_added, words_removed, similarity, notes, stealth, coarse)"
            " VALUES (?, 0, 'headline', 'changed', 'minor', ?, ?, '', 4, 0, 0.5, '[]', ?, ?)",
            (revision_id, PAGES[0].headline, PAGES[1].headline, False, False),
        )
        tx.execute(
            "UPDATE articles SET revision_count = 2, latest_hash = ? WHERE id = ?",
            (content_hash(PAGES[1]), article.id),
        )
    store.close()


def test_db_upgrade_from_schema_2_keeps_every_revision(db_url, monkeypatch):
    at_schema_2(db_url, monkeypatch)
    with pytest.raises(SchemaOutdated, match="redline db upgrade"):
        open_store(db_url)

    result = CliRunner().invoke(cli, ["--db", db_url, "db", "upgrade"])
    assert result.exit_code == 0 and "from schema 2 to" in result.stdout

    store = open_store(db_url)
    try:
        article = store.get_article(URL)
        history = store.history(article.id)
        assert [(r.number, r.headline) for r in history] == [
            (1, PAGES[0].headline),
            (2, PAGES[1].headline),
        ]
        assert [c.field for c in history[1].changes] == ["headline"]
        assert store.revision(article.id, 1).page == PAGES[0]
        second = store.revision(article.id, 2)
        assert second.page == PAGES[1] and second.fetch_id == "old-2"
        assert [c.words_added for c in second.changes] == [4]
        assert store.raw_html(article.id, 1) == HTML[0]
        assert store.raw_html(article.id, 2) is None
        assert store.latest_page(article.id) == PAGES[1]

        third = Page(headline="Council approves budget", body=("First.", "Final."))
        change = Change("body", ChangeKind.CHANGED, ChangeClass.MINOR, patch="x")
        recorded = store.record(
            revision(
                article.id,
                "new-3",
                third,
                base=2,
                changes=[change],
                raw_html=b"<p>3</p>",
                at=NOW + timedelta(days=1),
                next_at=None,
            )
        )
        assert recorded.outcome is Outcome.CHANGED and recorded.revision == 3
        assert store.raw_html(article.id, 3) == b"<p>3</p>"
        assert [url for url, _ in store.iter_revisions()] == [URL] * 3
        with pytest.raises(StorageError), store._tx(write=True) as tx:
            tx.execute("UPDATE revision_content SET raw_html = NULL")
        with pytest.raises(StorageError), store._tx(write=True) as tx:
            tx.execute("DELETE FROM revision_content")
        assert store.raw_html(article.id, 1) == HTML[0]
    finally:
        store.close()


# Content hashes of two pages, computed before Page had a title: a page without one must keep
# its hash for ever, or every stored revision would look edited on its next check.
HASHES_BEFORE_TITLES = {
    "ba7c77137335d5d24a7ea40bd6a2a713": Page(
        headline="Council approves budget",
        byline=("Jo Park",),
        published=datetime(2026, 3, 10, 22, 15, tzinfo=UTC),
        body=("First.", "Second."),
        items=(FeedItem("k1", "Storm", "Winds.", datetime(2026, 3, 10, tzinfo=UTC)),),
    ),
    "eadb916dcca9cf132ee6090b6460789e": Page(),
}


def test_a_page_without_a_title_keeps_the_hash_it_had_before_titles():
    for digest, page in HASHES_BEFORE_TITLES.items():
        assert content_hash(page) == digest
        assert content_hash(replace(page, title="Council budget: what changes")) != digest


def at_schema_4(db_url: str, monkeypatch: pytest.MonkeyPatch) -> int:
    """A database as Redline with schema 4 left it: one article with two revisions (no title
    or extractor columns yet); returns the article's id."""
    store = open_store(db_url, check=False)
    backend = sys.modules[type(store).__module__]
    monkeypatch.setattr(backend, "migrations", lambda name: shipped.migrations(name)[:4])
    assert store.upgrade() == [1, 2, 3, 4]
    monkeypatch.undo()
    article, _ = store.add_article(URL, NOW)
    with store._tx(write=True) as tx:
        for number, page in enumerate(PAGES, start=1):
            tx.execute(
                "INSERT INTO revisions (article_id, number, fetched_at, content_hash, headline,"
                " summary, fetch_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    article.id,
                    number,
                    store._ts(NOW + timedelta(hours=number)),
                    content_hash(page),
                    page.headline,
                    '[["headline","changed","minor"]]' if number == 2 else "[]",
                    f"old-{number}",
                ),
            )
            tx.execute(
                "INSERT INTO revision_content (revision_id, page) "
                "SELECT id, ? FROM revisions WHERE fetch_id = ?",
                (encode_page(page), f"old-{number}"),
            )
        tx.execute(
            "UPDATE articles SET revision_count = 2, latest_hash = ? WHERE id = ?",
            (content_hash(PAGES[1]), article.id),
        )
    store.close()
    return article.id


def test_db_upgrade_from_schema_4_adds_titles_without_rewriting_history(db_url, monkeypatch):
    article_id = at_schema_4(db_url, monkeypatch)
    result = CliRunner().invoke(cli, ["--db", db_url, "db", "upgrade"])
    assert result.exit_code == 0 and "from schema 4 to" in result.stdout

    store = open_store(db_url)
    try:
        old = [store.revision(article_id, n) for n in (1, 2)]
        assert [r.page for r in old] == PAGES
        assert [r.content_hash for r in old] == [content_hash(p) for p in PAGES]
        assert [(r.headline, r.title) for r in store.history(article_id)] == [
            (PAGES[0].headline, ""),
            (PAGES[1].headline, ""),
        ]
        with store._tx() as tx:
            rows = tx.all("SELECT title, extractor FROM revisions ORDER BY number")
        assert [(r["title"], r["extractor"]) for r in rows] == [(None, None), (None, None)]
        assert store.queue_status(NOW)["plain_fallback"] == 0

        plain = replace(
            PAGES[1], title="Budget passes at dawn", body=("First.", "Later.", "Plain."),
            extractor="redline/plain",
        )  # fmt: skip
        change = Change("title", ChangeKind.CHANGED, ChangeClass.MINOR, patch="x")
        at = NOW + timedelta(days=1)
        store.record(revision(article_id, "new-3", plain, base=2, changes=[change], at=at))
        third = store.history(article_id)[2]
        assert (third.title, third.content_hash) == ("Budget passes at dawn", content_hash(plain))
        assert store.revision(article_id, 3).page == plain
        with store._tx() as tx:
            row = tx.one("SELECT title, extractor FROM revisions WHERE number = 3")
        assert (row["title"], row["extractor"]) == ("Budget passes at dawn", "redline/plain")
        status = store.queue_status(NOW)
        assert (status["plain_fallback"], status["plain_fallback_urls"]) == (1, [URL])
    finally:
        store.close()


def test_db_compact_after_an_upgrade_keeps_every_revision_as_it_was(db_url, monkeypatch):
    at_schema_2(db_url, monkeypatch)
    assert CliRunner().invoke(cli, ["--db", db_url, "db", "upgrade"]).exit_code == 0
    result = CliRunner().invoke(cli, ["--db", db_url, "db", "compact"])
    assert result.exit_code == 0 and "revisions: 2 of 1 articles given checksums" in result.stdout
    store = open_store(db_url)
    try:
        article = store.get_article(URL)
        assert [store.revision(article.id, n).page for n in (1, 2)] == PAGES
        assert [store.raw_html(article.id, n) for n in (1, 2)] == HTML
        assert store.legacy_revisions() == 0
        assert [h.first for h in store.search("session").rows] == [2]  # indexed on upgrade
    finally:
        store.close()
