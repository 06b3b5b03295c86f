"""Alert facts and messages, built from real pages: two versions of a saved article (edited with
str.replace), extracted and compared as the crawler does, then told as messages."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from redline.crawler.diff import compare
from redline.crawler.extract import extract
from redline.scheduler.alerts.channels import encode_payload
from redline.scheduler.alerts.facts import (
    EXCERPT_CHARS,
    MAX_CHANGES,
    AlertFacts,
    diff_url,
    facts_for,
    sample_facts,
)
from redline.scheduler.alerts.messages import (
    TEST_LINE,
    Message,
    build_message,
    check_templates,
    compile_templates,
)
from redline.storage.model import Alert, Article, Event, EventKind, FeedItem, Page, Revision
from tests.conftest import REPO

FIXTURES = REPO / "tests" / "fixtures" / "extract"
ARTICLE_HTML = (FIXTURES / "kyivindependent_article.html").read_text(encoding="utf-8")
FEED_HTML = (FIXTURES / "kyivindependent_news_feed.html").read_text(encoding="utf-8")
URL = "https://kyivindependent.com/north-korean-troops-suffer-losses/"
BASE = "https://redline.example.org/"
AT = datetime(2024, 12, 28, 6, 0, tzinfo=UTC)
OLD_HEADLINE = (
    "North Korean troops suffer over 1,000 losses in Kursk Oblast in past week, "
    "White House official says"
)
NEW_HEADLINE = OLD_HEADLINE.replace("over 1,000", "heavy")
HOSTILE = "Budget \x1b[2J vote \u202eevil\u202c <script>alert(1)</script>\nends"


def article(article_id: int = 7, url: str = URL, site: str = "kyivindependent.com") -> Article:
    return Article(article_id, url, site, AT)


def revisions(*pages: Page, article_id: int = 7) -> list[Revision]:
    """A revision history as the store keeps it: each revision's changes against the last."""
    out: list[Revision] = []
    for number, page in enumerate(pages, start=1):
        previous = out[-1].page if out else None
        at = AT + timedelta(hours=number)
        out.append(
            Revision(
                article_id, number, at, f"h{number}", page, f"f{number}", compare(previous, page)
            )
        )
    return out


def facts(
    history: list[Revision], number: int, *kinds: str, where: Article | None = None
) -> AlertFacts:
    revision = history[number - 1]
    previous = history[number - 2] if number > 1 else None
    where = where or article()
    alert = Alert(number, "desk", where.id, f"k{number}", kinds, revision.fetched_at, number)
    alert = replace(alert, rule="desk")
    return facts_for(alert, where, revision=revision, previous=previous, event=None, base_url=BASE)


def page(html: str, url: str = URL) -> Page:
    return extract(html, url).page


def one(entry: AlertFacts, *, test: bool = False) -> Message:
    return build_message([entry], rule="desk", templates=None, idempotency_key="key-1", test=test)


@pytest.fixture(scope="module")
def edited() -> list[Revision]:
    """v1 as published; v2 a headline edit; v3 a stealth rewrite of one paragraph (the declared
    modified time unchanged); v4 a corrected number with a correction note and a new time."""
    v1 = ARTICLE_HTML
    v2 = v1.replace("over 1,000 losses", "heavy losses")
    v3 = v2.replace(
        "The White House believes more than 1,000 North Korean troops have been killed or "
        "wounded over the past week alone, Kirby said in a press briefing.",
        "Officials in Washington declined to give any figure for North Korean casualties, "
        "saying estimates from the front remained unreliable and subject to revision.",
    )
    v4 = v3.replace("approximately 12,000", "approximately 11,000").replace(
        "occurred on Nov. 5.</p>",
        "occurred on Nov. 5.</p>\n<p>Correction: An earlier version of this article misstated "
        "the number of North Korean soldiers in the Kursk region.</p>",
    )
    v4 = v4.replace("2024-12-28T05:41:12.000Z", "2024-12-28T09:12:00.000Z")
    return revisions(*(page(html) for html in (v1, v2, v3, v4)))


