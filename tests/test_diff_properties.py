"""Properties of the differ that must hold for any input the web can send."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from redline.crawler.diff import (
    apply_patch,
    compare,
    diff_texts,
    field_texts,
    item_text,
    render_inline_html,
    render_side_by_side_html,
    to_patch,
)
from redline.storage.codec import clean_text
from redline.storage.model import FeedItem, Page
from tests.conftest import REPO

# Any code point, lone surrogates included, plus text shaped like articles (paragraphs, sentences,
# repeated words) so the paragraph, sentence and move paths are exercised too.
ANY_CHAR = st.characters(exclude_categories=())  # surrogates and NUL included
WORDS = st.sampled_from(
    ["the", "council", "Vote", "5", "4.", "“quoted”", "😀", "\x00", "\r\n", ","]
)
SENTENCE = st.lists(WORDS, min_size=1, max_size=8).map(lambda w: " ".join(w) + ".")
PARAGRAPH = st.lists(SENTENCE, min_size=1, max_size=4).map(" ".join)
ARTICLE = st.lists(PARAGRAPH, max_size=8).map("\n\n".join)
TEXT = st.one_of(st.text(ANY_CHAR, max_size=80), st.text("ab \n\r\t\x00😀%.", max_size=40), ARTICLE)


def _edited(base: str, data: st.DataObject) -> str:
    """A plausible next version: paragraphs dropped, repeated, swapped or rewritten."""
    paragraphs = base.split("\n\n")
    edits = data.draw(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 20)), max_size=4))
    for kind, at in edits:
        if not paragraphs:
            break
        at %= len(paragraphs)
        if kind == 0:
            paragraphs.pop(at)
        elif kind == 1:
            paragraphs.insert(0, paragraphs.pop(at))
        elif kind == 2:
            paragraphs[at] = data.draw(PARAGRAPH)
        else:
            paragraphs.insert(at, data.draw(PARAGRAPH))
    return "\n\n".join(paragraphs)


@settings(max_examples=300, deadline=None)
@given(TEXT, TEXT)
def test_patch_rebuilds_the_new_text_exactly(old, new):
    diff = diff_texts(old, new)
    assert (diff.old, diff.new) == (old, new)
    patch = to_patch(diff)
    assert clean_text(patch) == patch, "the store's text cleaning must not alter a patch"
    assert apply_patch(old, patch) == new


@settings(max_examples=200, deadline=None)
@given(ARTICLE, st.data())
def test_patch_round_trip_on_edited_articles(old, data):
    new = _edited(old, data)
    diff = diff_texts(old, new)
    assert (diff.old, diff.new) == (old, new)
    assert apply_patch(old, to_patch(diff)) == new


TIMES = st.none() | st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)
ITEMS = st.lists(
    st.builds(FeedItem, st.sampled_from("abcd"), TEXT, TEXT, TIMES, st.none() | TEXT), max_size=4
)
PAGES = st.builds(
    Page,
    headline=TEXT,
    title=st.just("") | TEXT,
    byline=st.lists(TEXT, max_size=2).map(tuple),
    published=TIMES,
    updated=TIMES,
    body=st.lists(PARAGRAPH | st.text(ANY_CHAR, max_size=30), max_size=5).map(tuple),
    items=ITEMS.map(tuple),
)


@settings(max_examples=150, deadline=None)
@given(PAGES)
def test_a_page_compared_with_itself_has_no_changes(page):
    assert compare(page, page) == ()


@settings(max_examples=150, deadline=None)
@given(st.none() | PAGES, PAGES)
def test_compare_is_deterministic_and_its_patches_apply(old, new):
    changes = compare(old, new)
    assert compare(old, new) == changes
    before, after = field_texts(old or Page()), field_texts(new)
    old_items = _items_by_field(old.items if old else ())
    new_items = _items_by_field(new.items)
    for change in changes:
        source, target = (
            (old_items, new_items) if change.field.startswith("item:") else (before, after)
        )
        assert apply_patch(source.get(change.field, ""), change.patch) == target.get(
            change.field, ""
        )
        assert 0.0 <= change.similarity <= 1.0


def _items_by_field(items: tuple[FeedItem, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, n = f"item:{clean_text(item.key)}", 1
        while key in out:
            n += 1
            key = f"item:{clean_text(item.key)}#{n}"
        out[key] = item_text(item)
    return out


PAYLOADS = st.sampled_from(
    [
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "</td></tr><tr><td><script>",
        "<ins>fake</ins>&lt;",
        "' onmouseover='x",
    ]
)
ALLOWED_TAGS = {"ins", "del", "tr", "td", "br"}


@settings(max_examples=200, deadline=None)
@given(TEXT, TEXT, PAYLOADS, st.booleans(), st.integers(0, 40))
def test_html_renderings_escape_every_piece_of_text(old, new, payload, in_old, at):
    if in_old:
        old = old[:at] + payload + old[at:]
    else:
        new = new[:at] + payload + new[at:]
    diff = diff_texts(old, new)
    for html in (render_inline_html(diff), render_side_by_side_html(diff)):
        tags = {m.lower() for m in re.findall(r"</?([a-zA-Z]+)", html)}
        assert tags <= ALLOWED_TAGS, html
        for attr in re.findall(r"<\w+([^>]*)>", html):
            assert re.fullmatch(r'(?: (?:class|data-move)="[\w-]*")*', attr), attr


SCRIPT = """
import json, sys
from redline.crawler.diff import compare, diff_texts, to_patch
from redline.storage.model import FeedItem, Page
a = Page(headline="A b c", body=("One two three four.", "Five six seven eight.", "Nine ten."),
         items=(FeedItem("x", "X"), FeedItem("y", "Y"), FeedItem("z", "Z")))
b = Page(headline="A c d", body=("Five six seven eight.", "One two three four!", "Ten nine."),
         items=(FeedItem("z", "Z"), FeedItem("x", "X2"), FeedItem("w", "W")))
print(json.dumps([repr(compare(a, b)), to_patch(diff_texts("a b c d e f", "f e d c b a"))]))
"""


def test_output_does_not_depend_on_the_process_hash_seed():
    outputs = set()
    for seed in ("1", "2", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT], cwd=REPO, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        outputs.add(done.stdout)
    assert len(outputs) == 1
    assert json.loads(outputs.pop())[0].startswith("(Change(")


def test_a_body_edit_is_stealthy_only_when_the_updated_time_stayed():
    t = datetime(2026, 1, 1, tzinfo=UTC)
    old = Page(headline="h", updated=t, body=("A long first paragraph with many words in it.",))
    new = Page(headline="h", updated=t, body=("Something else entirely, with other words now.",))
    assert [c.stealth for c in compare(old, new)] == [True]
    later = Page(headline="h", updated=t + timedelta(hours=1), body=new.body)
    assert [(c.field, c.stealth) for c in compare(old, later)] == [
        ("updated", False),
        ("body", False),
    ]
