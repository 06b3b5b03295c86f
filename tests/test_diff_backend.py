"""Both diff-match-patch backends record the same changes, and `redline --version` names the one
in use.

The pure-Python port is the oracle for the C++ one (and its stand-in where the wheel does not
install): every Change that compare() gives, patch included, must be the same whichever ran, on
generated pages and on edits of the 91 corpus pages (skipped without ../shared/corpus); so must
the raw token runs, and word diffs whose stand-ins once fell on characters the ports (and the
process locale) classify differently.
"""

from __future__ import annotations

import locale
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from functools import cache
from importlib.util import find_spec

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from redline import __version__
from redline.cli import cli
from redline.crawler.diff import BACKEND, compare, diff_texts
from redline.crawler.diff.backend import (
    FAST,
    PURE,
    UNIFORM_STAND_INS,
    Backend,
    load_backend,
    stand_in,
    token_diff,
    use_backend,
)
from redline.crawler.extract import extract
from redline.storage.model import Change, FeedItem, Page
from tests.test_extract_corpus import CORPUS, corpus, corpus_ids

needs_fast = pytest.mark.skipif(
    find_spec("fast_diff_match_patch") is None, reason="fast-diff-match-patch is not installed"
)


@contextmanager
def backend(name: str) -> Iterator[Backend]:
    previous = use_backend(name)
    try:
        yield load_backend(name)
    finally:
        use_backend(previous.name)


def compare_on_both(old: Page | None, new: Page) -> tuple[Change, ...]:
    """compare(old, new), checked to be the same on both backends."""
    with backend(FAST):
        fast = compare(old, new)
    with backend(PURE):
        pure = compare(old, new)
    assert fast == pure
    return fast


# Edits as a newsroom makes them, driven by one Random so generated and corpus pages share them.


def _edit_words(words: list[str], rnd: random.Random, vocab: Sequence[str]) -> list[str]:
    at = rnd.randint(0, len(words))
    kind = rnd.randrange(3)
    if kind == 0 or not words:
        return [*words[:at], *rnd.choices(vocab, k=rnd.randint(1, 4)), *words[at:]]
    at = min(at, len(words) - 1)
    if kind == 1:
        return [*words[:at], *words[at + rnd.randint(1, 5) :]]
    return [*words[:at], rnd.choice(vocab), *words[at + 1 :]]


def _edit_body(body: list[str], rnd: random.Random, vocab: Sequence[str]) -> list[str]:
    if not body:
        return [" ".join(rnd.choices(vocab, k=rnd.randint(3, 30)))]
    at = rnd.randrange(len(body))
    kind = rnd.randrange(5)
    if kind == 0:  # a paragraph moved
        moved = body.pop(at)
        body.insert(rnd.randint(0, len(body)), moved)
    elif kind == 1:  # a paragraph added
        body.insert(at, " ".join(rnd.choices(vocab, k=rnd.randint(3, 40))))
    elif kind == 2:  # a paragraph removed
        del body[at]
    elif kind == 3:  # a stretch rewritten, new figures and all: many distinct words at once
        words = [rnd.choice([rnd.choice(vocab), f"{rnd.randrange(10**6):,}"]) for _ in range(600)]
        body[at : at + rnd.randint(1, 10)] = [" ".join(words[: rnd.randint(5, 600)])]
    else:
        body[at] = " ".join(_edit_words(body[at].split(" "), rnd, vocab))
    return body


def _edit_items(items: list[FeedItem], rnd: random.Random, vocab: Sequence[str]) -> list[FeedItem]:
    kind = rnd.randrange(4)
    if kind == 0 or not items:
        key = f"new-{rnd.randrange(1000)}"
        return [FeedItem(key, " ".join(rnd.choices(vocab, k=5)), " ".join(vocab[:12])), *items]
    at = rnd.randrange(len(items))
    if kind == 1:
        return items[:at] + items[at + 1 :]
    if kind == 2:
        return items[at:] + items[:at]
    text = " ".join(_edit_words(items[at].text.split(" "), rnd, vocab))
    items[at] = replace(items[at], text=text, updated=rnd.choice([None, "(Updated 10:42)"]))
    return items


def edit_page(page: Page, rnd: random.Random, vocab: Sequence[str]) -> Page:
    """A next version of `page`: one to six edits of its headline, body and feed items."""
    headline, body, items = page.headline, list(page.body), list(page.items)
    for _ in range(rnd.randint(1, 6)):
        part = rnd.randrange(5)
        if part == 0:
            headline = " ".join(_edit_words(headline.split(" "), rnd, vocab))
        elif part == 1:
            items = _edit_items(items, rnd, vocab)
        else:
            body = _edit_body(body, rnd, vocab)
    return replace(page, headline=headline, body=tuple(body), items=tuple(items))


