"""Behaviour of the Store on both backends: the write protocol, history reads, schema safety."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from redline.storage import (
    AlertStatus,
    ArticleStatus,
    Change,
    ChangeClass,
    ChangeKind,
    CrawlState,
    Error,
    EventKind,
    EventNote,
    FlipFlop,
    Gone,
    InvalidInput,
    Moved,
    NotFound,
    NotModified,
    Outcome,
    Page,
    PlannedAlert,
    SchemaError,
    SchemaOutdated,
    SchemaTooNew,
    SourceKind,
    StorageError,
    Unavailable,
    open_store,
)
from redline.storage.codec import content_hash
from tests.conftest import NOW
from tests.records import check, revision

URL = "https://news.example/politics/story-1"
HEADLINE = Change("headline", ChangeKind.CHANGED, ChangeClass.MINOR, "a", "b")


def page(headline: str = "Council approves budget", *body: str) -> Page:
    return Page(headline=headline, body=body or ("First paragraph.", "Second paragraph."))


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
    first = store.record(revision(article.id, "f1", page(), raw_html=b"<h1>v1</h1>"))
    same = store.record(check(article.id, "f2"))
    edited = page("Council approves revised budget")
    second = store.record(revision(article.id, "f3", edited, base=1, changes=[HEADLINE]))
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
    result = revision(article.id, "same-fetch", page())
    assert store.record(result).duplicate is False
    repeat = store.record(result)
    assert repeat.duplicate and (repeat.outcome, repeat.revision) == (Outcome.NEW, 1)
    assert len(store.history(article.id)) == 1


def test_a_revision_diffed_against_a_stale_base_writes_nothing_and_says_so(store):
    """Another worker appended a revision after this check compared against revision 1: the
    store writes nothing (no revision, no fetch row, the lease kept) and reports it stale, so
    that the checker compares against the latest revision and decides again."""
    article, _ = store.add_article(URL, NOW)
    assert len(store.claim_due(NOW, "w1", limit=1, lease_seconds=60)) == 1
    store.record(revision(article.id, "a", page()))
    store.record(revision(article.id, "b", page("Second"), base=1, changes=[HEADLINE]))
    late = revision(article.id, "c", page("Third"), base=1, owner="w1")
    stale = store.record(late)
    assert stale.stale and stale.revision is None
    assert [r.number for r in store.history(article.id)] == [1, 2]
    assert store.claim_due(NOW, "w2", limit=1, lease_seconds=60) == []  # still w1's
    again = store.record(revision(article.id, "c", page("Third"), base=2, owner="w1"))
    assert (again.revision, again.duplicate, again.stale) == (3, False, False)


@pytest.mark.parametrize(
    ("outcome", "word"),
    [
        (NotModified(), Outcome.NOT_MODIFIED),
        (Error("timeout", "no answer in 30 s"), Outcome.ERROR),
        (Unavailable("paywall"), Outcome.UNAVAILABLE),
        (Gone(), Outcome.GONE),
    ],
)
def test_checks_without_a_new_version_never_touch_history(store, outcome, word):
    article, _ = store.add_article(URL, NOW)
    store.record(revision(article.id, "f1", page(), state=CrawlState(etag='"v1"')))
    state = CrawlState(etag='"v1"', error_count=1, last_error="timeout: no answer in 30 s")
    result = store.record(check(article.id, "f2", outcome, state=state))
    assert result.outcome is word and result.revision is None
    assert len(store.history(article.id)) == 1
    assert store.revision(article.id, 1).page == page()
    after = store.get_article(URL)
    assert after.etag == '"v1"' and after.last_checked_at == NOW
    assert (after.error_count, after.last_error) == (1, "timeout: no answer in 30 s")


def test_events_and_alerts_are_written_with_their_check(store):
    """Events and the outbox rows planned for them (and for the revision) are written in the
    check's transaction, each alert keyed by article, revision or event, rule and channel."""
    article, _ = store.add_article(URL, NOW)
    new = PlannedAlert("arrivals", "hook", ("new_article",), NOW)
    store.record(revision(article.id, "f1", page(), alerts=[new]))
    gone = PlannedAlert("removals", "hook", ("article_gone",), NOW, event=0)
    recorded = store.record(
        check(
            article.id,
            "f2",
            Gone(),
            status=ArticleStatus.GONE,
            http_status=410,
            events=[EventNote(EventKind.GONE, "HTTP 410")],
            alerts=[gone],
        )
    )
    assert recorded.outcome is Outcome.GONE
    assert store.get_article(URL).status is ArticleStatus.GONE
    events = store.events(article.id)
    assert [e.kind for e in events] == [EventKind.FIRST_SEEN, EventKind.GONE]
    alerts = store.alerts(AlertStatus.PENDING)
    assert [(a.rule, a.kinds, a.revision, a.event_id) for a in alerts] == [
        ("arrivals", ("new_article",), 1, None),
        ("removals", ("article_gone",), None, events[1].id),
    ]
    assert [a.idempotency_key for a in alerts] == [
        f"{article.id}:r1:arrivals:hook",
        f"{article.id}:e{events[1].id}:removals:hook",
    ]
    assert len(store.history(article.id)) == 1


