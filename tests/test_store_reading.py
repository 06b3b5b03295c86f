"""Reading in pages and searching, on both backends: what the web app and the API list."""

from __future__ import annotations

import contextlib
import sys
from datetime import timedelta

import pytest

from redline.storage import (
    ArticleStatus,
    Change,
    ChangeClass,
    ChangeKind,
    ChangeQuery,
    EventKind,
    EventNote,
    FeedItem,
    Gone,
    InvalidInput,
    Moved,
    Outcome,
    Page,
    PageKind,
    Unavailable,
    open_store,
)
from redline.storage import migrations as shipped
from redline.storage.codec import content_hash, encode_page
from tests.conftest import NOW
from tests.records import check, revision

HOUR = timedelta(hours=1)


def page(headline: str, *body: str, **kw: object) -> Page:
    return Page(headline=headline, body=body or ("First paragraph.", "Second paragraph."), **kw)  # type: ignore[arg-type]


def change(field: str, class_: ChangeClass = ChangeClass.MINOR, **kw: object) -> Change:
    return Change(field, ChangeKind.CHANGED, class_, patch="p", **kw)  # type: ignore[arg-type]


def write(store, article_id: int, number: int, p: Page, changes=(), at=NOW) -> None:
    fetch = f"{article_id}-{number}"
    store.record(revision(article_id, fetch, p, base=number - 1, changes=changes, at=at))


def every_page(read, **kw):
    """Follow cursors to the end; return every row and the number of pages."""
    rows, cursor, pages = [], None, 0
    while True:
        listing = read(cursor=cursor, **kw)
        rows += listing.rows
        pages += 1
        if listing.cursor is None:
            return rows, pages
        cursor = listing.cursor


@pytest.fixture
def newsroom(store):
    """Two sites: a story edited twice (headline, then body), a story with a byline change and
    a date change, a live page with an item change; one gone, one moved."""
    a, _ = store.add_article("https://one.example/a", NOW)
    b, _ = store.add_article("https://one.example/b", NOW)
    c, _ = store.add_article("https://two.example/live", NOW, is_live=True)
    write(store, a.id, 1, page("Budget passes"), at=NOW)
    write(store, b.id, 1, page("Storm nears"), at=NOW + timedelta(minutes=1))
    write(store, c.id, 1, page("Live: vote", items=(FeedItem("k1", "Polls open", "Queues."),)))
    write(store, a.id, 2, page("Budget passes at dawn"), [change("headline")], NOW + HOUR)
    write(
        store,
        b.id,
        2,
        page("Storm nears", "First paragraph.", "Changed paragraph."),
        [change("byline", ChangeClass.COSMETIC), change("updated", ChangeClass.COSMETIC)],
        NOW + 2 * HOUR,
    )
    write(
        store,
        a.id,
        3,
        page("Budget passes at dawn", "First paragraph.", "A new ending."),
        [change("body", ChangeClass.SUBSTANTIVE)],
        NOW + 3 * HOUR,
    )
    item = page("Live: vote", items=(FeedItem("k1", "Polls open", "Long queues."),))
    write(store, c.id, 2, item, [change("item:k1")], NOW + 3 * HOUR)
    store.record(
        check(
            b.id,
            "b-gone",
            Gone(),
            status=ArticleStatus.GONE,
            at=NOW + 4 * HOUR,
            events=[EventNote(EventKind.GONE, "HTTP 410")],
        )
    )
    moved = "https://two.example/live-renamed"
    store.record(
        check(
            c.id,
            "c-moved",
            Moved(moved),
            moved_to=moved,
            at=NOW + 5 * HOUR,
            events=[EventNote(EventKind.MOVED, moved)],
        )
    )
    return a.id, b.id, c.id


def kinds(entries) -> list[str]:
    return [
        f"r{e.article_id}.{e.revision}" if e.event is None else str(e.event.kind) for e in entries
    ]


