"""`decide`, as a table: every HTTP status and state transition of docs/crawling.md is a row.

Pure: no store, no network, no clock; the whole file runs in milliseconds.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redline.crawler.diff import compare
from redline.scheduler.alerts.rules import AlertRule, Subject, plan_alerts
from redline.scheduler.decision import (
    CheckSettings,
    Observation,
    canonical_target,
    decide,
    redirect_target,
    triggers,
    worth_extracting,
)
from redline.scheduler.policy import PolicySettings
from redline.storage import (
    ArticleStatus,
    Back,
    Change,
    ChangeClass,
    ChangeKind,
    Claim,
    Error,
    EventKind,
    FlipFlop,
    Gone,
    Moved,
    NewRevision,
    NotModified,
    Outcome,
    Page,
    PageKind,
    Unavailable,
    Unchanged,
)
from tests.conftest import NOW

URL = "https://news.example/2026/11/budget"
OTHER = "https://news.example/2026/11/budget-renamed"
DAY = timedelta(days=1)
SETTINGS = CheckSettings(policy=PolicySettings(jitter=0))
ARTICLE = Claim(
    article_id=7,
    url=URL,
    owner="w",
    lease_until=NOW,
    due_at=NOW,
    etag='"old"',
    last_modified="Mon, 23 Nov 2026 10:00:00 GMT",
    latest_revision=2,
    latest_hash="h2",
    site="news.example",
    first_seen=NOW - DAY,
    last_changed_at=NOW - DAY,
    raw_hash="raw-old",
    memory='{"m": 1}',
)
PAGE = Page(headline="Council approves budget", body=("Text.",))
EDIT = Change("headline", ChangeKind.CHANGED, ChangeClass.MINOR, "a", "b", words_added=1)
PAYWALL = Page(kind=PageKind.NOT_ARTICLE, reason="paywall")


def answer(**kw) -> Observation:
    """A 200 that was extracted: the page with hash `h3` (a new version) unless told."""
    kw.setdefault("status", 200)
    kw.setdefault("raw_hash", "raw-new")
    kw.setdefault("etag", '"new"')
    if "page" in kw or "same_text" not in kw:
        kw.setdefault("page", PAGE)
        kw.setdefault("content_hash", "h3")
        kw.setdefault("changes", (EDIT,))
    return Observation(**kw)


GONE = {"status": ArticleStatus.GONE, "last_event": EventKind.GONE}
NEXT_QUIET = NOW + DAY / 4  # a quarter of the day it has been quiet
NEXT_CHANGED = NOW + timedelta(minutes=5)  # just changed: the minimum interval
RETRY = NOW + timedelta(minutes=5)  # first failure: error_base

# (name, changes to the claim, observation, outcome, word, status, events, next check)
ROWS = [
    ("timeout", {}, Observation(error="timeout", message="no answer"),
     Error("timeout", "no answer"), "error", None, [], RETRY),
    ("HTTP 500", {}, Observation(status=500),
     Error("http_error", "HTTP 500"), "error", None, [], RETRY),
    ("429 with Retry-After", {}, Observation(status=429, retry_after=120),
     Error("rate_limited", "HTTP 429"), "error", None, [], NOW + timedelta(seconds=120)),
    ("503", {}, Observation(status=503),
     Error("rate_limited", "HTTP 503"), "error", None, [], RETRY),
    ("a 3xx that was not followed", {}, Observation(status=302),
     Error("http_error", "HTTP 302"), "error", None, [], RETRY),
    ("first 404", {}, Observation(status=404),
     Error("http_error", "HTTP 404"), "error", None, [], RETRY),
    ("third 404 in a row", {"missing_count": 2}, Observation(status=404),
     Gone(), "gone", ArticleStatus.GONE, [(EventKind.GONE, "HTTP 404")], NOW + DAY),
    ("410", {}, Observation(status=410),
     Gone(), "gone", ArticleStatus.GONE, [(EventKind.GONE, "HTTP 410")], NOW + DAY),
    ("410 again while gone", GONE, Observation(status=410),
     Gone(), "gone", ArticleStatus.GONE, [], NOW + DAY),
    ("304", {}, Observation(status=304), NotModified(), "not_modified", None, [], NEXT_QUIET),
    ("304 while gone", GONE, Observation(status=304),
     Back(), "unchanged", ArticleStatus.ACTIVE, [(EventKind.BACK, "HTTP 304")], NEXT_QUIET),
    ("identical bytes", {}, Observation(status=200, raw_hash="raw-old"),
     NotModified(), "not_modified", None, [], NEXT_QUIET),
    ("fast re-check matched", {}, answer(same_text=True),
     Unchanged(), "unchanged", None, [], NEXT_QUIET),
    ("same text after extraction", {}, answer(content_hash="h2", changes=()),
     Unchanged(), "unchanged", None, [], NEXT_QUIET),
    ("an edit", {}, answer(),
     NewRevision(PAGE, "h3", 2, (EDIT,)), "changed", None, [], NEXT_CHANGED),
    ("first version", {"latest_revision": 0, "latest_hash": None}, answer(changes=()),
     NewRevision(PAGE, "h3", 0), "new", None, [], NEXT_CHANGED),
    ("a paywall", {}, answer(page=PAYWALL, content_hash="hp"),
     Unavailable("paywall"), "unavailable", None, [(EventKind.UNAVAILABLE, "paywall")],
     NEXT_QUIET),
    ("a paywall again", {"last_event": EventKind.UNAVAILABLE}, answer(page=PAYWALL),
     Unavailable("paywall"), "unavailable", None, [], NEXT_QUIET),
    ("back with its old text", GONE, answer(content_hash="h2"),
     Back(), "unchanged", ArticleStatus.ACTIVE, [(EventKind.BACK, "HTTP 200")], NEXT_QUIET),
    ("back, edited", GONE, answer(),
     NewRevision(PAGE, "h3", 2, (EDIT,)), "changed", ArticleStatus.ACTIVE,
     [(EventKind.BACK, "HTTP 200")], NEXT_CHANGED),
    ("a soft 404 while gone (stays gone)", GONE, answer(page=PAYWALL),
     Unavailable("paywall"), "unavailable", None,
     [(EventKind.UNAVAILABLE, "paywall")], NOW + DAY),
    ("moved, same text", {}, answer(content_hash="h2", moved_to=OTHER, moved_detail=OTHER),
     Moved(OTHER), "unchanged", None, [(EventKind.MOVED, OTHER)], NEXT_QUIET),
    ("moved onto a tracked article", {}, answer(moved_to=OTHER, moved_owner=9),
     Moved(OTHER, merged=True), "unchanged", ArticleStatus.MOVED, [(EventKind.MOVED, OTHER)],
     None),
    ("moved and edited", {}, answer(moved_to=OTHER, moved_detail=f"{OTHER} (rel=canonical)"),
     NewRevision(PAGE, "h3", 2, (EDIT,)), "changed", None,
     [(EventKind.MOVED, f"{OTHER} (rel=canonical)")], NEXT_CHANGED),
    ("moved, answering 304", {}, Observation(status=304, moved_to=OTHER),
     Moved(OTHER), "unchanged", None, [(EventKind.MOVED, OTHER)], NEXT_QUIET),
    ("an older version, first sighting", {}, answer(content_hash="h1", older_revision=1),
     FlipFlop(1, "h1"), "unchanged", None, [(EventKind.FLIP_FLOP, "served revision 1 again")],
     NEXT_QUIET),
    ("an older version, second sighting", {"flip_hash": "h1", "flip_count": 1},
     answer(content_hash="h1", older_revision=1),
     FlipFlop(1, "h1"), "unchanged", None, [], NEXT_QUIET),
    ("an older version that stayed: a revert", {"flip_hash": "h1", "flip_count": 2},
     answer(content_hash="h1", older_revision=1),
     NewRevision(PAGE, "h1", 2, (EDIT,)), "changed", None, [], NEXT_CHANGED),
    ("past the maximum age", {"first_seen": NOW - 30 * DAY}, answer(content_hash="h2"),
     Unchanged(), "unchanged", ArticleStatus.STOPPED, [], None),
    ("an error past the maximum age", {"first_seen": NOW - 30 * DAY}, Observation(status=500),
     Error("http_error", "HTTP 500"), "error", ArticleStatus.STOPPED, [], None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("claim", "seen", "outcome", "word", "status", "events", "upcoming"),
    [row[1:] for row in ROWS],
    ids=[row[0] for row in ROWS],
)
def test_decide(claim, seen, outcome, word, status, events, upcoming):
    decision = decide(replace(ARTICLE, **claim), seen, SETTINGS, NOW)
    assert decision.outcome == outcome
    assert str(decision.outcome.word) == word
    assert decision.status == status
    assert [(e.kind, e.detail) for e in decision.events] == events
    assert decision.next_check_at == upcoming


def test_errors_keep_what_the_crawler_knows_and_count_the_failure():
    state = decide(replace(ARTICLE, error_count=2), Observation(status=404), SETTINGS, NOW).state
    assert (state.etag, state.raw_hash, state.memory) == ('"old"', "raw-old", None)
    assert (state.error_count, state.missing_count) == (3, 1)
    assert state.last_error == "http_error: HTTP 404"
    failing = replace(ARTICLE, error_count=3)
    assert decide(failing, Observation(status=500), SETTINGS, NOW).next_check_at == NOW + (
        timedelta(minutes=40)  # 5, 10, 20, 40 minutes...
    )


def test_a_read_answer_replaces_validators_and_clears_failures():
    failing = replace(ARTICLE, error_count=4, missing_count=1, flip_hash="h1", flip_count=1)
    state = decide(failing, answer(memory='{"m": 2}'), SETTINGS, NOW).state
    assert (state.etag, state.raw_hash, state.memory) == ('"new"', "raw-new", '{"m": 2}')
    assert (state.error_count, state.missing_count, state.flip_count, state.last_error) == (
        0, 0, 0, None,
    )  # fmt: skip
    kept = decide(failing, Observation(status=304), SETTINGS, NOW).state
    assert (kept.etag, kept.raw_hash, kept.error_count) == ('"old"', "raw-old", 0)


def test_gone_forgets_the_validators_and_counts_404s():
    state = decide(replace(ARTICLE, missing_count=2), Observation(status=404), SETTINGS, NOW).state
    assert (state.etag, state.raw_hash, state.missing_count) == (None, None, 3)


def test_a_flip_flop_counts_sightings_in_a_row():
    seen = answer(content_hash="h1", older_revision=1)
    first = decide(ARTICLE, seen, SETTINGS, NOW).state
    assert (first.flip_hash, first.flip_count) == ("h1", 1)
    other = decide(replace(ARTICLE, flip_hash="h0", flip_count=2), seen, SETTINGS, NOW).state
    assert (other.flip_hash, other.flip_count) == ("h1", 1)  # a different older version
    off = CheckSettings(flip_confirmations=0, policy=SETTINGS.policy)
    assert isinstance(decide(ARTICLE, seen, off, NOW).outcome, NewRevision)


def test_gone_articles_are_looked_at_daily_and_a_site_policy_applies():
    site = PolicySettings(min_interval=timedelta(hours=3), jitter=0)
    settings = replace(SETTINGS, site_policies={"news.example": site})
    assert decide(ARTICLE, answer(), settings, NOW).next_check_at == NOW + timedelta(hours=3)
    other = replace(ARTICLE, site="elsewhere.example")
    assert decide(other, answer(), settings, NOW).next_check_at == NEXT_CHANGED


def test_alert_kinds_name_what_the_revision_is_about():
    body = Change(
        "body", ChangeKind.CHANGED, ChangeClass.SUBSTANTIVE, notes=("correction",),
        stealth=True, words_added=4, words_removed=2,
    )  # fmt: skip
    item = Change("item:k1", ChangeKind.CHANGED, ChangeClass.MINOR, "a", "b")
    added = Change("item:k2", ChangeKind.ADDED, ChangeClass.SUBSTANTIVE, None, "c")
    assert triggers([EDIT, body, item, added], first=False) == (
        "body_changed", "correction", "headline_changed", "item_added", "item_updated",
        "stealth_edit", "text_added", "text_removed",
    )  # fmt: skip
    assert triggers([EDIT], first=True) == ("new_article",)
    decision = decide(ARTICLE, answer(changes=(EDIT,)), SETTINGS, NOW)
    assert decision.alert_kinds == ("headline_changed", "text_added")
    assert decide(ARTICLE, answer(content_hash="h2"), SETTINGS, NOW).alert_kinds == ()


def test_a_title_edit_fires_title_changed_and_a_title_rule():
    old = Page(headline="Mayor resigns after budget defeat", body=("Text.",))
    new = replace(old, title="Metropolis mayor quits")
    changes = compare(old, new)
    assert [c.field for c in changes] == ["title"]
    assert triggers(changes, first=False) == ("text_added", "text_removed", "title_changed")
    decision = decide(ARTICLE, answer(changes=changes, page=new), SETTINGS, NOW)
    assert "title_changed" in decision.alert_kinds
    titles = AlertRule("titles", frozenset({"title_changed"}), ("desk",))
    headlines = AlertRule("headlines", frozenset({"headline_changed"}), ("desk",))
    subject = Subject(ARTICLE.article_id, URL, "news.example")
    planned = plan_alerts([titles, headlines], decision, subject, NOW)
    assert [(a.rule, a.kinds) for a in planned] == [("titles", ("title_changed",))]


def test_only_new_bytes_or_a_move_are_worth_extracting():
    assert worth_extracting(ARTICLE, Observation(status=200, raw_hash="raw-new"))
    assert not worth_extracting(ARTICLE, Observation(status=200, raw_hash="raw-old"))
    assert worth_extracting(ARTICLE, Observation(status=200, raw_hash="raw-old", moved_to=OTHER))
    assert not worth_extracting(ARTICLE, Observation(status=304))
    assert not worth_extracting(ARTICLE, Observation(status=404, raw_hash="x"))
    assert not worth_extracting(ARTICLE, Observation(error="timeout"))


def test_a_move_is_a_permanent_redirect_or_a_same_site_canonical():
    assert redirect_target(ARTICLE, OTHER, [(URL, 301)]) == OTHER
    assert redirect_target(ARTICLE, OTHER, [(URL, 301), (OTHER + "?x", 308)]) == OTHER
    assert redirect_target(ARTICLE, OTHER, [(URL, 302)]) is None  # temporary
    assert redirect_target(ARTICLE, URL + "#top", [(URL, 301)]) is None  # the same article
    page = replace(PAGE, canonical_url=OTHER)
    assert canonical_target(ARTICLE, URL, [], page) == OTHER
    assert canonical_target(ARTICLE, URL, [(URL, 302)], page) is None
    elsewhere = replace(PAGE, canonical_url="https://other.example/story")
    assert canonical_target(ARTICLE, URL, [], elsewhere) is None  # another site: ignored
    assert canonical_target(ARTICLE, URL, [], replace(PAYWALL, canonical_url=OTHER)) is None


statuses = st.one_of(st.none(), st.integers(100, 599))
observations = st.builds(
    Observation,
    status=statuses,
    error=st.one_of(st.none(), st.sampled_from(["timeout", "dns_error"])),
    raw_hash=st.sampled_from([None, "raw-old", "raw-new"]),
    moved_to=st.sampled_from([None, OTHER]),
    moved_owner=st.sampled_from([None, 9]),
    page=st.sampled_from([None, PAGE, PAYWALL]),
    same_text=st.booleans(),
    content_hash=st.sampled_from([None, "h1", "h2", "h3"]),
    older_revision=st.sampled_from([None, 1]),
)
claims = st.builds(
    replace,
    st.just(ARTICLE),
    status=st.sampled_from(list(ArticleStatus)),
    missing_count=st.integers(0, 5),
    flip_count=st.integers(0, 5),
    flip_hash=st.sampled_from([None, "h1"]),
    last_event=st.sampled_from([None, *EventKind]),
    latest_revision=st.integers(0, 3),
)


@given(claims, observations)
def test_every_input_gets_one_consistent_decision(claim, seen):
    decision = decide(claim, seen, SETTINGS, NOW)
    outcome = decision.outcome
    if isinstance(outcome, NewRevision):
        assert seen.page is not None and seen.page.kind is not PageKind.NOT_ARTICLE
        assert outcome.content_hash != claim.latest_hash
        assert outcome.base_revision == claim.latest_revision
        assert outcome.word in (Outcome.NEW, Outcome.CHANGED)
    if decision.next_check_at is None:
        assert decision.status in (ArticleStatus.STOPPED, ArticleStatus.MOVED)
    if seen.error is not None:
        assert isinstance(outcome, Error) and decision.state.error_count == claim.error_count + 1
    kinds = [e.kind for e in decision.events]
    assert len(kinds) == len(set(kinds))  # never the same event twice for one check
    if claim.status is ArticleStatus.GONE and claim.last_event is EventKind.GONE:
        assert EventKind.GONE not in kinds


def test_while_an_older_version_is_counted_every_answer_is_read():
    counting = replace(ARTICLE, flip_hash="h1", flip_count=1)
    assert worth_extracting(counting, Observation(status=200, raw_hash="raw-old"))
    seen = answer(content_hash="h1", older_revision=1, memory='{"learnt": "from the old page"}')
    assert decide(counting, seen, SETTINGS, NOW).state.memory is None  # the latest's is kept
