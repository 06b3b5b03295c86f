"""Hostile text renders as text on every page: an article whose headline, byline, body and
live-feed items hold script tags, event handlers, javascript: links and bidi overrides, recorded
through the real store and differ; hostile query strings and form values too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from redline.storage import SourceKind, Store
from redline.web import WebState, create_app
from tests import seeded
from tests.records import NOW

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
PATHS = (
    "/",
    "/?site=evil.example.net",
    "/articles",
    "/articles/{id}",
    "/articles/{id}/diff/1/2",
    "/articles/{id}/diff/1/2?view=side",
    "/articles/{id}/diff/0/2",
    "/articles/{id}/revisions/1",
    "/articles/{id}/revisions/2",
    "/articles/{id}/revisions/2/raw",
    "/articles/{id}/items",
    "/search?q=calm",
    "/sources",
)


class _Tags(HTMLParser):
    """Every start tag and its attributes, as a browser's tokenizer would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def assert_inert(html: str, where: str) -> None:
    """Nothing scraped became markup: no script, image, event handler or javascript: link; no
    bidi override reached the page unmarked."""
    assert SCRIPT not in html, where
    parser = _Tags()
    parser.feed(html)
    names = {tag for tag, _ in parser.tags}
    assert not names & {"script", "img", "iframe", "object", "embed", "svg", "style"}, where
    for tag, attrs in parser.tags:
        for name, value in attrs:
            assert not name.startswith("on"), (where, tag, name)
            assert not (value or "").strip().lower().startswith("javascript:"), (where, tag)
    assert "\u202e" not in html, where


@pytest.fixture
def hostile(store: Store) -> int:
    article_id = seeded.hostile(store)
    store.add_source("https://evil.example.net/feed", SourceKind.PAGE, 600, NOW, pattern=seeded.XSS)
    return article_id


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    app = create_app(WebState(store))
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as c:
        yield c


@pytest.mark.parametrize("path", PATHS)
def test_hostile_text_is_escaped_on_every_page(client: TestClient, hostile: int, path: str) -> None:
    response = client.get(path.format(id=hostile))
    assert response.status_code == 200, response.text
    html = response.text
    assert_inert(html, path)
    if "raw" not in path and "/search" not in path and path != "/articles":
        assert ESCAPED in html, path  # shown, as text
    if "raw" not in path and path != "/articles":
        assert "[U+202E]" in html, path  # the override is shown for what it is


def test_raw_html_with_scripts_is_text(store: Store, client: TestClient) -> None:
    from redline.storage import Page
    from tests.records import revision

    article, _ = store.add_article("https://raw.example.net/x", NOW)
    raw = (
        f'<html><head><script src="https://evil.example/x.js"></script></head><body onload="x()">'
        f"{seeded.XSS}</body></html>"
    ).encode()
    store.record(revision(article.id, "f1", Page(headline="x", body=("y",)), raw_html=raw))
    html = client.get(f"/articles/{article.id}/revisions/1/raw").text
    assert_inert(html, "raw")
    assert "&lt;body onload=&#34;x()&#34;&gt;" in html and ESCAPED in html


@pytest.mark.parametrize(
    "path",
    [
        "/search?q=" + quote(SCRIPT),
        "/search?q=" + quote(SCRIPT) + "&site=" + quote('"><img src=x onerror=alert(1)>'),
        "/?site=" + quote(SCRIPT),
        "/?kind=" + quote(SCRIPT),
        "/?since=" + quote(SCRIPT),
        "/articles/" + quote(SCRIPT),
        "/articles/1/diff/1/" + quote(SCRIPT),
        "/articles?status=" + quote(SCRIPT),
        "/login?next=" + quote('"><script>alert(1)</script>'),
        "/no-such-page/" + quote(SCRIPT),
    ],
)
def test_hostile_parameters_are_escaped_too(client: TestClient, hostile: int, path: str) -> None:
    html = client.get(path).text
    assert_inert(html, path)


def test_a_hostile_url_in_the_form_comes_back_as_text(client: TestClient, store: Store) -> None:
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/articles").text)
    assert csrf
    response = client.post(
        "/articles", data={"url": f"javascript:{SCRIPT}\u202e", "csrf": csrf.group(1)}
    )
    assert response.status_code == 422
    assert_inert(response.text, "form error")
    assert store.list_articles() == []


def test_stored_urls_are_linked_only_when_http(client: TestClient, hostile: int) -> None:
    html = client.get(f"/articles/{hostile}").text
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert all(h.startswith(("/", "https://", "http://")) for h in hrefs), hrefs


def test_overrides_are_marked_but_right_to_left_marks_and_line_ends_stay() -> None:
    from markupsafe import Markup

    from redline.web.pages import visible

    assert visible("abc\u202egnp.exe") == "abc[U+202E]gnp.exe"
    assert visible("\u2066x\u2069\x1b[31m") == "[U+2066]x[U+2069][U+001B][31m"
    assert visible("שלום\u200f world\r\n") == "שלום\u200f world\r\n"
    marked = visible(Markup("<ins>a\u202eb</ins>"))
    assert isinstance(marked, Markup) and marked == "<ins>a[U+202E]b</ins>"
    assert visible(None) == ""