def test_recent_changes_lists_revisions_and_events_newest_first(store, newsroom):
    a, b, c = newsroom
    rows = store.recent_changes(ChangeQuery()).rows
    assert kinds(rows) == ["moved", "gone", f"r{c}.2", f"r{a}.3", f"r{b}.2", f"r{a}.2"]
    first_seen = {e.event.kind for e in rows if e.event} & {EventKind.FIRST_SEEN}
    assert not first_seen
    edited = next(e for e in rows if e.revision == 2 and e.article_id == a)
    assert (edited.headline, edited.old_headline) == ("Budget passes at dawn", "Budget passes")
    assert [ch.field for ch in edited.changes] == ["headline"] and edited.changes[0].patch == "p"
    body = next(e for e in rows if e.revision == 3)
    assert body.old_headline is None and body.at == NOW + 3 * HOUR
    moved = rows[0]
    assert moved.url == "https://two.example/live-renamed" and moved.headline == "Live: vote"
    assert moved.event.detail == "https://two.example/live-renamed"
    two = next(e for e in rows if e.revision == 2 and e.article_id == b)
    assert [ch.field for ch in two.changes] == ["byline", "updated"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (ChangeQuery(groups=frozenset({"headline"})), ["a2"]),
        (ChangeQuery(groups=frozenset({"body", "byline"})), ["a3", "b2"]),
        (ChangeQuery(groups=frozenset({"dates"})), ["b2"]),
        (ChangeQuery(groups=frozenset({"item"})), ["c2"]),
        (ChangeQuery(groups=frozenset({"gone"})), ["gone"]),
        (ChangeQuery(groups=frozenset({"gone", "moved", "title"})), ["moved", "gone"]),
        (ChangeQuery(classes=frozenset({ChangeClass.SUBSTANTIVE})), ["a3"]),
        (ChangeQuery(site="one.example"), ["gone", "a3", "b2", "a2"]),
        (ChangeQuery(since=NOW + 3 * HOUR, until=NOW + 5 * HOUR), ["gone", "c2", "a3"]),
        (
            ChangeQuery(
                groups=frozenset({"headline", "body"}), classes=frozenset({ChangeClass.MINOR})
            ),
            ["a2"],
        ),
    ],
)
def test_recent_changes_filters(store, newsroom, query, expected):
    a, b, c = newsroom
    names = {a: "a", b: "b", c: "c"}
    rows = store.recent_changes(query).rows
    found = [str(e.event.kind) if e.event else f"{names[e.article_id]}{e.revision}" for e in rows]
    assert found == expected


def test_recent_changes_of_one_article(store, newsroom):
    a, b, _ = newsroom
    assert kinds(store.recent_changes(ChangeQuery(article_id=b)).rows) == ["gone", f"r{b}.2"]
    assert kinds(store.recent_changes(ChangeQuery(article_id=a)).rows) == [f"r{a}.3", f"r{a}.2"]