def test_headline_edit(edited):
    message = one(facts(edited, 2, "headline_changed"))
    assert message.title.startswith("[kyivindependent.com] Headline changed: ")
    assert "over 1,000" in message.title and "heavy losses" in message.title
    assert f"Old headline: {OLD_HEADLINE}\nNew headline: {NEW_HEADLINE}" in message.text
    assert "Revision 1 → 2, fetched 2024-12-28 08:00 UTC" in message.text
    assert "- Headline (changed, " in message.text
    assert "troops suffer[- over 1,000-]{+ heavy+} losses in Kursk" in message.text
    link = "https://redline.example.org/articles/7/diff/1/2"
    assert f"Article: {URL}" in message.text and f"Diff: {link}" in message.text
    assert "<del>" in message.html and "<ins>" in message.html
    assert f'<a href="{link}">Diff</a>' in message.html
    payload = message.payload
    assert payload["kind"] == "headline_changed" and payload["kinds"] == ["headline_changed"]
    assert (payload["old_headline"], payload["new_headline"]) == (OLD_HEADLINE, NEW_HEADLINE)
    assert (payload["previous_revision"], payload["revision"]) == (1, 2)
    assert payload["url"] == URL and payload["site"] == "kyivindependent.com"
    assert payload["fetched_at"] == "2024-12-28T08:00:00.000+00:00"
    assert payload["diff_url"] == link == diff_url(BASE, 7, 1, 2)
    assert payload["idempotency_key"] == "key-1" and payload["test"] is False
    change = payload["changes"][0]
    assert change["field"] == "headline" and change["kind"] == "changed"
    assert change["added"] == "heavy" and change["removed"] == "over 1,000"
    assert (change["words_added"], change["words_removed"]) == (1, 2)
    assert set(change) >= {"class", "notes", "stealth", "diff"}
    assert payload["count"] == 1 and payload["digest"] is False


def test_title_edit():
    """Only og:title edited: a title change, told with the old and new title."""
    meta = f'<meta property="og:title" content="{OLD_HEADLINE}">'
    assert meta in ARTICLE_HTML
    seo = "North Korean troops take heavy losses in Kursk, US says"
    v2 = ARTICLE_HTML.replace(meta, f'<meta property="og:title" content="{seo}">')
    history = revisions(page(ARTICLE_HTML), page(v2))
    assert [c.field for c in history[1].changes] == ["title"]
    entry = facts(history, 2, "title_changed")
    assert entry.title_changed and not entry.headline_changed
    message = one(entry)
    assert message.title.startswith("[kyivindependent.com] Title changed: “North Korean troops")
    assert message.title.endswith(f"→ “{seo}”")
    assert f"Headline: {OLD_HEADLINE}\nOld title: {OLD_HEADLINE}\nNew title: {seo}" in message.text
    assert "- Title (changed, " in message.text
    assert f"New title: <ins>{seo}</ins>" in message.html
    payload = message.payload
    assert (payload["old_title"], payload["new_title"]) == (OLD_HEADLINE, seo)
    assert payload["title_changed"] is True and payload["headline_changed"] is False
    digest = build_message(
        [entry, replace(entry, article_id=8, article_url=f"{URL}-2")],
        rule="desk", templates=None, idempotency_key="key-2",
    )  # fmt: skip
    assert f"title: {OLD_HEADLINE} → {seo}" in digest.text
    assert digest.payload["title_changed"] is False  # the digest's head names no article


