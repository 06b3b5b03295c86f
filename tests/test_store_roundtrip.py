"""What is recorded is what is read back, on both backends, for any text the web can send.

The decided rule (storage/codec.py): every text field reads back as `clean_text(original)`: NUL
dropped, lone surrogates replaced by U+FFFD, everything else kept exactly (no Unicode
normalisation, no trimming). Times read back as the same instant, in UTC. SQLite and PostgreSQL
return identical values for identical input.
"""

from __future__ import annotations

import itertools
import random
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redline.storage import open_store
from redline.storage.checks import EventNote
from redline.storage.codec import clean_optional, clean_text, content_hash
from redline.storage.model import (
    Change,
    ChangeClass,
    ChangeKind,
    EventKind,
    FeedItem,
    Page,
    PageKind,
    Revision,
)
from redline.storage.sqlstore import SqlStore
from tests.conftest import NOW
from tests.records import revision

SETTINGS = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_serial = itertools.count()

# Any code point, with NUL and lone surrogates (category Cs) mixed in on purpose.
hostile_char = st.one_of(
    st.characters(),
    st.characters(categories=["Cs"]),
    st.just("\x00"),
)
text = st.text(hostile_char, max_size=40)
optional_text = st.none() | text
offsets = st.timedeltas(
    min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)
)
times = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=offsets.map(timezone),
)
items = st.builds(
    FeedItem, key=text, headline=text, text=text, time=st.none() | times, updated=optional_text
)
pages = st.builds(
    Page,
    headline=text,
    title=text,
    byline=st.lists(text, max_size=3).map(tuple),
    published=st.none() | times,
    updated=st.none() | times,
    body=st.lists(text, max_size=6).map(tuple),
    items=st.lists(items, max_size=3).map(tuple),
    kind=st.sampled_from([PageKind.ARTICLE, PageKind.LIVE]),
    language=optional_text,
    canonical_url=optional_text,
    extractor=text,
    extractor_version=text,
    reason=optional_text,
)
changes = st.builds(
    Change,
    field=text,
    kind=st.sampled_from(ChangeKind),
    class_=st.sampled_from(ChangeClass),
    old=optional_text,
    new=optional_text,
    patch=text,
    words_added=st.integers(0, 2**31 - 1),
    words_removed=st.integers(0, 2**31 - 1),
    similarity=st.floats(allow_nan=False, allow_infinity=False),
    notes=st.lists(text, max_size=3).map(tuple),
    stealth=st.booleans(),
    coarse=st.booleans(),
)


def cleaned_page(page: Page) -> Page:
    """What the store must give back for `page`: the decided cleaning, nothing else."""
    return Page(
        headline=clean_text(page.headline),
        title=clean_text(page.title),
        byline=tuple(map(clean_text, page.byline)),
        published=page.published,
        updated=page.updated,
        body=tuple(map(clean_text, page.body)),
        items=tuple(
            FeedItem(
                key=clean_text(i.key),
                headline=clean_text(i.headline),
                text=clean_text(i.text),
                time=i.time,
                updated=clean_optional(i.updated),
            )
            for i in page.items
        ),
        kind=page.kind,
        language=clean_optional(page.language),
        canonical_url=clean_optional(page.canonical_url),
        extractor=clean_text(page.extractor),
        extractor_version=clean_text(page.extractor_version),
        reason=clean_optional(page.reason),
    )


def cleaned_change(change: Change) -> Change:
    return Change(
        field=clean_text(change.field),
        kind=change.kind,
        class_=change.class_,
        old=clean_optional(change.old),
        new=clean_optional(change.new),
        patch=clean_text(change.patch),
        words_added=change.words_added,
        words_removed=change.words_removed,
        similarity=change.similarity,
        notes=tuple(clean_text(note) for note in change.notes),
        stealth=change.stealth,
        coarse=change.coarse,
    )