@pytest.mark.parametrize("limit", [1, 2, 4])
def test_recent_changes_pages_cover_every_row_once(store, newsroom, limit):
    everything = store.recent_changes(ChangeQuery(), limit=100).rows
    rows, pages = every_page(store.recent_changes, query=ChangeQuery(), limit=limit)
    assert rows == list(everything)
    assert pages == -(-len(everything) // limit)


def test_ties_in_time_are_paged_deterministically(store):
    """A revision and an event at one instant, and many revisions at one instant."""
    ids = [store.add_article(f"https://one.example/{n}", NOW)[0].id for n in range(5)]
    for i in ids:
        write(store, i, 1, page(f"Story {i}"), at=NOW)
        write(store, i, 2, page(f"Story {i}!"), [change("headline")], NOW + HOUR)
    store.record(
        check(ids[0], "u", Unavailable("paywall"), at=NOW + HOUR,
              events=[EventNote(EventKind.UNAVAILABLE, "paywall")])
    )  # fmt: skip
    everything = store.recent_changes(ChangeQuery(), limit=100).rows
    assert len(everything) == 6 and everything[-1].event is not None
    for limit in (1, 2, 3):
        rows, _ = every_page(store.recent_changes, query=ChangeQuery(), limit=limit)
        assert rows == list(everything)


@pytest.mark.parametrize(
    "cursor", ["", "garbage", "!!!", "MjAyNnwxfDE", "x" * 500, "bm90fGF8Y3Vyc29y", "\x00", "é"]
)
def test_a_malformed_cursor_is_invalid_input(store, newsroom, cursor):
    with pytest.raises(InvalidInput, match="cursor"):
        store.recent_changes(ChangeQuery(), cursor=cursor)
    with pytest.raises(InvalidInput, match="cursor"):
        store.articles_page(cursor=cursor)
    with pytest.raises(InvalidInput, match="cursor"):
        store.checks(newsroom[0], cursor=cursor)
    with pytest.raises(InvalidInput, match="cursor"):
        store.search("budget", cursor=cursor)


def test_bad_filters_and_limits_are_invalid_input(store):
    with pytest.raises(InvalidInput):
        store.recent_changes(ChangeQuery(groups=frozenset({"headlines"})))
    with pytest.raises(InvalidInput):
        store.recent_changes(ChangeQuery(), limit=0)
    with pytest.raises(InvalidInput):
        store.articles_page(limit=10_000)


def test_articles_page_most_recently_changed_first(store, newsroom):
    a, b, c = newsroom
    d = store.add_article("https://one.example/never", NOW + 2 * HOUR)[0].id
    ordered = [x.id for x in store.articles_page().rows]
    assert ordered == [c, a, d, b]  # ties (c with a, d with b): the higher id first
    assert [x.id for x in store.articles_page(site="one.example").rows] == [a, d, b]
    assert [x.id for x in store.articles_page(status=ArticleStatus.GONE).rows] == [b]
    for limit in (1, 3):
        rows, _ = every_page(store.articles_page, limit=limit)
        assert [x.id for x in rows] == ordered


def test_article_urls_current_first(store, newsroom):
    _, b, c = newsroom
    assert store.article_urls(c) == [
        "https://two.example/live-renamed",
        "https://two.example/live",
    ]
    assert store.article_urls(b) == ["https://one.example/b"]


def test_checks_newest_first_with_outcomes(store, newsroom):
    _, b, _ = newsroom
    rows = store.checks(b).rows
    assert [(r.fetch_id, r.outcome, r.revision) for r in rows] == [
        ("b-gone", Outcome.GONE, None),
        (f"{b}-2", Outcome.CHANGED, 2),
        (f"{b}-1", Outcome.NEW, 1),
    ]
    assert rows[0].at == NOW + 4 * HOUR
    paged, pages = every_page(store.checks, article_id=b, limit=1)
    assert paged == list(rows) and pages == 3


# --- search ---------------------------------------------------------------------------------


@pytest.fixture
def archive(store):
    """An article whose second paragraph said "secret ballot" in revisions 1-2 and no more."""
    a, _ = store.add_article("https://one.example/vote", NOW)
    b, _ = store.add_article("https://two.example/storm", NOW)
    said = ("The council met on Tuesday.", "It voted by secret ballot, members said.")
    write(store, a.id, 1, page("Council votes", *said), at=NOW)
    write(store, a.id, 2, page("Council votes again", *said), [change("headline")], NOW + HOUR)
    later = page("Council votes again", "The council met on Tuesday.", "It voted openly.")
    write(store, a.id, 3, later, [change("body")], NOW + 2 * HOUR)
    storm = page("Storm hits coast", "Winds of 120 km/h.", byline=("Ana Núñez",))
    write(store, b.id, 1, storm, at=NOW + 3 * HOUR)
    live = Page(
        headline="Storm live",
        items=(FeedItem("k", "Ferry cancelled", "No crossings tonight."),),
        kind=PageKind.LIVE,
    )
    write(store, b.id, 2, live, [change("item:k")], NOW + 4 * HOUR)
    return a.id, b.id


def test_search_finds_text_later_removed(store, archive):
    a, _ = archive
    (hit,) = store.search("secret ballot").rows
    assert (hit.article_id, hit.first, hit.last, hit.latest) == (a, 1, 2, 3)
    assert (hit.first_at, hit.last_at) == (NOW, NOW + HOUR)
    assert (hit.removed_in, hit.removed_at) == (3, NOW + 2 * HOUR)
    assert hit.headline == "Council votes again" and hit.url == "https://one.example/vote"
    assert "secret ballot" in hit.snippet and len(hit.snippet) <= 210


def test_search_text_still_there_is_not_removed(store, archive):
    a, b = archive
    hits = store.search("council").rows
    assert [(h.article_id, h.first, h.last, h.removed_in) for h in hits] == [(a, 1, 3, None)]
    (storm,) = store.search("ferry").rows
    assert (storm.article_id, storm.first, storm.last) == (b, 2, 2)
    assert [h.article_id for h in store.search("núñez").rows] == [b]
    assert store.search("NÚÑEZ").rows[0].removed_in == 2  # bylines are searchable too


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ('"secret ballot"', "a"),
        ('"ballot secret"', ""),
        ("ballot secret", "a"),
        ("council -secret", "a"),  # revision 3 matches
        ("storm -ferry", "b"),
        ("storm -winds -ferry", ""),
        ("ferry OR council", "ba"),
        ("tuesday ferry", ""),
        ("crossings OR nothinglikethis", "b"),
        ("Winds 120", "b"),
    ],
)
def test_search_syntax(store, archive, text, found):
    names = dict(zip(archive, "ab", strict=True))
    assert "".join(names[h.article_id] for h in store.search(text).rows) == found


@pytest.mark.parametrize(
    "text",
    [
        '"',
        '"secret',
        "secret*",
        "NEAR(secret ballot)",
        "'; DROP TABLE revisions; --",
        "secret AND OR NOT ballot",
        "a:b^c{d}(e)",
        "-",
        "OR OR",
        "col:secret",
        "秘密 ballot",
        "🗳️ secret",
        "\x00secret",
        "\\' % ? $1 :x",
        "ballot" + " x" * 10,
    ],
)
def test_hostile_queries_never_fail_except_as_invalid_input(store, archive, text):
    with contextlib.suppress(InvalidInput):
        store.search(text)