def test_stealth_edit_and_correction(edited):
    stealth = one(facts(edited, 3, "body_changed", "stealth_edit"))
    assert stealth.title.startswith("[kyivindependent.com] Stealth edit: ")
    assert "stealth edit" in stealth.text
    (change,) = stealth.payload["changes"]
    assert change["field"] == "body" and change["stealth"] is True
    assert change["class"] in ("substantive", "rewrite")
    assert "Officials in Washington declined" in change["added"]
    assert "said in a press briefing-]{+Officials in Washington declined" in stealth.text

    corrected = one(facts(edited, 4, "body_changed", "correction"))
    assert corrected.title.startswith("[kyivindependent.com] Correction: ")
    body = next(c for c in corrected.payload["changes"] if c["field"] == "body")
    assert body["notes"] == ["correction"] and body["stealth"] is False
    assert "correction" in body["summary"] and "correction" in corrected.text
    assert "12,000" in body["removed"] and "11,000" in body["added"]
    assert "Revision 3 → 4" in corrected.text


def test_live_item_updated():
    edited = FEED_HTML.replace("after May Middle East visit.", "after his Gulf visit.")
    url = "https://kyivindependent.com/news-feed/"
    history = revisions(page(FEED_HTML, url), page(edited, url))
    message = one(facts(history, 2, "item_updated", where=article(url=url)))
    (change,) = message.payload["changes"]
    assert change["field"] == "item:id:/news-feed/trump-says-he-may-meet-putin-shortly/"
    assert change["label"].startswith("Live item ")
    assert "Gulf" in change["added"] and "May Middle East" in change["removed"]
    assert message.title.startswith("[kyivindependent.com] Live item updated: News Feed")


@pytest.mark.parametrize(
    ("kind", "event", "detail", "label"),
    [
        ("article_gone", EventKind.GONE, "HTTP 410", "Article gone"),
        ("article_back", EventKind.BACK, "", "Article back"),
        ("article_moved", EventKind.MOVED, "https://kyivindependent.com/new-url/", "Article moved"),
    ],
)
def test_events(edited, kind, event, detail, label):
    happened = Event(7, AT + timedelta(days=1), event, detail, id=3)
    alert = replace(Alert(9, "desk", 7, "e3", (kind,), happened.at, event_id=3), rule="desk")
    entry = facts_for(
        alert, article(), revision=edited[-1], previous=None, event=happened, base_url=BASE
    )
    message = one(entry)
    assert message.title == f"[kyivindependent.com] {label}: {NEW_HEADLINE}"
    assert f"Headline: {NEW_HEADLINE}" in message.text
    assert "Seen 2024-12-29 06:00 UTC" in message.text and f"Article: {URL}" in message.text
    assert (detail in message.text) if detail else "Revision" not in message.text
    payload = message.payload
    assert payload["event"] == str(event) and payload["event_detail"] == (detail or None)
    assert payload["revision"] is None and payload["changes"] == [] and payload["diff_url"] is None
    assert payload["fetched_at"] == "2024-12-29T06:00:00.000+00:00"


def test_new_article(edited):
    message = one(facts(edited, 1, "new_article"))
    assert message.title == f"[kyivindependent.com] New article: {OLD_HEADLINE}"
    assert "Revision 1, fetched" in message.text and "Diff:" not in message.text
    payload = message.payload
    assert payload["previous_revision"] is None and payload["old_headline"] is None
    assert payload["diff_url"] is None and payload["headline_changed"] is False
    assert {c["kind"] for c in payload["changes"]} == {"added"}


def test_quiet_merge_of_a_burst():
    """Three revisions of one article in one message: the first old headline, the last new."""
    edits = ("heavy losses", "heavy losses, then more", "at least 1,000 losses")
    versions = [ARTICLE_HTML, *(ARTICLE_HTML.replace("over 1,000 losses", e) for e in edits)]
    history = revisions(*(page(html) for html in versions))
    entries = [facts(history, n, "headline_changed") for n in (3, 2, 4)]
    message = build_message(entries, rule="desk", templates=None, idempotency_key="burst")
    final = OLD_HEADLINE.replace("over 1,000", "at least 1,000")
    assert f"Old headline: {OLD_HEADLINE}\nNew headline: {final}" in message.text
    assert "(3 edits)" in message.title and "Revision 1 → 4" in message.text
    payload = message.payload
    assert (payload["old_headline"], payload["new_headline"]) == (OLD_HEADLINE, final)
    assert (payload["previous_revision"], payload["revision"]) == (1, 4)
    assert [c["revision"] for c in payload["changes"]] == [2, 3, 4]
    assert [e["revision"] for e in payload["entries"]] == [2, 3, 4]
    assert payload["count"] == 3 and payload["digest"] is False
    assert payload["diff_url"] == "https://redline.example.org/articles/7/diff/1/4"


