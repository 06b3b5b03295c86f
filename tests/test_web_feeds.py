"""The Atom feeds, in-process over real histories on both backends: valid Atom parsed back with
xml.etree, the word diff carried as escaped HTML, hostile scraped text never unescaped, the
recent-changes filters, and entry ids that do not move."""

from __future__ import annotations

from html.parser import HTMLParser
from xml.etree import ElementTree as ET

import pytest
from starlette.testclient import TestClient

from redline.web import WebSettings, WebState, create_app
from tests.seeded import hostile, record_pages, story

A = "{http://www.w3.org/2005/Atom}"
SAFE_TAGS = {"p", "a", "strong", "h3", "div", "ins", "del", "br", "span"}


@pytest.fixture
def seeded(store):
    return {"story": story(store), "hostile": hostile(store)}


def client(store, **settings) -> TestClient:
    state = WebState(store, settings=WebSettings(**settings))
    return TestClient(create_app(state), raise_server_exceptions=False)


def atom(c: TestClient, path: str) -> tuple[ET.Element, str]:
    response = c.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    root = ET.fromstring(response.content)
    assert root.tag == f"{A}feed"
    return root, response.text


def entries(root: ET.Element) -> list[ET.Element]:
    return root.findall(f"{A}entry")


def ids(root: ET.Element) -> list[str]:
    return [e.findtext(f"{A}id") or "" for e in entries(root)]