def test_claims_lease_due_articles_once_until_the_lease_expires(store):
    a, _ = store.add_article(URL, NOW)
    b, _ = store.add_article(URL + "-b", NOW - timedelta(minutes=5))
    store.add_article(URL + "-later", NOW + timedelta(hours=1))
    store.record(revision(b.id, "fb", page(), next_at=NOW - timedelta(minutes=1)))
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
    store.record(revision(article.id, "f1", page(), owner="w1", next_at=later))
    assert store.claim_due(NOW + timedelta(minutes=29), "w2", limit=5, lease_seconds=60) == []
    assert len(store.claim_due(later, "w2", limit=5, lease_seconds=60)) == 1
    assert store.get_article(URL).next_check_at == later


def test_revisions_are_append_only_in_the_database(store):
    article, _ = store.add_article(URL, NOW)
    store.record(revision(article.id, "f1", page()))
    with pytest.raises(StorageError), store._tx(write=True) as tx:
        tx.execute("UPDATE revisions SET headline = 'forged'")
    with pytest.raises(StorageError), store._tx(write=True) as tx:
        tx.execute("DELETE FROM revisions")
    assert store.revision(article.id, 1).page == page()


def test_export_iterators_honour_since(store):
    article, _ = store.add_article(URL, NOW)
    store.record(revision(article.id, "f1", page()))
    store.record(revision(article.id, "f2", page("Later"), base=1, at=NOW + timedelta(days=1)))
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
    from redline.storage import open as opener

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


def test_a_flip_flop_is_recorded_as_unchanged_and_its_count_kept_for_the_next_claim(store):
    article, _ = store.add_article(URL, NOW)
    store.record(revision(article.id, "1", page("Old headline")))
    store.record(revision(article.id, "2", page("New headline"), base=1, next_at=NOW))
    old_hash = content_hash(page("Old headline"))
    flip = store.record(
        check(
            article.id,
            "3",
            FlipFlop(1, old_hash),
            state=CrawlState(flip_hash=old_hash, flip_count=1),
            events=[EventNote(EventKind.FLIP_FLOP, "served revision 1 again")],
            next_at=NOW,
        )
    )
    assert flip.outcome is Outcome.UNCHANGED and len(store.history(article.id)) == 2
    assert store.revision_with_hash(article.id, old_hash) == 1
    assert store.revision_with_hash(article.id, "no-such-hash") is None
    (claim,) = store.claim_due(NOW, "w", limit=1, lease_seconds=60)
    assert (claim.flip_hash, claim.flip_count) == (old_hash, 1)
    assert claim.last_event is EventKind.FLIP_FLOP


def test_a_permanent_redirect_continues_history_under_the_new_url(store):
    article, _ = store.add_article(URL, NOW)
    store.record(revision(article.id, "1", page()))
    new_url = URL + "-renamed"
    moved = store.record(
        check(
            article.id,
            "2",
            Moved(new_url),
            moved_to=new_url,
            events=[EventNote(EventKind.MOVED, new_url)],
        )
    )
    assert moved.outcome is Outcome.UNCHANGED
    assert store.get_article(new_url).id == article.id
    assert store.get_article(URL).id == article.id  # the old URL still finds it
    assert store.get_article(URL).url == new_url
    assert len(store.history(article.id)) == 1


def test_a_redirect_onto_another_tracked_article_marks_this_one_moved(store):
    a, _ = store.add_article(URL, NOW)
    b, _ = store.add_article(URL + "-b", NOW)
    store.record(
        check(
            a.id,
            "1",
            Moved(URL + "-b", merged=True),
            status=ArticleStatus.MOVED,
            events=[EventNote(EventKind.MOVED, URL + "-b")],
        )
    )
    assert store.get_article_by_id(a.id).status is ArticleStatus.MOVED
    assert store.get_article(URL + "-b").id == b.id


