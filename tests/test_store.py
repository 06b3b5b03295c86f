"""Behaviour of the Store on both backends: the write protocol, history reads, schema safety."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from storage import (
    AlertStatus,
    ArticleStatus,
    Change,
    ChangeClass,
    ChangeKind,
    EventKind,
    FetchResult,
    InvalidInput,
    NotFound,
    Outcome,
    Page,
    PageKind,
    SchemaError,
    SchemaOutdated,
    SchemaTooNew,
    SourceKind,
    StorageError,
    open_store,
)
from storage.codec import content_hash
from tests.conftest import NOW

URL = "https://news.example/politics/story-1"


def page(headline: str = "Council approves budget", *body: str) -> Page:
    return Page(headline=headline, body=body or ("First paragraph.", "Second paragraph."))


def fetch(article_id: int, fid: str, pg: Page | None = None, **kw) -> FetchResult:
    kw.setdefault("fetched_at", NOW)
    kw.setdefault("next_check_at", NOW + timedelta(minutes=10))
    kw.setdefault("page", pg)
    return FetchResult(fetch_id=fid, article_id=article_id, **kw)


def body_change(old: Page | None, new: Page) -> tuple[Change, ...]:
    return (Change("body", ChangeKind.CHANGED, ChangeClass.MINOR, patch="x"),) if old else ()


def test_add_is_idempotent_and_records_first_seen(store):
    article, created = store.add_article(URL, NOW)
    again, created_again = store.add_article(URL, NOW + timedelta(hours=1))
    assert created and not created_again
    assert again.id == article.id and again.first_seen == NOW
    assert article.site == "news.example" and article.status is ArticleStatus.ACTIVE
    assert [e.kind for e in store.events(article.id)] == [EventKind.FIRST_SEEN]
    assert store.get_article(URL).id == article.id
    assert [a.url for a in store.list_articles()] == [URL]


@pytest.mark.parametrize(
    "bad",
    [
        "ftp://x.example/a",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "not a url",
        "https://ex ample.com/",
        "http:///nohost",
    ],
)
def test_only_http_urls_can_be_tracked(store, bad):
    with pytest.raises(InvalidInput):
        store.add_article(bad, NOW)


def test_unknown_url_and_revision_raise_not_found(store):
    with pytest.raises(NotFound):
        store.get_article("https://nowhere.example/")
    article, _ = store.add_article(URL, NOW)
    with pytest.raises(NotFound):
        store.revision(article.id, 1)


def test_revisions_are_numbered_and_only_written_on_change(store):
    article, _ = store.add_article(URL, NOW)
    first = store.record(fetch(article.id, "f1", page(), raw_html=b"<h1>v1</h1>"))
    same = store.record(fetch(article.id, "f2", page(), base_revision=1))
    edited = page("Council approves revised budget")
    second = store.record(
        fetch(
            article.id,
            "f3",
            edited,
            base_revision=1,
            changes=(Change("headline", ChangeKind.CHANGED, ChangeClass.MINOR, "a", "b"),),
        )
    )
    assert (first.outcome, first.revision) == (Outcome.NEW, 1)
    assert (same.outcome, same.revision) == (Outcome.UNCHANGED, None)
    assert (second.outcome, second.revision) == (Outcome.CHANGED, 2)
    history = store.history(article.id)
    assert [r.number for r in history] == [1, 2]
    assert history[1].headline == "Council approves revised budget"
    assert [(c.field, c.kind) for c in history[1].changes] == [("headline", ChangeKind.CHANGED)]
    rev = store.revision(article.id, 2)
    assert rev.page == edited and rev.content_hash == content_hash(edited)
    assert store.raw_html(article.id, 1) == b"<h1>v1</h1>"
    assert store.raw_html(article.id, 2) is None
    refreshed = store.get_article(URL)
    assert refreshed.revision_count == 2 and refreshed.last_changed_at == NOW


def test_a_retried_commit_is_a_no_op(store):
    article, _ = store.add_article(URL, NOW)
    result = fetch(article.id, "same-fetch", page())
    assert store.record(result).duplicate is False
    repeat = store.record(result)
    assert repeat.duplicate and (repeat.outcome, repeat.revision) == (Outcome.NEW, 1)
    assert len(store.history(article.id)) == 1


def test_stale_base_is_recompared_inside_the_transaction(store):
    article, _ = store.add_article(URL, NOW)
    store.record(fetch(article.id, "a", page()))
    store.record(
        fetch(
            article.id,
            "b",
            page("Second"),
            base_revision=1,
            changes=body_change(page(), page("Second")),
        )
    )
    # A worker that diffed against revision 1 commits after revision 2 appeared.
    late = fetch(article.id, "c", page("Third"), base_revision=1, changes=())
    with pytest.raises(StorageError):
        store.record(late)
    result = store.record(late, compare=body_change)
    assert result.revision == 3
    assert [c.field for c in store.revision(article.id, 3).changes] == ["body"]


@pytest.mark.parametrize(
    ("kw", "outcome"),
    [
        ({"not_modified": True, "http_status": 304}, Outcome.NOT_MODIFIED),
        ({"error": "timeout", "http_status": None}, Outcome.ERROR),
        ({"page": Page(kind=PageKind.NOT_ARTICLE, reason="paywall")}, Outcome.UNAVAILABLE),
    ],
)
def test_checks_without_a_new_version_never_touch_history(store, kw, outcome):
    article, _ = store.add_article(URL, NOW)
    store.record(fetch(article.id, "f1", page(), etag='"v1"'))
    result = store.record(fetch(article.id, "f2", base_revision=1, **kw))
    assert result.outcome is outcome and result.revision is None
    assert len(store.history(article.id)) == 1
    assert store.revision(article.id, 1).page == page()
    after = store.get_article(URL)
    if outcome is not Outcome.UNAVAILABLE:  # validators survive a 304 or an error
        assert after.etag == '"v1"'
    assert after.last_checked_at == NOW
    assert after.error_count == (1 if outcome is Outcome.ERROR else 0)


def test_gone_and_back_are_events_with_alerts(store):
    article, _ = store.add_article(URL, NOW)
    store.record(fetch(article.id, "f1", page(), alert_channels=("hook",)))
    gone = store.record(
        fetch(
            article.id,
            "f2",
            status=ArticleStatus.GONE,
            http_status=410,
            events=((EventKind.GONE, "410"),),
            alert_channels=("hook",),
        )
    )
    assert gone.outcome is Outcome.GONE
    assert store.get_article(URL).status is ArticleStatus.GONE
    assert [e.kind for e in store.events(article.id)] == [EventKind.FIRST_SEEN, EventKind.GONE]
    alerts = store.alerts(AlertStatus.PENDING)
    assert [a.kinds for a in alerts] == [("new_article",), ("article_removed",)]
    assert len({a.idempotency_key for a in alerts}) == 2
    assert len(store.history(article.id)) == 1


def test_claims_lease_due_articles_once_until_the_lease_expires(store):
    a, _ = store.add_article(URL, NOW)
    b, _ = store.add_article(URL + "-b", NOW - timedelta(minutes=5))
    store.add_article(URL + "-later", NOW + timedelta(hours=1))
    store.record(fetch(b.id, "fb", page(), next_check_at=NOW - timedelta(minutes=1)))
    claims = store.claim_due(NOW, "w1", limit=10, lease_seconds=60)
    assert [c.article_id for c in claims] == [b.id, a.id]  # most overdue first
    assert claims[0].latest_revision == 1 and claims[0].latest_hash == content_hash(page())
    assert store.claim_due(NOW, "w2", limit=10, lease_seconds=60) == []
    reclaimed = store.claim_due(NOW + timedelta(seconds=61), "w2", limit=10, lease_seconds=60)
    assert {c.article_id for c in reclaimed} == {a.id, b.id}
    assert store.release([a.id], "w1") == 0  # w1's lease is no longer w1's
    assert store.release([a.id, b.id], "w2") == 2
    assert len(store.claim_due(NOW, "w3", limit=1, lease_seconds=60)) == 1


def test_recording_releases_the_lease_and_moves_the_schedule(store):
    article, _ = store.add_article(URL, NOW)
    (_claim,) = store.claim_due(NOW, "w1", limit=5, lease_seconds=300)
    later = NOW + timedelta(minutes=30)
    store.record(fetch(article.id, "f1", page(), owner="w1", next_check_at=later))
    assert store.claim_due(NOW + timedelta(minutes=29), "w2", limit=5, lease_seconds=60) == []
    assert len(store.claim_due(later, "w2", limit=5, lease_seconds=60)) == 1
    assert store.get_article(URL).next_check_at == later


def test_revisions_are_append_only_in_the_database(store):
    article, _ = store.add_article(URL, NOW)
    store.record(fetch(article.id, "f1", page()))
    with pytest.raises(StorageError), store._tx(write=True) as tx:
        tx.execute("UPDATE revisions SET headline = 'forged'")
    with pytest.raises(StorageError), store._tx(write=True) as tx:
        tx.execute("DELETE FROM revisions")
    assert store.revision(article.id, 1).page == page()


def test_export_iterators_honour_since(store):
    article, _ = store.add_article(URL, NOW)
    store.record(fetch(article.id, "f1", page()))
    store.record(
        fetch(article.id, "f2", page("Later"), base_revision=1, fetched_at=NOW + timedelta(days=1))
    )
    assert [r.number for _, r in store.iter_revisions()] == [1, 2]
    since = [(url, r.number) for url, r in store.iter_revisions(NOW + timedelta(hours=1))]
    assert since == [(URL, 2)]
    assert [e.kind for _, e in store.iter_events()] == [EventKind.FIRST_SEEN]
    assert list(store.iter_events(NOW + timedelta(hours=1))) == []


def test_sources_are_idempotent(store):
    src, created = store.add_source("https://news.example/rss", SourceKind.FEED, 600, NOW)
    again, created_again = store.add_source("https://news.example/rss", SourceKind.FEED, 60, NOW)
    assert created and not created_again and again.id == src.id and again.every_seconds == 600
    assert [s.kind for s in store.list_sources()] == [SourceKind.FEED]


def test_schema_newer_than_known_is_refused_and_left_alone(db_url):
    store = open_store(db_url)
    with store._tx(write=True) as tx:
        tx.execute(
            "INSERT INTO schema_version (version, applied_at) VALUES (99, ?)", (store._ts(NOW),)
        )
    store.close()
    with pytest.raises(SchemaTooNew, match="99"):
        open_store(db_url)
    reopened = open_store(db_url, check=False)
    assert reopened.schema_version() == 99
    reopened.close()


def test_an_existing_database_is_never_reinitialised(db_url):
    store = open_store(db_url)
    store.add_article(URL, NOW)
    store.close()
    store = open_store(db_url)
    assert store.upgrade() == []
    assert [a.url for a in store.list_articles()] == [URL]
    store.close()


def test_a_foreign_database_is_refused(db_url):
    store = open_store(db_url, check=False)
    with store._tx(write=True) as tx:
        tx.execute("CREATE TABLE somebody_elses (x INTEGER)")
    store.close()
    with pytest.raises(SchemaError, match="refusing"):
        open_store(db_url)


def test_outdated_schema_asks_for_upgrade(tmp_path: Path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    open_store(url).close()
    from storage import open as opener

    known = opener.latest_version("sqlite")
    monkeypatch.setattr(opener, "latest_version", lambda backend: known + 1)
    with pytest.raises(SchemaOutdated, match="redline db upgrade"):
        open_store(url)


def test_sqlite_durability_settings(tmp_path: Path):
    store = open_store(f"sqlite:///{tmp_path / 'd.sqlite'}")
    assert store.pragma("journal_mode") == "wal"
    assert store.pragma("synchronous") == 2  # FULL
    assert store.pragma("foreign_keys") == 1
    assert store.pragma("busy_timeout") >= 5000
    store.close()


def test_a_file_that_is_not_a_database_gives_a_clear_error(tmp_path: Path):
    bogus = tmp_path / "notes.txt"
    bogus.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match="not a SQLite database"):
        open_store(f"sqlite:///{bogus}")


def test_a_stale_cache_bouncing_between_versions_is_not_a_revision_each_time(store):
    article, _ = store.add_article(URL, NOW)
    old, new = page("Old headline"), page("New headline")
    store.record(fetch(article.id, "1", old))
    store.record(fetch(article.id, "2", new, base_revision=1, flip_confirmations=3))
    outcomes = [
        store.record(fetch(article.id, f"b{i}", pg, base_revision=2, flip_confirmations=3))
        for i, pg in enumerate([old, new, old, new, old])
    ]
    assert [o.outcome for o in outcomes] == [Outcome.UNCHANGED] * 5
    assert len(store.history(article.id)) == 2
    flips = [e for e in store.events(article.id) if e.kind is EventKind.FLIP_FLOP]
    assert len(flips) == 3 and flips[0].detail == "served revision 1 again"
    # An old version that stays for three checks in a row (the last bounce was the first of
    # them) is a genuine revert: the third sighting writes revision 3, later ones nothing.
    stays = [
        store.record(fetch(article.id, f"s{i}", old, base_revision=2, flip_confirmations=3))
        for i in range(3)
    ]
    assert [o.revision for o in stays] == [None, 3, None]


def test_a_permanent_redirect_continues_history_under_the_new_url(store):
    article, _ = store.add_article(URL, NOW)
    store.record(fetch(article.id, "1", page()))
    new_url = URL + "-renamed"
    store.record(
        fetch(
            article.id,
            "2",
            page(),
            base_revision=1,
            moved_to=new_url,
            events=((EventKind.MOVED, new_url),),
        )
    )
    assert store.get_article(new_url).id == article.id
    assert store.get_article(URL).id == article.id  # the old URL still finds it
    assert store.get_article(URL).url == new_url
    assert len(store.history(article.id)) == 1


def test_a_redirect_onto_another_tracked_article_marks_this_one_moved(store):
    a, _ = store.add_article(URL, NOW)
    b, _ = store.add_article(URL + "-b", NOW)
    store.record(fetch(a.id, "1", moved_to=URL + "-b", events=((EventKind.MOVED, URL + "-b"),)))
    assert store.get_article_by_id(a.id).status is ArticleStatus.MOVED
    assert store.get_article(URL + "-b").id == b.id


def test_claims_carry_what_the_policy_and_fast_path_need(store):
    article, _ = store.add_article(URL, NOW)
    store.record(
        fetch(article.id, "1", page(), raw_hash="abc", memory='{"x": 1}', next_check_at=NOW)
    )
    store.record(
        fetch(
            article.id,
            "2",
            raw_hash="def",
            missing=True,
            http_status=404,
            next_check_at=NOW,
            page=Page(kind=PageKind.NOT_ARTICLE, reason="http_404"),
        )
    )
    (claim,) = store.claim_due(NOW, "w", limit=1, lease_seconds=60)
    assert (claim.raw_hash, claim.memory, claim.missing_count) == ("def", '{"x": 1}', 1)
    assert claim.recent_changes == 1 and claim.first_seen == NOW and claim.site == "news.example"
    assert store.latest_page(article.id) == page()


def test_sources_are_claimed_once_per_interval(store):
    src, _ = store.add_source("https://news.example/rss", SourceKind.FEED, 600, NOW)
    assert [s.id for s in store.claim_due_sources(NOW, "w1", limit=5, lease_seconds=60)] == [src.id]
    assert store.claim_due_sources(NOW, "w2", limit=5, lease_seconds=60) == []
    store.record_source_check(src.id, "w1", NOW)
    assert (
        store.claim_due_sources(NOW + timedelta(seconds=599), "w2", limit=5, lease_seconds=60) == []
    )
    assert (
        len(store.claim_due_sources(NOW + timedelta(seconds=600), "w2", limit=5, lease_seconds=60))
        == 1
    )


def test_queue_status_reports_due_and_errors_by_host(store):
    a, _ = store.add_article(URL, NOW)
    store.add_article("https://other.example/x", NOW + timedelta(hours=1))
    store.record(fetch(a.id, "1", error="timeout", next_check_at=NOW))
    status = store.queue_status(NOW)
    assert status["due_now"] == 1 and status["by_status"] == {"active": 2}
    assert status["errors_by_host"] == [("news.example", 1, "timeout")]
    assert status["next_checks"][0][0] == "https://other.example/x"


def test_a_lasting_state_is_one_event_not_one_per_check(store):
    article, _ = store.add_article(URL, NOW)
    paywall = Page(kind=PageKind.NOT_ARTICLE, reason="paywall")
    for i in range(3):
        store.record(
            fetch(article.id, f"p{i}", paywall, events=((EventKind.UNAVAILABLE, "paywall"),))
        )
    store.record(fetch(article.id, "ok", page(), events=((EventKind.BACK, "answered again"),)))
    store.record(
        fetch(
            article.id, "p9", paywall, base_revision=1, events=((EventKind.UNAVAILABLE, "paywall"),)
        )
    )
    kinds = [e.kind for e in store.events(article.id)]
    assert kinds == [
        EventKind.FIRST_SEEN,
        EventKind.UNAVAILABLE,
        EventKind.BACK,
        EventKind.UNAVAILABLE,
    ]


def test_site_memory_is_kept_per_site(store):
    assert store.site_memory("news.example") is None
    store.save_site_memory("news.example", '{"furniture": ["a"]}')
    store.save_site_memory("news.example", '{"furniture": ["a", "b"]}')
    store.save_site_memory("other.example", "{}")
    assert store.site_memory("news.example") == '{"furniture": ["a", "b"]}'
    assert store.site_memory("other.example") == "{}"


def test_release_all_gives_back_every_lease(store):
    a, _ = store.add_article(URL, NOW)
    store.add_source("https://news.example/rss", SourceKind.FEED, 600, NOW)
    store.claim_due(NOW, "dead-worker", limit=5, lease_seconds=300)
    store.claim_due_sources(NOW, "dead-worker", limit=5, lease_seconds=300)
    assert store.release_all() == 1
    assert [c.article_id for c in store.claim_due(NOW, "w", limit=5, lease_seconds=60)] == [a.id]
    assert len(store.claim_due_sources(NOW, "w", limit=5, lease_seconds=60)) == 1


def test_a_batch_records_each_fetch_as_record_would(store):
    """One article twice in a batch, a fetch id twice, a missing article, a served-again page:
    `record_many` gives what one `record` after another gives, and fails as a whole."""
    a, _ = store.add_article(URL, NOW)
    b, _ = store.add_article(URL + "-b", NOW)
    first = store.record_many(
        [
            fetch(b.id, "b1", page("B")),
            fetch(a.id, "a1", page("A1")),
            fetch(a.id, "a2", page("A2"), base_revision=0, flip_confirmations=3),
            fetch(a.id, "a1", page("A1")),
        ],
        compare=body_change,
    )
    assert [(r.outcome, r.revision, r.duplicate) for r in first] == [
        (Outcome.NEW, 1, False),
        (Outcome.NEW, 1, False),
        (Outcome.CHANGED, 2, False),
        (Outcome.NEW, 1, True),
    ]
    assert [c.field for c in store.revision(a.id, 2).changes] == ["body"]
    again = store.record_many(
        [
            fetch(a.id, "a3", page("A1"), base_revision=2, flip_confirmations=3),
            fetch(b.id, "b2", page("B2"), base_revision=1, flip_confirmations=3),
        ]
    )
    assert [r.outcome for r in again] == [Outcome.UNCHANGED, Outcome.CHANGED]
    flips = [e for e in store.events(a.id) if e.kind is EventKind.FLIP_FLOP]
    assert [e.detail for e in flips] == ["served revision 1 again"]
    with pytest.raises(NotFound):
        store.record_many([fetch(b.id, "b3", page("B3"), base_revision=2), fetch(999, "x", page())])
    assert store.get_article(URL + "-b").revision_count == 2