def test_digest_of_three_articles(edited):
    sites = ["kyivindependent.com", "news.example.org", "example.com"]
    entries = [
        facts(edited, 2, "headline_changed", where=article(n, f"https://{s}/a{n}", s))
        for n, s in enumerate(sites, start=1)
    ]
    message = build_message(entries, rule="morning", templates=None, idempotency_key="d1")
    assert message.title == "Redline: 3 articles changed (morning)"
    payload = message.payload
    assert payload["digest"] is True and payload["count"] == 3 and len(payload["entries"]) == 3
    assert [e["url"] for e in payload["entries"]] == [
        f"https://{s}/a{n}" for n, s in enumerate(sites, 1)
    ]
    assert payload["url"] is None and payload["changes"] == []
    for n, site in enumerate(sites, start=1):
        assert f"{n}. [{site}] Headline changed: {NEW_HEADLINE}" in message.text
        assert f"https://{site}/a{n}" in message.html
    assert message.text.count(f"was: {OLD_HEADLINE}") == 3


def test_test_messages_are_marked(edited):
    entry = facts(edited, 2, "headline_changed")
    marked, plain = one(entry, test=True), one(entry)
    assert marked.title == f"[TEST] {plain.title}"
    assert marked.text.startswith(TEST_LINE) and TEST_LINE not in plain.text
    assert "[TEST]" in marked.html and "[TEST]" not in plain.html
    assert marked.payload["test"] is True and plain.payload["test"] is False


def test_hostile_text_is_stripped_escaped_and_kept_intact():
    before = Page(headline="Budget vote", body=("The council met.",))
    after = Page(headline=HOSTILE, body=("The council met. \u202e<b>Late</b> \x1b[31mnews.",))
    message = one(facts(revisions(before, after), 2, "headline_changed"))
    for shown in (message.title, message.text, message.html):
        assert "\x1b" not in shown and "\u202e" not in shown and "\u202c" not in shown
    assert "\n" not in message.title
    assert "Budget [2J vote evil<script>" not in message.text  # not joined up: only stripped
    assert "Budget [2J vote evil <script>alert(1)</script>" in message.text
    assert (
        "<script>" not in message.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in message.html
    )
    assert "<b>" not in message.html and "&lt;b&gt;Late" in message.html
    assert message.payload["new_headline"] == HOSTILE
    encoded = encode_payload(message.payload)
    assert b"\x1b" not in encoded and "\u202e".encode() not in encoded
    assert b"\\u202e" in encoded and b"\\u001b" in encoded
    assert json.loads(encoded) == message.payload


def test_long_changes_are_capped():
    words = " ".join(f"word{n}" for n in range(400))
    before = Page(headline="A", body=tuple(f"{words} old{n}." for n in range(30)))
    after = Page(headline="B", body=tuple(f"new{n} {words} changed{n}." for n in range(30)))
    items = tuple(FeedItem(f"k{n}", f"Item {n}", words) for n in range(8))
    after = replace(after, items=items)
    history = revisions(before, after)
    message = one(facts(history, 2, "body_changed"))
    payload = message.payload
    assert len(history[1].changes) == 10  # headline, body and 8 new items
    assert len(payload["changes"]) == MAX_CHANGES and payload["more_changes"] == 10 - MAX_CHANGES
    assert f"… and {payload['more_changes']} more changes" in message.text
    for change in payload["changes"]:
        assert len(change["diff"]) <= EXCERPT_CHARS + 20
        assert len(change["added"]) <= 210 and len(change["removed"]) <= 210
    assert len(message.text) < 4000 and len(message.title) <= 250