def test_claims_carry_what_the_policy_and_fast_path_need(store):
    source, _ = store.add_source("https://news.example/rss", SourceKind.FEED, 600, NOW)
    article, _ = store.add_article(URL, NOW, source_id=source.id)
    state = CrawlState(raw_hash="abc", memory='{"x": 1}')
    store.record(revision(article.id, "1", page(), state=state, next_at=NOW))
    unavailable = CrawlState(raw_hash="def", missing_count=1)  # memory None: kept
    store.record(
        check(
            article.id,
            "2",
            Unavailable("soft_404"),
            state=unavailable,
            http_status=404,
            events=[EventNote(EventKind.UNAVAILABLE, "soft_404")],
            next_at=NOW,
        )
    )
    (claim,) = store.claim_due(NOW, "w", limit=1, lease_seconds=60)
    assert (claim.raw_hash, claim.memory, claim.missing_count) == ("def", '{"x": 1}', 1)
    assert claim.recent_changes == 1 and claim.first_seen == NOW and claim.site == "news.example"
    assert (claim.last_event, claim.source_id) == (EventKind.UNAVAILABLE, source.id)
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
    failed = CrawlState(error_count=1, last_error="timeout")
    store.record(check(a.id, "1", Error("timeout"), state=failed, next_at=NOW))
    status = store.queue_status(NOW)
    assert status["due_now"] == 1 and status["by_status"] == {"active": 2}
    assert status["errors_by_host"] == [("news.example", 1, "timeout")]
    assert status["next_checks"][0][0] == "https://other.example/x"


def test_queue_status_counts_articles_the_plain_fallback_read_last(store):
    plain = Page(headline="Council approves budget", body=("Plain.",), extractor="redline/plain")
    full = Page(headline="Council approves budget", body=("Full.",), extractor="redline")
    ids = [store.add_article(f"https://news.example/s/{n}", NOW)[0].id for n in range(8)]
    for n, article_id in enumerate(ids[:7]):  # seven read plain...
        store.record(revision(article_id, f"p{n}", plain))
    store.record(revision(ids[0], "f0", full, base=1))  # ...one read in full since
    store.record(check(ids[1], "g1", Gone(), status=ArticleStatus.GONE))  # one gone
    store.record(revision(ids[7], "f7", full))
    status = store.queue_status(NOW)
    assert status["plain_fallback"] == 5
    assert status["plain_fallback_urls"] == [f"https://news.example/s/{n}" for n in range(2, 7)]


def test_history_rows_carry_the_title(store):
    article, _ = store.add_article(URL, NOW)
    titled = Page(headline="Mayor resigns", title="Metropolis mayor quits", body=("Text.",))
    store.record(revision(article.id, "1", titled))
    (info,) = store.history(article.id)
    assert (info.headline, info.title) == ("Mayor resigns", "Metropolis mayor quits")
    assert store.revision(article.id, 1).page.title == "Metropolis mayor quits"


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


def test_a_batch_records_each_check_as_record_would(store):
    """One article twice in a batch (the second diffed against a revision the first replaced),
    a fetch id twice, a missing article: `record_many` gives what one `record` after another
    gives, and fails as a whole."""
    a, _ = store.add_article(URL, NOW)
    b, _ = store.add_article(URL + "-b", NOW)
    first = store.record_many(
        [
            revision(b.id, "b1", page("B")),
            revision(a.id, "a1", page("A1")),
            revision(a.id, "a2", page("A2")),
            revision(a.id, "a1", page("A1")),
        ]
    )
    assert [(r.outcome, r.revision, r.duplicate, r.stale) for r in first] == [
        (Outcome.NEW, 1, False, False),
        (Outcome.NEW, 1, False, False),
        (Outcome.NEW, None, False, True),
        (Outcome.NEW, 1, True, False),
    ]
    again = store.record_many(
        [check(a.id, "a3"), revision(b.id, "b2", page("B2"), base=1, changes=[HEADLINE])]
    )
    assert [r.outcome for r in again] == [Outcome.UNCHANGED, Outcome.CHANGED]
    with pytest.raises(NotFound):
        store.record_many([revision(b.id, "b3", page("B3"), base=2), revision(999, "x", page())])
    assert store.get_article(URL + "-b").revision_count == 2