@pytest.mark.parametrize("text", ["", "   ", '""', "-secret", "*", "!!! ???", "OR", "- -"])
def test_a_query_without_words_is_invalid_input(store, text):
    with pytest.raises(InvalidInput):
        store.search(text)


def test_search_by_site_and_in_pages(store, archive):
    a, _ = archive
    for n in range(5):
        other, _ = store.add_article(f"https://three.example/{n}", NOW)
        write(store, other.id, 1, page(f"Council {n}"), at=NOW + timedelta(minutes=n))
    assert [h.article_id for h in store.search("council", site="one.example").rows] == [a]
    everything = store.search("council", limit=100).rows
    assert len(everything) == 6 and everything[0].article_id == a  # most recent match first
    for limit in (1, 2, 4):
        rows, _ = every_page(store.search, text="council", limit=limit)
        assert rows == list(everything)


def test_phrase_search_pages_match_exactly(store):
    """Articles holding a phrase's words apart are not hits, however recent: every page
    holds exactly the articles with the phrase, the most recent match first."""
    expected = []
    for n in range(12):
        article, _ = store.add_article(f"https://one.example/{n}", NOW)
        text = "the budget vote was close" if n % 3 else "the vote on the budget"
        write(store, article.id, 1, page(f"Story {n}", text), at=NOW + n * HOUR)
        if n % 4 == 0:  # the phrase goes in a later revision: its last match moves on
            later = page(f"Story {n}", "a budget vote again")
            write(store, article.id, 2, later, [change("body")], NOW + (20 + n) * HOUR)
        if n % 3 or n % 4 == 0:
            expected.append((NOW + ((20 + n) if n % 4 == 0 else n) * HOUR, article.id))
    expected.sort(reverse=True)
    for limit in (1, 2, 5, 20):
        rows, _ = every_page(store.search, text='"budget vote"', limit=limit)
        assert [(h.last_at, h.article_id) for h in rows] == expected


def test_backfill_indexes_revisions_written_before_search(db_url, monkeypatch):
    store = open_store(db_url, check=False)
    try:
        backend = sys.modules[type(store).__module__]
        monkeypatch.setattr(backend, "migrations", lambda name: shipped.migrations(name)[:5])
        assert store.upgrade() == [1, 2, 3, 4, 5]
        monkeypatch.undo()
        article, _ = store.add_article("https://one.example/old", NOW)
        pages = [page("Old story", f"Paragraph {n} about harbour dredging.") for n in (1, 2)]
        pages.append(page("Old story", "Nothing left."))
        with store._tx(write=True) as tx:
            for number, p in enumerate(pages, start=1):
                tx.execute(
                    "INSERT INTO revisions (article_id, number, fetched_at, content_hash,"
                    " headline, title, extractor, summary, fetch_id)"
                    " VALUES (?, ?, ?, ?, ?, '', 'redline', '[]', ?)",
                    (article.id, number, store._ts(NOW + number * HOUR), content_hash(p),
                     p.headline, f"old-{number}"),
                )  # fmt: skip
                tx.execute(
                    "INSERT INTO revision_content (revision_id, page) "
                    "SELECT id, ? FROM revisions WHERE fetch_id = ?",
                    (encode_page(p), f"old-{number}"),
                )
            tx.execute("UPDATE articles SET revision_count = 3 WHERE id = ?", (article.id,))
        assert store.upgrade()[0] == 6  # and any migration after it
        (hit,) = store.search("harbour").rows
        assert (hit.first, hit.last, hit.removed_in) == (1, 2, 3)
        assert store.backfill_search() == 0 and store.upgrade() == []  # idempotent
        write(store, article.id, 4, page("Old story", "Harbour again."), [change("body")])
        assert store.search("harbour").rows[0].last == 4  # written after: indexed on write
    finally:
        store.close()


def test_backfill_resumes_in_batches(db_url, monkeypatch):
    store = open_store(db_url)
    try:
        article, _ = store.add_article("https://one.example/a", NOW)
        for n in range(1, 6):
            write(store, article.id, n, page(f"Story {n}", f"Word{n} here."), at=NOW + n * HOUR)
        with store._tx(write=True) as tx:  # as if the index were new: rebuild it by backfill
            if store.BACKEND == "sqlite":  # contentless FTS5: no DELETE, but this command
                tx.execute("INSERT INTO revision_search (revision_search) VALUES ('delete-all')")
            else:
                tx.execute("DELETE FROM revision_search")
            tx.execute("INSERT INTO search_backfill VALUES (0, 3)")
        assert store.search("word1").rows == ()
        assert store.backfill_search(batch=2) == 3
        assert [h.last for h in store.search("here").rows] == [3]
        assert store.backfill_search() == 0
    finally:
        store.close()