def link(element: ET.Element, rel: str) -> str:
    (found,) = [x for x in element.findall(f"{A}link") if x.get("rel") == rel]
    return found.get("href") or ""


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def html_tags(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = Tags()
    parser.feed(html)
    return parser.tags


def assert_valid_atom(root: ET.Element, self_url: str) -> None:
    """What RFC 4287 requires of a feed and its entries (the parts we write)."""
    for name in ("id", "title", "updated"):
        assert root.findtext(f"{A}{name}"), name
    assert root.find(f"{A}author/{A}name") is not None
    assert link(root, "self") == self_url
    assert link(root, "alternate").startswith("http://testserver/")
    found = ids(root)
    assert len(found) == len(set(found))
    for entry in entries(root):
        assert entry.findtext(f"{A}id", "").startswith("tag:redline,2026:")
        assert entry.findtext(f"{A}title")
        assert entry.findtext(f"{A}updated", "").endswith("Z")
        assert link(entry, "alternate").startswith("http://testserver/articles/")
        content = entry.find(f"{A}content")
        assert content is not None and content.get("type") == "html"


def test_the_changes_feed_is_atom_with_the_word_diff_as_escaped_html(store, seeded):
    c = client(store)
    root, raw = atom(c, "/feeds/changes.atom")
    assert_valid_atom(root, "http://testserver/feeds/changes.atom")
    by_id = {e.findtext(f"{A}id"): e for e in entries(root)}
    sid = seeded["story"]
    assert set(by_id) >= {
        f"tag:redline,2026:articles/{sid}/revisions/2",
        f"tag:redline,2026:articles/{sid}/revisions/3",
    }
    third = by_id[f"tag:redline,2026:articles/{sid}/revisions/3"]
    assert link(third, "alternate") == f"http://testserver/articles/{sid}/diff/2/3"
    assert third.findtext(f"{A}title") == "Minister quits as budget row deepens"
    html = third.findtext(f"{A}content") or ""
    assert "<ins> bitter</ins>" in html  # the inline word diff, once the XML is read
    assert "<del>She said the decision was her own" in html
    assert "&lt;ins&gt; bitter&lt;/ins&gt;" in raw  # ...which the XML carries escaped
    # the diff page the entry links to answers
    assert c.get(link(third, "alternate").removeprefix("http://testserver")).status_code == 200


def test_hostile_text_is_never_unescaped(store, seeded):
    root, raw = atom(client(store), "/feeds/changes.atom?site=evil.example.net")
    assert "<script" not in raw.lower() and "<img" not in raw.lower()
    (entry,) = entries(root)
    assert entry.findtext(f"{A}title", "").startswith("<script>")  # plain text, shown as such
    html = entry.findtext(f"{A}content") or ""
    tags = html_tags(html)
    assert {t for t, _ in tags} <= SAFE_TAGS, tags
    assert all(not name.startswith("on") for _, attrs in tags for name, _ in attrs)
    assert all(
        not (v or "").lower().startswith("javascript:") for _, attrs in tags for _, v in attrs
    )
    assert "&lt;script&gt;" in html  # the headline's markup is text inside the HTML
    # a bidi override cannot reorder the reader's line: it is shown as its code point
    assert "\u202e" not in raw and "[U+202E]gnp.exe" in entry.findtext(f"{A}title", "")


def test_filters_are_the_recent_changes_pages(store, seeded):
    c = client(store)
    everything = set(ids(atom(c, "/feeds/changes.atom")[0]))
    story_only = ids(atom(c, "/feeds/changes.atom?site=news.example.org")[0])
    assert story_only and all(f"articles/{seeded['story']}/" in i for i in story_only)
    root, _ = atom(c, "/feeds/changes.atom?kind=byline&class=minor")
    assert link(root, "self") == "http://testserver/feeds/changes.atom?kind=byline&class=minor"
    assert link(root, "alternate") == "http://testserver/?kind=byline&class=minor"
    bylines = set(ids(root))
    assert bylines and bylines < everything
    for entry in entries(root):
        assert "byline: " in (entry.findtext(f"{A}content") or "")
    assert c.get("/feeds/changes.atom?class=huge").status_code == 422
    assert c.get("/feeds/changes.atom?since=yesterday").status_code == 422


def test_the_article_feed_has_that_article_only(store, seeded):
    c = client(store)
    sid = seeded["story"]
    root, _ = atom(c, f"/articles/{sid}/feed.atom")
    assert_valid_atom(root, f"http://testserver/articles/{sid}/feed.atom")
    assert root.findtext(f"{A}id") == f"tag:redline,2026:articles/{sid}"
    assert link(root, "alternate") == f"http://testserver/articles/{sid}"
    assert ids(root) == [
        f"tag:redline,2026:articles/{sid}/revisions/3",
        f"tag:redline,2026:articles/{sid}/revisions/2",
    ]
    assert c.get("/articles/999999/feed.atom").status_code == 404
    assert c.get("/articles/nope/feed.atom").status_code in (404, 422)


def test_the_search_feed(store, seeded):
    c = client(store)
    root, _ = atom(c, "/feeds/search.atom?q=budget")
    assert_valid_atom(root, "http://testserver/feeds/search.atom?q=budget")
    (entry,) = entries(root)
    assert f"articles/{seeded['story']}/revisions/" in entry.findtext(f"{A}id", "")
    assert "budget" in (entry.findtext(f"{A}content") or "")
    assert c.get("/feeds/search.atom").status_code == 422


def test_entry_ids_are_stable(store, seeded):
    before = ids(atom(client(store), "/feeds/changes.atom")[0])
    proxied, _ = atom(client(store, base_url="https://redline.example.com"), "/feeds/changes.atom")
    assert ids(proxied) == before  # the base URL moves the links, not the ids
    assert link(proxied, "self") == "https://redline.example.com/feeds/changes.atom"
    assert all(
        link(e, "alternate").startswith("https://redline.example.com/articles/")
        for e in entries(proxied)
    )
    from redline.storage import Page

    record_pages(  # a new article with two revisions: new entries, old ones unchanged
        store,
        "https://news.example.org/2026/12/06/later",
        [Page(headline="First"), Page(headline="Second")],
        step=600,
    )
    after = ids(atom(client(store), "/feeds/changes.atom")[0])
    assert len(after) == len(before) + 1 and set(before) < set(after)


def test_url_events_are_entries_too(store, seeded):
    from datetime import timedelta

    from redline.storage import ArticleStatus, EventKind, EventNote, Gone
    from tests.records import NOW, check

    hid = seeded["hostile"]
    note = EventNote(EventKind.GONE, '410 <b onmouseover="x">')
    store.record(
        check(
            hid,
            "gone-1",
            Gone(),
            at=NOW + timedelta(days=1),
            status=ArticleStatus.GONE,
            events=[note],
            http_status=410,
        )
    )
    root, raw = atom(client(store), f"/articles/{hid}/feed.atom")
    assert_valid_atom(root, f"http://testserver/articles/{hid}/feed.atom")
    first = entries(root)[0]
    assert "/events/" in first.findtext(f"{A}id", "")
    assert first.findtext(f"{A}title", "").startswith("gone: ")
    assert link(first, "alternate") == f"http://testserver/articles/{hid}"
    assert "<b" not in raw and {t for t, _ in html_tags(first.findtext(f"{A}content") or "")} <= {
        "p"
    }
    again = ids(atom(client(store), f"/articles/{hid}/feed.atom")[0])
    assert again == ids(root)
