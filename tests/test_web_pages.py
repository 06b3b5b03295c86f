"""The HTML pages over a real store (SQLite and PostgreSQL), with histories recorded through the
write protocol and diffed by the real differ: what a reader sees on each page, filters and
pagination, error pages, the compare redirect, CSRF, the write token and security headers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from redline.storage import FeedItem, Page, SourceKind, Store
from redline.web import WebSettings, WebState, create_app, security
from redline.web.security import CSP
from tests import seeded
from tests.records import NOW, revision

LATER = NOW + timedelta(days=1)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def make_client(store: Store, settings: WebSettings | None = None) -> TestClient:
    app = create_app(WebState(store, settings=settings or WebSettings(), clock=lambda: LATER))
    return TestClient(app, raise_server_exceptions=False, follow_redirects=False)


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    with make_client(store) as c:
        yield c


def csrf(client: TestClient, path: str = "/articles") -> str:
    """The CSRF value of a page's form (the GET also sets the browser's nonce cookie)."""
    match = CSRF.search(client.get(path).text)
    assert match, f"no form with a CSRF value on {path}"
    return match.group(1)


def links(html: str, css_class: str) -> list[str]:
    return re.findall(rf'<a class="{css_class}[^"]*" href="([^"]+)"', html)


def live_feed(store: Store) -> int:
    """A live feed: one item updated (with the page's "(Updated ...)" marker), one removed,
    one added."""
    a = FeedItem(key="a", headline="Strikes hit the port", text="Early reports.")
    b = FeedItem(key="b", headline="Talks resume", text="Delegations met.")
    a2 = FeedItem(key="a", headline="Strikes hit the port", text="Three ships damaged.")
    a2 = FeedItem(a2.key, a2.headline, a2.text, updated="Updated 10:05")
    c = FeedItem(key="c", headline="Evacuation ordered", text="Residents told to leave.")
    pages = [
        Page(headline="Live: the war", items=(a, b)),
        Page(headline="Live: the war", items=(c, a2)),
    ]
    return seeded.record_pages(store, "https://live.example.com/live/war", pages)


# --- what each page shows ----------------------------------------------------------------------


def test_recent_changes_show_the_headline_change_summary_and_badges(
    store: Store, client: TestClient
) -> None:
    story = seeded.story(store)
    response = client.get("/")
    assert response.status_code == 200
    html = response.text
    assert '<h3 class="headline-change"><span class="old">Minister resigns after budget row' in html
    assert "Minister quits as budget row deepens</a>" in html
    assert "bitter" in html  # the body change's one-line summary
    assert '<span class="badge correction">correction</span>' in html
    assert html.count('<article class="change') == 2  # revisions 2 and 3
    assert set(links(html, "article-link")) == {f"/articles/{story}"}
    assert links(html, "diff-link") == [
        f"/articles/{story}/diff/2/3",
        f"/articles/{story}/diff/1/2",
    ]
    assert '<link rel="alternate" type="application/atom+xml"' in html
    assert 'href="/feeds/changes.atom"' in html


def test_filters_narrow_the_changes_and_reach_the_feed_link(
    store: Store, client: TestClient
) -> None:
    story = seeded.story(store)
    other = seeded.record_pages(
        store,
        "https://other.example.com/a",
        [Page(headline="Old title", body=("Text.",)), Page(headline="New title", body=("Text.",))],
    )
    everything = links(client.get("/").text, "diff-link")
    assert len(everything) == 3
    by_site = client.get("/", params={"site": "other.example.com"}).text
    assert links(by_site, "diff-link") == [f"/articles/{other}/diff/1/2"]
    assert 'href="/feeds/changes.atom?site=other.example.com"' in by_site
    headline_only = client.get("/?kind=headline&site=news.example.org").text
    assert links(headline_only, "diff-link") == [f"/articles/{story}/diff/1/2"]
    assert 'value="headline" checked' in headline_only
    two_kinds = client.get("/?kind=byline&kind=headline&site=news.example.org").text
    assert len(links(two_kinds, "diff-link")) == 2
    substantive = client.get("/", params={"class": "substantive"}).text
    assert links(substantive, "diff-link") == [f"/articles/{story}/diff/2/3"]
    assert links(client.get("/", params={"since": "2026-11-28"}).text, "diff-link") == []
    assert len(links(client.get("/", params={"until": "2026-11-28"}).text, "diff-link")) == 3
    empty = client.get("/", params={"site": "nowhere.example"})
    assert empty.status_code == 200 and "No changes match these filters" in empty.text


def test_older_changes_links_reach_every_entry_once(store: Store, client: TestClient) -> None:
    pages = [Page(headline=f"Headline number {n}", body=(f"Body {n}.",)) for n in range(8)]
    article = seeded.record_pages(store, "https://paged.example.com/story", pages)
    seen: list[str] = []
    path: str | None = "/?limit=3"
    while path:
        html = client.get(path if path.startswith("/") else "/" + path).text
        seen += links(html, "diff-link")
        older = re.search(r'<a class="older" rel="next" href="([^"]+)"', html)
        path = older.group(1).replace("&amp;", "&") if older else None
    expected = [f"/articles/{article}/diff/{n - 1}/{n}" for n in range(8, 1, -1)]
    assert seen == expected


def test_article_page_shows_timeline_compare_form_urls_and_checks(
    store: Store, client: TestClient
) -> None:
    story = seeded.story(store)
    html = client.get(f"/articles/{story}").text
    assert f'<form id="compare" method="get" action="/articles/{story}/compare">' in html
    for n in (1, 2, 3):
        assert f'name="from" value="{n}"' in html and f'name="to" value="{n}"' in html
    assert '<button type="submit">Compare</button>' in html
    assert '<span class="old">Minister resigns after budget row</span>' in html
    assert f'href="/articles/{story}/diff/1/2"' in html
    assert "first_seen" in html  # the URL's first event
    assert html.count("<tr>") >= 3 + 3  # three radios rows, three checks
    assert f'href="/articles/{story}/feed.atom"' in html
    assert "https://news.example.org/2026/12/05/minister" in html


def test_compare_redirects_to_the_diff_oldest_first(store: Store, client: TestClient) -> None:
    story = seeded.story(store)
    response = client.get(f"/articles/{story}/compare?from=3&to=1")
    assert response.status_code == 303
    assert response.headers["location"] == f"/articles/{story}/diff/1/3"
    assert client.get(f"/articles/{story}/compare?from=2&to=2").status_code == 422
    assert client.get(f"/articles/{story}/compare?from=2").status_code == 422
    assert client.get(f"/articles/{story}/compare?from=x&to=1").status_code == 422


def test_diff_page_marks_words_in_both_views(store: Store, client: TestClient) -> None:
    story = seeded.story(store)
    inline = client.get(f"/articles/{story}/diff/2/3").text
    diffs = re.findall(r'<div class="diff[^"]*">(.*?)</div>', inline, re.S)
    body = " ".join(diffs)
    assert "<ins> bitter</ins>" in body
    assert "thanked her staff" in " ".join(re.findall(r"<del>(.*?)</del>", body, re.S))
    assert "Correction" in " ".join(re.findall(r"<ins>(.*?)</ins>", body, re.S))
    assert "<ins>; John Roe</ins>" in body  # the byline, at the top
    assert inline.index("byline") < inline.index("bitter")
    assert '<span class="badge correction">correction</span>' in inline
    assert f'href="/articles/{story}/diff/1/2"' in inline  # the previous change
    assert f'class="permalink" href="/articles/{story}/diff/2/3"' in inline
    side = client.get(f"/articles/{story}/diff/2/3?view=side").text
    assert '<table class="side">' in side and '<td class="new">' in side
    assert "<ins> bitter</ins>" in side
    headline = client.get(f"/articles/{story}/diff/1/2").text
    assert "<del> resigns after</del><ins> quits as</ins>" in headline
    assert f'href="/articles/{story}/diff/2/3"' in headline  # the next change
    first = client.get(f"/articles/{story}/diff/0/1")
    assert first.status_code == 200 and "<ins>Minister resigns after budget row</ins>" in first.text


def test_revision_page_and_raw_html_shown_as_text(store: Store, client: TestClient) -> None:
    article, _ = store.add_article("https://raw.example.com/a", NOW)
    raw = b"<html><body><h1>Hi</h1><script>steal()</script>\xff\xfe</body></html>"
    page = Page(headline="Hi", byline=("Ann Lee",), body=("One.", "Two."))
    store.record(revision(article.id, "f1", page, raw_html=raw))
    html = client.get(f"/articles/{article.id}/revisions/1").text
    assert "<h1>Hi</h1>" in html and "By Ann Lee" in html and "<p>Two.</p>" in html
    response = client.get(f"/articles/{article.id}/revisions/1/raw")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<pre class="raw">&lt;html&gt;&lt;body&gt;&lt;h1&gt;Hi&lt;/h1&gt;' in response.text
    assert "&lt;script&gt;steal()&lt;/script&gt;\ufffd\ufffd" in response.text
    assert "<script>steal()" not in response.text
    assert client.get(f"/articles/{article.id}/revisions/2").status_code == 404
    assert client.get(f"/articles/{article.id}/revisions/2/raw").status_code == 404


def test_items_page_gives_each_item_its_history(store: Store, client: TestClient) -> None:
    live = live_feed(store)
    html = client.get(f"/articles/{live}/items").text
    assert html.count('<article class="change item') == 3
    assert "Three ships damaged." in html
    assert '<span class="badge updated">Updated 10:05</span>' in html
    assert ": updated in" in html and ": removed in" in html
    assert html.index("Evacuation ordered") < html.index("Strikes hit the port")
    assert html.index("Strikes hit the port") < html.index("Talks resume")  # gone ones last
    assert f'href="/articles/{live}/diff/1/2"' in html


def test_search_says_when_text_was_first_said_and_removed(store: Store, client: TestClient) -> None:
    story = seeded.story(store)
    html = client.get("/search", params={"q": '"thanked her staff"'}).text
    assert f'href="/articles/{story}/revisions/1">rev 1</a>' in html
    assert "First said in" in html and "last in" in html
    assert f'<a class="removed-link" href="/articles/{story}/diff/2/3">rev 3</a>' in html
    assert 'href="/feeds/search.atom?q=%22thanked+her+staff%22"' in html
    still = client.get("/search?q=bitter").text
    assert "still there in rev 3" in still
    assert client.get("/search").status_code == 200  # the empty form
    assert "No revision of any article ever held that" in client.get("/search?q=zebra").text


def test_sources_page_lists_sources_queue_and_alerts(store: Store, client: TestClient) -> None:
    store.add_source("https://feeds.example.com/rss", SourceKind.FEED, 600, NOW)
    seeded.story(store)
    html = client.get("/sources").text
    assert "https://feeds.example.com/rss" in html and "600s" in html
    assert "Due now:" in html and "Errors by host" in html and "Alerts" in html
    assert client.get("/sources?status=bogus").status_code == 422


def test_articles_list_pages_through_every_article(store: Store, client: TestClient) -> None:
    ids = {store.add_article(f"https://list.example.com/{n}", NOW)[0].id for n in range(5)}
    seen: set[int] = set()
    path: str | None = "/articles?limit=2"
    while path:
        html = client.get(path).text
        seen |= {int(x) for x in re.findall(r'class="article-link" href="/articles/(\d+)"', html)}
        more = re.search(r'<a class="older" rel="next" href="([^"]+)"', html)
        path = "/articles" + more.group(1).replace("&amp;", "&") if more else None
    assert seen == ids


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/articles/999999", 404),
        ("/articles/999999/diff/1/2", 404),
        ("/articles/{id}/diff/1/9", 404),
        ("/articles/{id}/revisions/0", 404),
        ("/articles/{id}/items", 200),
        ("/no/such/page", 404),
        ("/articles/abc", 422),
        ("/articles/{id}/diff/3/1", 422),
        ("/articles/{id}/diff/1/x", 422),
        ("/articles/{id}/diff/1/2?view=sideways", 422),
        ("/?kind=colour", 422),
        ("/?class=huge", 422),
        ("/?since=yesterday", 422),
        ("/?cursor=%3Cscript%3E", 422),
        ("/?limit=100000", 422),
    ],
)
def test_error_pages_are_html_with_a_status(
    store: Store, client: TestClient, path: str, status: int
) -> None:
    story = seeded.story(store)
    response = client.get(path.format(id=story))
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert "Traceback" not in response.text
    if status != 200:
        assert f"<h1>{status} · " in response.text


def test_api_errors_are_json(client: TestClient) -> None:
    response = client.get("/api/no-such-endpoint")
    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_an_unexpected_error_is_a_generic_500_with_headers(store: Store) -> None:
    app = create_app(WebState(store))

    def boom(request: object) -> None:
        raise RuntimeError("secret internals /etc/passwd")

    app.router.routes.append(Route("/boom", boom))
    app.router.routes.append(Route("/api/boom", boom))
    with TestClient(app, raise_server_exceptions=False) as c:
        page = c.get("/boom")
        api = c.get("/api/boom")
    assert page.status_code == 500 and "secret internals" not in page.text
    assert "something went wrong" in page.text and "Traceback" not in page.text
    assert page.headers["content-security-policy"] == CSP
    assert api.status_code == 500 and api.json()["status"] == 500
    assert "secret" not in api.text


# --- headers -----------------------------------------------------------------------------------


def test_security_headers_on_every_response(store: Store, client: TestClient) -> None:
    story = seeded.story(store)
    paths = [
        "/",
        f"/articles/{story}",
        f"/articles/{story}/diff/1/2",
        f"/articles/{story}/compare?from=1&to=2",
        "/static/style.css",
        "/articles/424242",
        "/?kind=bad",
        "/login",
    ]
    for path in paths:
        response = client.get(path)
        headers = response.headers
        assert headers["content-security-policy"] == CSP, path
        assert "script-src 'self'" in CSP and "frame-ancestors 'none'" in CSP
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "no-referrer", path
        assert headers["x-frame-options"] == "DENY", path
    assert client.post("/articles").headers["x-frame-options"] == "DENY"  # refused, still


def test_pages_have_no_inline_script_or_style(store: Store, client: TestClient) -> None:
    story = seeded.story(store)
    for path in ("/", f"/articles/{story}", f"/articles/{story}/diff/1/3", "/sources"):
        html = client.get(path).text
        assert "<script" not in html and "<style" not in html and " style=" not in html
        assert re.search(r"\son[a-z]+=", html) is None


# --- forms: CSRF and the token -----------------------------------------------------------------


def test_adding_an_article_needs_the_csrf_value(store: Store, client: TestClient) -> None:
    url = "https://add.example.com/story"
    assert client.post("/articles", data={"url": url}).status_code == 403
    assert client.post("/articles", data={"url": url, "csrf": "forged"}).status_code == 403
    token = csrf(client)
    foreign = client.post(
        "/articles", data={"url": url, "csrf": token}, headers={"origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    assert store.list_articles() == []
    response = client.post("/articles", data={"url": url + "?utm_source=x", "csrf": token})
    assert response.status_code == 303
    (article,) = store.list_articles()
    assert article.url == url  # canonical, as `redline add` tracks it
    assert response.headers["location"] == f"/articles/{article.id}?added=1"
    assert "Now tracking this article" in client.get(response.headers["location"]).text


def test_a_csrf_value_from_another_browser_is_refused(store: Store) -> None:
    with make_client(store) as mine, make_client(store) as theirs:
        token = csrf(theirs)
        csrf(mine)  # mine has its own nonce cookie
        refused = mine.post("/articles", data={"url": "https://a.example.com/x", "csrf": token})
    assert refused.status_code == 403


@pytest.mark.parametrize(
    "bad",
    ["ftp://files.example.com/a", "javascript:alert(1)", "http://127.0.0.1/admin", "not a url"],
)
def test_a_refused_url_shows_the_error_in_the_form(
    store: Store, client: TestClient, bad: str
) -> None:
    response = client.post("/articles", data={"url": bad, "csrf": csrf(client)})
    assert response.status_code == 422
    assert '<p class="error">' in response.text and 'id="add-article"' in response.text
    assert store.list_articles() == []


def test_adding_sources_through_the_form(store: Store, client: TestClient) -> None:
    token = csrf(client, "/sources")
    form = {"url": "https://feeds.example.com/rss", "kind": "feed", "every": "15m", "csrf": token}
    response = client.post("/sources", data=form)
    assert response.status_code == 303 and response.headers["location"] == "/sources?added=1"
    (source,) = store.list_sources()
    assert source.kind is SourceKind.FEED and source.every_seconds == 900
    bad = client.post("/sources", data={**form, "pattern": "(unclosed", "kind": "page"})
    assert bad.status_code == 422 and "pattern" in bad.text
    assert 'value="(unclosed"' in bad.text  # the form keeps what was typed
    live = client.post(
        "/sources", data={**form, "url": "https://l.example.com/live", "kind": "live"}
    )
    assert live.status_code == 303
    assert store.get_article("https://l.example.com/live").is_live


def test_with_a_token_the_browser_logs_in_before_writing(store: Store) -> None:
    settings = WebSettings(token="s3cret-token")
    with make_client(store, settings) as client:
        token = csrf(client, "/login")
        assert 'id="add-article"' not in client.get("/articles").text
        refused = client.post("/articles", data={"url": "https://a.example.com/x", "csrf": token})
        assert refused.status_code == 401 and "/login" in refused.text
        wrong = client.post("/login", data={"token": "guess", "csrf": token, "next": "/articles"})
        assert wrong.status_code == 401
        assert client.post("/login", data={"token": "s3cret-token"}).status_code == 403  # no CSRF
        ok = client.post(
            "/login", data={"token": "s3cret-token", "csrf": token, "next": "/articles"}
        )
        assert ok.status_code == 303 and ok.headers["location"] == "/articles"
        cookie = ok.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert "s3cret-token" not in cookie
        added = client.post("/articles", data={"url": "https://a.example.com/x", "csrf": token})
        assert added.status_code == 303
        assert client.post("/logout", data={"csrf": token}).status_code == 303
        client.cookies.delete("redline_session")
        again = client.post("/articles", data={"url": "https://b.example.com/y", "csrf": token})
        assert again.status_code == 401


def test_login_sends_nobody_elsewhere(store: Store) -> None:
    with make_client(store, WebSettings(token="t")) as client:
        token = csrf(client, "/login")
        for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
            response = client.post("/login", data={"token": "t", "csrf": token, "next": target})
            assert response.headers["location"] == "/"


def test_beyond_loopback_without_a_token_nobody_writes(store: Store) -> None:
    with make_client(store, WebSettings(bind="0.0.0.0")) as client:
        token = csrf(client, "/login")
        response = client.post("/articles", data={"url": "https://a.example.com/", "csrf": token})
    assert response.status_code == 403 and "token" in response.text
    assert store.list_articles() == []


@pytest.mark.parametrize(
    ("token", "header", "status"),
    [
        (None, "Bearer anything", 403),  # no token configured: API writes are off
        ("s3cret", None, 401),
        ("s3cret", "Bearer wrong", 401),
        ("s3cret", "Basic s3cret", 401),
        ("s3cret", "Bearer s3cret", 200),
    ],
)
def test_require_token_guards_api_writes(
    store: Store, token: str | None, header: str | None, status: int
) -> None:
    state = WebState(store, settings=WebSettings(token=token))

    def write(request: Request) -> PlainTextResponse:
        security.require_token(request, state)
        return PlainTextResponse("written")

    app = create_app(state)
    app.router.routes.append(Route("/api/write", write, methods=["POST"]))
    with TestClient(app, raise_server_exceptions=False) as c:
        response = c.post("/api/write", headers={"authorization": header} if header else {})
    assert response.status_code == status
    if status != 200:
        assert response.json()["status"] == status