def record_first(
    store: SqlStore,
    page: Page,
    changes: tuple[Change, ...] = (),
    *,
    fetched_at: datetime = NOW,
    raw_html: bytes | None = None,
    detail: str = "",
) -> int:
    """Track a new article and record `page` as its revision 1; return the article id."""
    n = next(_serial)
    article, _ = store.add_article(f"https://news.example/rt/{n}", NOW)
    result = store.record(
        revision(
            article.id,
            f"rt-{n}",
            page,
            changes=changes,
            raw_html=raw_html,
            at=fetched_at,
            next_at=NOW,
            events=[EventNote(EventKind.BACK, detail)],
        )
    )
    assert result.revision == 1
    return article.id


def assert_utc(revision: Revision) -> None:
    page = revision.page
    stamps = [revision.fetched_at, page.published, page.updated, *(i.time for i in page.items)]
    for stamp in stamps:
        assert stamp is None or stamp.utcoffset() == timedelta(0)


@SETTINGS
@given(
    page=pages, changes=st.lists(changes, max_size=3).map(tuple), fetched_at=times, raw=st.binary()
)
def test_what_is_recorded_is_read_back_cleaned(store, page, changes, fetched_at, raw):
    article_id = record_first(store, page, changes, fetched_at=fetched_at, raw_html=raw)
    revision = store.revision(article_id, 1)
    assert revision.page == cleaned_page(page)
    assert revision.changes == tuple(map(cleaned_change, changes))
    assert revision.fetched_at == fetched_at
    assert revision.content_hash == content_hash(page) == content_hash(cleaned_page(page))
    assert_utc(revision)
    assert store.raw_html(article_id, 1) == raw
    (info,) = store.history(article_id)
    assert (info.headline, info.title) == (clean_text(page.headline), clean_text(page.title))
    assert [(s.field, s.kind, s.class_) for s in info.changes] == [
        (clean_text(c.field), c.kind, c.class_) for c in changes
    ]


@SETTINGS
@given(detail=text)
def test_event_details_are_read_back_cleaned(store, detail):
    article_id = record_first(store, Page(headline="h"), detail=detail)
    assert store.events(article_id)[-1].detail == clean_text(detail)


@SETTINGS
@given(
    parts=st.lists(
        st.one_of(st.text(max_size=5), st.characters(categories=["Cs"]), st.just("\x00"))
    ),
)
def test_nul_is_dropped_and_lone_surrogates_become_replacement_characters(store, parts):
    original = "".join(parts)
    article_id = record_first(store, Page(headline=original, body=(original,)))
    page = store.revision(article_id, 1).page
    expected = original.replace("\x00", "")
    expected = "".join("\ufffd" if unicodedata.category(c) == "Cs" else c for c in expected)
    assert page.headline == page.body[0] == expected == clean_text(original)
    assert "\x00" not in expected
    expected.encode("utf-8")  # no lone surrogate is left


def test_sqlite_and_postgresql_return_identical_revisions(tmp_path: Path, pg_schema: str):
    sqlite = open_store(f"sqlite:///{tmp_path / 'parity.sqlite'}")
    postgres = open_store(pg_schema)

    @SETTINGS
    @given(page=pages, changes=st.lists(changes, max_size=3).map(tuple), fetched_at=times)
    def check(page: Page, changes: tuple[Change, ...], fetched_at: datetime) -> None:
        ids = [record_first(s, page, changes, fetched_at=fetched_at) for s in (sqlite, postgres)]
        a, b = (s.revision(i, 1) for s, i in zip((sqlite, postgres), ids, strict=True))
        assert repr(a.page) == repr(b.page)  # repr: the same tzinfo too, not only equal instants
        assert (a.changes, a.fetched_at, a.content_hash) == (
            b.changes,
            b.fetched_at,
            b.content_hash,
        )
        assert repr(a.fetched_at) == repr(b.fetched_at)
        assert sqlite.history(ids[0])[0].changes == postgres.history(ids[1])[0].changes

    try:
        check()
    finally:
        sqlite.close()
        postgres.close()