VOCAB = ["the", "council", "said", "on", "Tuesday", "vote", "was", "delayed", "by", "a", "week"]
VOCAB += ["5", "4.2", "1,200", "10:30", "don't", "“quoted”", "Kyiv", "😀", "—", ",", ".", "\n"]
WORDS = st.lists(st.sampled_from(VOCAB), min_size=1, max_size=12).map(" ".join)
ITEMS = st.lists(
    st.builds(FeedItem, key=st.sampled_from(["a", "b", "c", "d"]), headline=WORDS, text=WORDS),
    max_size=4,
)
PAGES = st.builds(
    Page,
    headline=WORDS,
    byline=st.lists(st.sampled_from(["Ann Lee", "Bo Kim"]), max_size=2).map(tuple),
    body=st.lists(WORDS, max_size=8).map(tuple),
    items=ITEMS.map(tuple),
)


@needs_fast
@settings(max_examples=100, deadline=None)
@given(PAGES, st.randoms(use_true_random=False))
def test_both_backends_record_the_same_changes(page: Page, rnd: random.Random) -> None:
    new = edit_page(page, rnd, VOCAB)
    compare_on_both(page, new)
    compare_on_both(None, new)


TOKENS = st.lists(st.sampled_from(["a", "b", "c", "d", " ", "."]), max_size=30)


@needs_fast
@settings(max_examples=150, deadline=None)
@given(st.integers(0, 1200), TOKENS, TOKENS)
def test_both_backends_give_the_same_runs(
    filler: int, tail_a: list[str], tail_b: list[str]
) -> None:
    """Token diffs straight, on both cleanups, after up to 1,200 distinct tokens."""
    head = [f"w{i}" for i in range(filler)]
    for cleanup in ("Semantic", "No"):
        with backend(FAST):
            fast = token_diff([*head, *tail_a], [*head, *tail_b], cleanup)
        with backend(PURE):
            pure = token_diff([*head, *tail_a], [*head, *tail_b], cleanup)
        assert fast == pure


@cache
def corpus_page(key: str) -> Page:
    url, raw, _ = corpus()[key]
    return extract(raw, url).page


@needs_fast
@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no corpus at {CORPUS}")
@pytest.mark.parametrize("key", corpus_ids())
def test_both_backends_record_the_same_changes_on_corpus_edits(key: str) -> None:
    page = corpus_page(key)
    vocab = sorted(set(page.text.split()) | set(VOCAB))
    compare_on_both(page, edit_page(page, random.Random(key), vocab))


# 581 distinct words before "zebra": with the old stand-ins (U+0100 up) it got U+0345, a letter to
# glibc and not to Python, and the two ports shifted the insertion differently.
MANY_WORDS = "Start the cat end " + " ".join(f"w{i}" for i in range(4, 581))


@needs_fast
@pytest.mark.parametrize("ctype", ["C.UTF-8", "C"])
def test_word_diffs_with_many_distinct_words_ignore_port_and_locale(ctype: str) -> None:
    """The semantic cleanup scores boundaries by character class, which the C++ port takes from
    the process locale: the stand-ins are all of one class, so neither matters."""
    old, new = f"{MANY_WORDS} zebra the end", f"{MANY_WORDS} zebra the cat the end"
    saved = locale.setlocale(locale.LC_CTYPE)
    try:
        locale.setlocale(locale.LC_CTYPE, ctype)
        with backend(FAST):
            fast = diff_texts(old, new)
    except locale.Error:
        pytest.skip(f"no {ctype} locale")
    finally:
        locale.setlocale(locale.LC_CTYPE, saved)
    with backend(PURE):
        pure = diff_texts(old, new)
    assert fast == pure
    assert [p.text for p in fast.pieces[1:]] == [" cat the", " end"]


def test_stand_ins_are_distinct_letters_then_every_other_code_point() -> None:
    letters = [stand_in(i) for i in range(UNIFORM_STAND_INS)]
    assert len(set(letters)) == UNIFORM_STAND_INS
    assert all(c.isalnum() and not c.isspace() for c in letters)
    rest = [stand_in(i) for i in range(UNIFORM_STAND_INS, UNIFORM_STAND_INS + 70_000)]
    assert rest[0] == "\u0100" and not set(rest) & set(letters)
    assert not [c for c in rest if "\ud800" <= c <= "\udfff"]
    assert stand_in(0x110000 - 0x100 - 0x800 - 1) == "\U0010ffff"  # as many as code points


def test_backend_names_the_library_and_version() -> None:
    assert load_backend(PURE).label.startswith("diff-match-patch 2")
    assert load_backend(PURE).label.endswith(" (pure Python)")
    expected = FAST if find_spec("fast_diff_match_patch") else PURE
    assert load_backend(expected).label == BACKEND
    with pytest.raises(ValueError, match="unknown diff backend"):
        load_backend("difflib")


def test_version_names_the_differ() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"redline {__version__} (differ: {BACKEND})\n"