def test_custom_templates_render_documented_variables(edited):
    templates = compile_templates(
        "{{ site }}: {{ old_headline }} -> {{ new_headline }}",
        "{{ label }} ({{ kind }}) r{{ previous_revision }}-r{{ revision }} {{ fetched }}\n"
        "{% for c in changes %}{{ c.label }} [{{ c.class }}] {{ c.diff }}\n{% endfor %}"
        "{{ url }} {{ diff_url }}",
    )
    check_templates(templates)
    message = build_message(
        [facts(edited, 2, "headline_changed")],
        rule="desk",
        templates=templates,
        idempotency_key="t1",
    )
    assert message.template_error is None
    assert message.title == f"kyivindependent.com: {OLD_HEADLINE} -> {NEW_HEADLINE}"
    assert message.text.startswith(
        "Headline changed (headline_changed) r1-r2 2024-12-28 08:00 UTC\nHeadline ["
    )
    assert "[-" in message.text and "{+" in message.text
    assert message.text.endswith(f"{URL} https://redline.example.org/articles/7/diff/1/2")
    assert message.html.startswith('<div style="white-space: pre-wrap">Headline changed')
    assert "<del>" in message.html and "[-" not in message.html


def test_html_templates_autoescape_scraped_text():
    history = revisions(Page(headline="Calm"), Page(headline="<script>x()</script> & co"))
    templates = compile_templates(None, "<p>{{ new_headline }}</p>", html="<h1>{{ headline }}</h1>")
    check_templates(templates)
    message = build_message(
        [facts(history, 2, "headline_changed")], rule="r", templates=templates, idempotency_key="x"
    )
    assert message.html == "<h1>&lt;script&gt;x()&lt;/script&gt; &amp; co</h1>"
    assert message.text == "<p><script>x()</script> & co</p>"  # text is text: not escaped
    assert message.title.startswith("[kyivindependent.com] Headline changed")  # default title


def test_template_syntax_error_is_a_value_error():
    with pytest.raises(ValueError, match=r"body template, line 1: .*"):
        compile_templates(None, "{% for c in changes %}{{ c.label }")


def test_unknown_variable_is_refused_at_start_up():
    templates = compile_templates("{{ headlien }}", None)
    with pytest.raises(ValueError, match="headlien"):
        check_templates(templates)


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ self.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ changes.append(1) }}",
        "{% include '/etc/passwd' %}",
        "{% import '/etc/passwd' as p %}",
        "{% extends '/etc/passwd' %}",
    ],
)
def test_sandbox_escapes_are_refused(source):
    with pytest.raises(ValueError):
        check_templates(compile_templates(source, source))


def test_template_failing_on_one_message_falls_back_to_defaults(edited):
    templates = compile_templates(
        "{% if site == 'kyivindependent.com' %}{{ nope }}{% endif %}{{ label }}", None
    )
    check_templates(templates)  # the sample article is elsewhere: the trap is not reached
    entry = facts(edited, 2, "headline_changed")
    message = build_message([entry], rule="desk", templates=templates, idempotency_key="f")
    assert message.template_error is not None and "nope" in message.template_error
    assert message.title == one(entry).title


def test_sample_facts_are_realistic():
    sample = sample_facts()
    assert sample.headline_changed and sample.diff_url is not None
    assert {c.field for c in sample.changes} == {"headline", "body"}
    assert any("correction" in c.notes for c in sample.changes)


def test_defaults_pass_their_own_check():
    check_templates(compile_templates(None, None))


def test_no_entries_is_an_error():
    with pytest.raises(ValueError):
        build_message([], rule="r", templates=None, idempotency_key="k")