ANY_SCRIPT = (
    "東京で地震、震度５強　気象庁が会見",  # Japanese, ideographic space
    "北京时间 2026年11月27日 新闻",  # Chinese
    "서울 시장 선거 결과 발표",  # Korean
    "الحكومة تعلن عن ميزانية جديدة ‏(تحديث)",  # Arabic with a right-to-left mark
    "הממשלה אישרה את התקציב ‮reversed‬",  # Hebrew with bidi overrides
    "नई दिल्ली में चुनाव परिणाम",  # Devanagari
    "กรุงเทพมหานคร ประกาศ",  # Thai (no spaces between words)
    "Ελληνικά · Русский текст · Ქართული",  # Greek, Cyrillic, Georgian
    "emoji 👩‍👩‍👧‍👦 🇺🇦 🏳️‍🌈 👍🏽 😀",  # ZWJ sequences, flags, skin tones
    "combining: e\u0301 vs \u00e9, n\u0303, a\u0308\u0301\u0323",  # NFD kept, not normalised
    "zero width: a\u200bb\u200cc\u200dd\ufeffe",  # ZWSP, ZWNJ, ZWJ, BOM
    "line sep\u2028para sep\u2029nbsp\u00a0end\r\ntab\tcr\r",
    "astral: \U0001d400\U0001f9ea\U00010348 private: \ue000 \U0010fffd nonchar: \uffff",
)


def test_text_in_any_script_is_kept_exactly(store):
    page = Page(
        headline=ANY_SCRIPT[0],
        byline=ANY_SCRIPT[1:3],
        body=ANY_SCRIPT,
        items=tuple(FeedItem(key=s, headline=s, text=s, updated=s) for s in ANY_SCRIPT),
        language="und",
    )
    change = Change("body", ChangeKind.CHANGED, ChangeClass.REWRITE, ANY_SCRIPT[3], ANY_SCRIPT[8])
    article_id = record_first(store, page, (change,), detail=ANY_SCRIPT[4])
    revision = store.revision(article_id, 1)
    assert revision.page == page
    assert revision.changes == (change,)
    assert revision.page.body[9] != unicodedata.normalize("NFC", ANY_SCRIPT[9])
    assert store.history(article_id)[0].headline == ANY_SCRIPT[0]
    assert store.events(article_id)[-1].detail == ANY_SCRIPT[4]


def varied_text(size: int, seed: int) -> str:
    """Deterministic prose-like text of about `size` characters, not one repeated string."""
    rng = random.Random(seed)
    words = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyzéüß東京") for _ in range(rng.randint(1, 9)))
        for _ in range(5000)
    ]
    out: list[str] = []
    total = 0
    while total < size:
        sentence = " ".join(rng.choices(words, k=rng.randint(5, 30))) + "."
        out.append(sentence)
        total += len(sentence) + 1
    return " ".join(out)


def test_ten_megabyte_body_and_raw_html_round_trip(store):
    body_text = varied_text(10 * 1024 * 1024, seed=1)
    body = tuple(body_text[i : i + 4000] for i in range(0, len(body_text), 4000))
    html = ("<html><body>" + varied_text(10 * 1024 * 1024, seed=2) + "</body></html>").encode()
    html += bytes(range(256))  # raw bytes that are not UTF-8 at all
    page = Page(headline="A very long article", body=body)
    article_id = record_first(store, page, raw_html=html)
    revision = store.revision(article_id, 1)
    assert revision.page.body == body
    assert sum(map(len, revision.page.body)) >= 10 * 1024 * 1024
    assert store.raw_html(article_id, 1) == html


def test_dates_before_year_1000_round_trip(store):
    early = datetime(999, 1, 1, tzinfo=UTC)
    article_id = record_first(store, Page(headline="h", published=early))
    assert store.revision(article_id, 1).page.published == early


def test_hostile_change_notes_are_cleaned(store):
    change = Change("body", ChangeKind.CHANGED, ChangeClass.MINOR, notes=("a\x00b\ud800",))
    article_id = record_first(store, Page(headline="h"), (change,))
    assert store.revision(article_id, 1).changes[0].notes == ("ab\ufffd",)


@pytest.mark.parametrize(
    "published",
    [
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))),  # a "null date" some sites emit
        datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_a_date_with_no_utc_form_is_not_a_crash(store, published):
    """A time that exists in no UTC calendar is stored as no time, like the other values a
    database cannot hold; the rest of the page is kept."""
    article_id = record_first(store, Page(headline="h", published=published))
    revision = store.revision(article_id, 1)
    assert revision.page.published is None and revision.page.headline == "h"
