"""The JSON API over a real store (SQLite and PostgreSQL): every route, its errors, the write
token, the SSRF guard on added URLs, and every answer checked against /openapi.json."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks as st_checks
from starlette.testclient import TestClient

from redline.storage import (
    ArticleStatus,
    EventKind,
    EventNote,
    FeedItem,
    Gone,
    Page,
    PlannedAlert,
    Store,
    open_store,
)
from redline.web import WebSettings, WebState, create_app
from redline.web.api import READS
from tests.records import NOW, check
from tests.seeded import XSS, record_pages, story

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
LIVE_URL = "https://news.example.org/live/war"


@dataclass(frozen=True)
class Seeded:
    story: int  # three revisions: headline rewrite, then a correction
    live: int  # a live feed: one item updated, one removed, one added
    hostile: int  # scraped text full of markup


def live_feed(store: Store) -> int:
    first = Page(
        headline="War: live",
        items=(FeedItem("a", "Strike on port", "Two ships hit."), FeedItem("b", "Talks", "Soon.")),
    )
    second = Page(
        headline="War: live",
        items=(
            FeedItem("c", "Ceasefire call", "Leaders meet."),
            FeedItem("a", "Strike on port", "Three ships hit.", updated="Updated 10:40"),
        ),
    )
    return record_pages(store, LIVE_URL, [first, second])


def seed(store: Store) -> Seeded:
    story_id = story(store)
    live_id = live_feed(store)
    bad = Page(headline=XSS, body=(XSS, "calm"))
    worse = Page(headline=XSS + " again", body=(XSS, "calm " + XSS))
    hostile_id = record_pages(store, "https://evil.example.net/story", [bad, worse])
    alert = PlannedAlert("arrivals", "hook", ("article_gone",), NOW, event=0)
    gone = check(
        story_id,
        "gone-1",
        Gone(),
        at=NOW + timedelta(hours=5),
        status=ArticleStatus.GONE,
        events=[EventNote(EventKind.GONE, "410")],
        alerts=[alert],
        http_status=410,
    )
    store.record(gone)
    return Seeded(story_id, live_id, hostile_id)


def client_for(store: Store, **settings_: Any) -> TestClient:
    settings_["allow_private_networks"] = settings_.pop("allow_private", False)
    state = WebState(store, WebSettings(**settings_), clock=lambda: NOW)
    return TestClient(create_app(state), raise_server_exceptions=False)


@pytest.fixture
def seeded(store: Store) -> Seeded:
    return seed(store)


@pytest.fixture
def api(store: Store, seeded: Seeded) -> TestClient:
    return client_for(store, token=TOKEN)


def get(client: TestClient, path: str, status: int = 200) -> Any:
    response = client.get("/api/v1" + path)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


# --- recent changes ----------------------------------------------------------------------------


def test_changes_lists_revisions_and_events_newest_first(api: TestClient, seeded: Seeded) -> None:
    entries = get(api, "/changes")["entries"]
    assert entries[0]["type"] == "event" and entries[0]["event"]["kind"] == "gone"
    assert entries[0]["badges"] == ["gone"]
    story = [e for e in entries if e["article_id"] == seeded.story and e["type"] == "revision"]
    assert [e["revision"] for e in story] == [3, 2]
    third, second = story
    assert second["old_headline"] == "Minister resigns after budget row"
    assert second["headline"] == "Minister quits as budget row deepens"
    assert second["diff_link"] == f"/articles/{seeded.story}/diff/1/2"
    assert third["summary"].startswith("+") and "words: …" in third["summary"]
    assert "correction" in third["badges"]
    body = next(c for c in third["changes"] if c["field"] == "body")
    assert body["class"] in {"substantive", "rewrite", "minor"} and body["old"] is None
    assert third["at"].endswith("+00:00")


def test_changes_filters(api: TestClient, seeded: Seeded) -> None:
    only = get(api, "/changes?kind=headline")["entries"]
    assert {(e["article_id"], e["revision"]) for e in only} >= {(seeded.story, 2)}
    assert all("headline" in e["fields"] for e in only)
    items = get(api, f"/changes?kind=item&article={seeded.live}")["entries"]
    assert [e["revision"] for e in items] == [2]
    gone = get(api, "/changes?kind=gone")["entries"]
    assert [e["type"] for e in gone] == ["event"]
    assert get(api, "/changes?site=evil.example.net")["entries"][0]["article_id"] == seeded.hostile
    assert (
        get(api, "/changes?site=WWW.Evil.example.net")["entries"][0]["site"] == "evil.example.net"
    )
    assert get(api, "/changes?since=2030-01-01")["entries"] == []
    assert get(api, "/changes?until=2026-11-27")["entries"] == []
    late = get(api, "/changes?since=2026-11-27T16:30:00Z")["entries"]
    assert [e["type"] for e in late] == ["event"]


def test_changes_pages_with_a_cursor(api: TestClient) -> None:
    everything = get(api, "/changes?limit=200")["entries"]
    seen: list[Any] = []
    path = "/changes?limit=2"
    while True:
        page = get(api, path)
        assert len(page["entries"]) <= 2
        seen.extend(page["entries"])
        if page["next_cursor"] is None:
            break
        path = f"/changes?limit=2&cursor={page['next_cursor']}"
    assert seen == everything


MALFORMED_FILTERS = [
    ("limit=0", "limit"),
    ("limit=201", "limit"),
    ("limit=ten", "limit"),
    ("cursor=%25%25%25", "cursor"),
    ("cursor=bm9wZQ", "cursor"),
    ("since=yesterday", "since"),
    ("until=2026-13-01", "until"),
    ("since=2026-12-02&until=2026-12-01", "since"),
    ("kind=weather", "kind"),
    ("class=huge", "class"),
    ("article=abc", "article"),
]


def test_malformed_change_filters_are_422_naming_the_parameter(api: TestClient) -> None:
    for query, name in MALFORMED_FILTERS:
        error = get(api, f"/changes?{query}", 422)
        assert name in error["error"] and error["status"] == 422, query


# --- articles ----------------------------------------------------------------------------------


def test_articles_listing_and_filters(api: TestClient, seeded: Seeded) -> None:
    listed = get(api, "/articles")["articles"]
    assert {a["id"] for a in listed} == {seeded.story, seeded.live, seeded.hostile}
    gone = get(api, "/articles?status=gone")["articles"]
    assert [a["id"] for a in gone] == [seeded.story]
    assert get(api, "/articles?site=evil.example.net")["articles"][0]["id"] == seeded.hostile
    first = get(api, "/articles?limit=1")
    rest = get(api, f"/articles?limit=5&cursor={first['next_cursor']}")
    assert [a["id"] for a in first["articles"] + rest["articles"]] == [a["id"] for a in listed]
    assert "status" in get(api, "/articles?status=sleeping", 422)["error"]


def test_article_page_merges_revisions_and_events(api: TestClient, seeded: Seeded) -> None:
    data = get(api, f"/articles/{seeded.story}")
    assert data["article"]["status"] == "gone" and data["article"]["revisions"] == 3
    assert data["urls"] == ["https://news.example.org/2026/12/05/minister"]
    kinds = [(line["type"], line.get("revision")) for line in data["timeline"]]
    assert kinds == [("event", None), *(("revision", n) for n in (3, 2, 1)), ("event", None)]
    assert [line["kind"] for line in data["timeline"] if line["type"] == "event"] == [
        "gone",
        "first_seen",
    ]
    assert data["checks"][0]["outcome"] == "gone" and data["checks"][0]["http_status"] == 410
    revisions = get(api, f"/articles/{seeded.story}/revisions")["revisions"]
    assert [r["revision"] for r in revisions] == [1, 2, 3]
    assert [c["field"] for c in revisions[1]["changes"]] == ["headline"]
    events = get(api, f"/articles/{seeded.story}/events")["events"]
    assert [(e["kind"], e["detail"]) for e in events][-1] == ("gone", "410")
    checks = get(api, f"/articles/{seeded.story}/checks?limit=2")
    assert len(checks["checks"]) == 2 and checks["next_cursor"]
    more = get(api, f"/articles/{seeded.story}/checks?cursor={checks['next_cursor']}")
    assert [c["revision"] for c in more["checks"]] == [2, 1]


def test_one_revision(api: TestClient, seeded: Seeded) -> None:
    data = get(api, f"/articles/{seeded.story}/revisions/3")
    assert data["page"]["byline"] == ["Jane Doe", "John Roe"]
    assert data["previous"] == f"/articles/{seeded.story}/revisions/2" and data["next"] is None
    assert {c["field"] for c in data["changes"]} == {"byline", "body"}
    first = get(api, f"/articles/{seeded.story}/revisions/1")
    assert first["previous"] is None and first["diff_link"] is None


UNKNOWN = [
    "/articles/999",
    "/articles/0",
    "/articles/abc",
    "/articles/99999999999999999999",
    "/articles/999/revisions",
    "/articles/999/items",
    "/articles/999/events",
    "/articles/999/checks",
    "/articles/999/diff/1/2",
    "/articles/{story}/revisions/4",
    "/articles/{story}/revisions/0",
    "/articles/{story}/diff/2/4",
    "/nothing/here",
]


def test_unknown_ids_are_404(api: TestClient, seeded: Seeded) -> None:
    for path in UNKNOWN:
        error = get(api, path.format(story=seeded.story), 404)
        assert error["status"] == 404 and error["error"], path


# --- diffs and items ---------------------------------------------------------------------------


def test_diff_of_consecutive_revisions(api: TestClient, seeded: Seeded) -> None:
    data = get(api, f"/articles/{seeded.story}/diff/1/2")
    assert data["old"]["headline"] == "Minister resigns after budget row"
    assert data["new"]["headline"] == "Minister quits as budget row deepens"
    (headline,) = data["changes"]
    assert headline["field"] == "headline"
    assert "<del>" in headline["inline_html"] and "<ins>" in headline["inline_html"]
    assert headline["side_html"].startswith("<tr")
    assert data["previous"] is None
    assert data["next"] == f"/articles/{seeded.story}/diff/2/3"
    assert data["permalink"] == f"/articles/{seeded.story}/diff/1/2"


def test_diff_of_any_pair(api: TestClient, seeded: Seeded) -> None:
    data = get(api, f"/articles/{seeded.story}/diff/1/3")
    assert [c["field"] for c in data["changes"]] == ["headline", "byline", "body"]
    body = data["changes"][2]
    assert "<ins> bitter</ins>" in body["inline_html"]
    assert data["previous"] is None and data["next"] is None
    first = get(api, f"/articles/{seeded.story}/diff/0/1")
    assert first["old"]["revision"] == 0 and {c["kind"] for c in first["changes"]} == {"added"}
    later = get(api, f"/articles/{seeded.story}/diff/2/3")
    assert later["previous"] == f"/articles/{seeded.story}/diff/1/2"
    assert "older" in get(api, f"/articles/{seeded.story}/diff/3/2", 422)["error"]
    assert "older" in get(api, f"/articles/{seeded.story}/diff/2/2", 422)["error"]


def test_diff_html_escapes_scraped_markup(api: TestClient, seeded: Seeded) -> None:
    data = get(api, f"/articles/{seeded.hostile}/diff/1/2")
    rendered = "".join(c["inline_html"] + c["side_html"] for c in data["changes"])
    assert "<script" not in rendered and "<img" not in rendered and "&lt;script&gt;" in rendered
    assert data["new"]["headline"].startswith("<script>")  # plain text: the page escapes it


def test_live_feed_items_with_their_history(api: TestClient, seeded: Seeded) -> None:
    items = {i["key"]: i for i in get(api, f"/articles/{seeded.live}/items")["items"]}
    assert list(items) == ["c", "a", "b"]
    a, b, c = items["a"], items["b"], items["c"]
    assert a["current"] and a["text"] == "Three ships hit." and a["updated"] == "Updated 10:40"
    assert [(s["revision"], s["kind"], s["updated"]) for s in a["history"]] == [
        (1, "added", None),
        (2, "updated", "Updated 10:40"),
    ]
    assert not b["current"] and b["headline"] == "Talks"
    assert [(s["revision"], s["kind"]) for s in b["history"]] == [(1, "added"), (2, "removed")]
    assert [(s["revision"], s["kind"]) for s in c["history"]] == [(2, "added")]


# --- search, alerts, sources -------------------------------------------------------------------


def test_search(api: TestClient, seeded: Seeded) -> None:
    hits = get(api, "/search?q=thanked")["hits"]
    assert [(h["article_id"], h["first"], h["last"], h["removed_in"]) for h in hits] == [
        (seeded.story, 1, 2, 3)
    ]
    assert hits[0]["removed_link"] == f"/articles/{seeded.story}/diff/2/3"
    assert get(api, "/search?q=thanked&site=evil.example.net")["hits"] == []
    assert "q" in get(api, "/search", 422)["error"]
    assert get(api, "/search?q=%20%20", 422)["status"] == 422


def test_alerts(api: TestClient, seeded: Seeded) -> None:
    data = get(api, "/alerts")
    assert [(a["article_id"], a["status"]) for a in data["alerts"]] == [(seeded.story, "pending")]
    assert data["counts"] == {"pending": 1}
    assert get(api, "/alerts?status=sent")["alerts"] == []
    assert "status" in get(api, "/alerts?status=lost", 422)["error"]
    assert "limit" in get(api, "/alerts?limit=-1", 422)["error"]


def test_sources_health(api: TestClient) -> None:
    data = get(api, "/sources")
    assert data["sources"] == [] and data["queue"]["by_status"]["gone"] == 1
    assert data["alerts"] == {"pending": 1}


# --- writes ------------------------------------------------------------------------------------


def post(client: TestClient, path: str, body: Any, status: int, **headers: str) -> Any:
    response = client.post("/api/v1" + path, json=body, headers=headers or AUTH)
    assert response.status_code == status, response.text
    return response.json()


def test_post_article_canonicalises_and_is_idempotent(api: TestClient) -> None:
    url = "https://News.Example.org/2026/story?utm_source=x&b=2&a=1#top"
    added = post(api, "/articles", {"url": url}, 201)
    assert (
        added["created"]
        and added["article"]["url"] == "https://news.example.org/2026/story?a=1&b=2"
    )
    again = post(api, "/articles", {"url": url}, 200)
    assert not again["created"] and again["article"]["id"] == added["article"]["id"]
    live = post(api, "/articles", {"url": "https://news.example.org/feed-live", "live": True}, 201)
    assert live["article"]["live"] is True
    bare = post(api, "/articles", {"url": "http://user:pw@example.org/"}, 201)
    assert bare["article"]["url"] == "http://example.org/"  # as `redline add` keys it


def test_writes_need_the_token(store: Store, api: TestClient) -> None:
    body = {"url": "https://news.example.org/x"}
    missing = api.post("/api/v1/articles", json=body)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert "Bearer" in missing.json()["error"]
    post(api, "/articles", body, 401, Authorization="Bearer wrong")
    post(api, "/articles", body, 401, Authorization=f"Basic {TOKEN}")
    post(api, "/sources", {**body, "kind": "feed"}, 401, Authorization="Bearer ")
    open_ = client_for(store)  # no token configured: API writes are off
    refused = open_.post("/api/v1/articles", json=body, headers=AUTH)
    assert refused.status_code == 403 and "token_env" in refused.json()["error"]
    assert get(api, "/articles")["articles"][0]["url"] != body["url"]


UNSAFE_URLS = [
    "http://127.0.0.1/",
    "http://10.0.0.5/x",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://100.64.0.1/",  # CGNAT
    "http://0x7f000001/",
    "ftp://example.org/file",
    "javascript:alert(1)",
    "not a url",
    "",
]


def test_post_article_refuses_unsafe_urls(api: TestClient) -> None:
    for url in UNSAFE_URLS:
        error = post(api, "/articles", {"url": url}, 422)
        assert error["error"].startswith("url:"), url
    assert len(get(api, "/articles?limit=200")["articles"]) == 3  # the seeded ones only


def test_private_addresses_pass_when_allowed(store: Store, seeded: Seeded) -> None:
    client = client_for(store, token=TOKEN, allow_private=True)
    added = post(client, "/articles", {"url": "http://127.0.0.1:8000/story"}, 201)
    assert added["article"]["url"] == "http://127.0.0.1:8000/story"
    post(client, "/articles", {"url": "ftp://127.0.0.1/"}, 422)


BAD_ARTICLE_BODIES: list[tuple[Any, str]] = [
    ({"url": 5}, "url"),
    ({"url": "https://news.example.org/x", "live": "yes"}, "live"),
    ({"url": "https://news.example.org/x", "colour": "red"}, "colour"),
    ([], "body"),
    ("nope", "body"),
]


def test_post_article_bad_bodies(api: TestClient) -> None:
    for body, field in BAD_ARTICLE_BODIES:
        assert post(api, "/articles", body, 422)["error"].startswith(field), body


def test_post_article_refuses_non_json(api: TestClient) -> None:
    response = api.post("/api/v1/articles", content=b"{", headers=AUTH)
    assert response.status_code == 422 and "JSON" in response.json()["error"]
    huge = api.post("/api/v1/articles", content=b" " * 70_000, headers=AUTH)
    assert huge.status_code == 413


def test_post_sources(api: TestClient) -> None:
    feed = {"url": "https://news.example.org/feed/", "kind": "feed", "every": "15m"}
    added = post(api, "/sources", feed, 201)
    assert added["source"]["every_seconds"] == 900 and added["source"]["kind"] == "feed"
    assert post(api, "/sources", feed, 200)["created"] is False
    page = {"url": "https://news.example.org/world/", "kind": "page", "pattern": "/world/20"}
    assert post(api, "/sources", page, 201)["source"]["pattern"] == "/world/20"
    live = post(api, "/sources", {"url": "https://news.example.org/live2", "kind": "live"}, 201)
    assert live["article"]["live"] is True
    assert [s["url"] for s in get(api, "/sources")["sources"]] == [
        "https://news.example.org/feed/",
        "https://news.example.org/world/",
    ]


BAD_SOURCES: list[tuple[Any, str]] = [
    ({"url": "https://e.example.org/f", "kind": "rss"}, "kind"),
    ({"url": "https://e.example.org/f", "kind": "feed", "every": "often"}, "every"),
    ({"url": "https://e.example.org/f", "kind": "feed", "every": "0.1s"}, "every"),
    ({"url": "https://e.example.org/f", "kind": "feed", "every": "99999d"}, "every"),
    ({"url": "https://e.example.org/f", "kind": "feed", "every": True}, "every"),
    ({"url": "https://e.example.org/f", "kind": "page", "pattern": "(["}, "pattern"),
    ({"url": "http://10.1.2.3/feed", "kind": "feed"}, "url"),
    ({"kind": "feed"}, "url"),
]


def test_post_sources_refuses_bad_input(api: TestClient) -> None:
    for body, field in BAD_SOURCES:
        assert post(api, "/sources", body, 422)["error"].startswith(field), body
    assert get(api, "/sources")["sources"] == []


# --- the OpenAPI description -------------------------------------------------------------------


def test_openapi_describes_every_route(api: TestClient) -> None:
    document = api.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {"/api/v1" + path for path in READS}
    assert "post" in document["paths"]["/api/v1/articles"]
    assert "post" in document["paths"]["/api/v1/sources"]


# The app is built at import, for schemathesis to read its description while collecting
# (`from_fixture` does not run under pytest 9); the store behind it comes from a fixture.
SCHEMA_STATE = WebState(cast(Store, None), WebSettings(token=TOKEN), clock=lambda: NOW)
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(SCHEMA_STATE))
CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_schema_conformance,
]


@pytest.fixture
def schema_store(tmp_path: Path) -> Iterator[Store]:
    """A seeded SQLite store behind SCHEMA_STATE, the token configured (writes get through)."""
    store = open_store(f"sqlite:///{tmp_path / 'schema.sqlite'}")
    seed(store)
    SCHEMA_STATE.store = store
    try:
        yield store
    finally:
        store.close()


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms_to_its_openapi_description(case: Any, schema_store: Store) -> None:
    case.call_and_validate(headers=AUTH, checks=CHECKS)
