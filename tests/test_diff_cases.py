"""compare() on real kinds of edits: a table of (old page, new page, expected changes).

Each row says, for every change a reader should see, its field, kind and class, plus any notes,
stealth flag or word counts that matter for that edit. Every change's patch must rebuild the new
field text from the old one.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from redline.crawler.diff import apply_patch, compare, field_texts, item_text
from redline.storage.model import ChangeClass, ChangeKind, FeedItem, Page

C, K = ChangeClass, ChangeKind
T0 = datetime(2026, 3, 10, 22, 15, tzinfo=UTC)
T1 = datetime(2026, 3, 11, 8, 40, tzinfo=UTC)

LEAD = (
    "The Riverton city council approved a $412 million budget on Tuesday after a four-hour "
    "debate over transit funding."
)
VOTE = "The vote was 5 to 4, with council members split over a proposal to cut two bus routes."
QUOTE = (
    "“We cannot balance this budget on the backs of people who ride the bus,” said council "
    "member Ana Ruiz, who voted against the plan."
)
MAYOR = (
    "Mayor Tom Leland said the budget protects core services while keeping property taxes flat "
    "for a third straight year."
)
END = "The budget takes effect on July 1, and the first transit cuts would follow in September."
NEW_QUOTE = (
    "“This is the most responsible budget we could pass,” said council president Dana Kim, who "
    "cast the deciding vote after weeks of negotiations."
)
BODY = (LEAD, VOTE, QUOTE, MAYOR, END)

ARTICLE = Page(
    headline="Council approves $412 million budget after transit fight",
    byline=("Maria Gomez",),
    published=T0,
    updated=T0,
    body=BODY,
)

FEED = Page(
    headline="Live: storm updates",
    published=T0,
    items=(
        FeedItem("k3", "Roads reopen in the north", "Crews cleared the last fallen trees.", T1),
        FeedItem("k2", "Power restored to 40,000 homes", "The utility said repairs continue.", T0),
        FeedItem("k1", "Storm makes landfall", "Winds reached 120 km/h near the coast.", T0),
    ),
)


def body(*paragraphs: str) -> tuple[str, ...]:
    return paragraphs


def with_item(page: Page, index: int, **fields: object) -> Page:
    items = list(page.items)
    items[index] = replace(items[index], **fields)  # type: ignore[arg-type]
    return replace(page, items=tuple(items))


CASES = [
    (
        "typo fix",
        replace(ARTICLE, body=(LEAD.replace("approved", "aproved"), *BODY[1:])),
        ARTICLE,
        [("body", K.CHANGED, C.MINOR, {"words_added": 1, "words_removed": 1, "stealth": False})],
    ),
    (
        "changed number",
        ARTICLE,
        replace(ARTICLE, body=(LEAD, VOTE.replace("5 to 4", "6 to 3"), *BODY[2:])),
        [("body", K.CHANGED, C.MINOR, {"stealth": False})],
    ),
    (
        "added quote, no declared update: a stealth edit",
        ARTICLE,
        replace(ARTICLE, body=body(LEAD, VOTE, NEW_QUOTE, QUOTE, MAYOR, END)),
        [("body", K.CHANGED, C.SUBSTANTIVE, {"words_removed": 0, "stealth": True})],
    ),
    (
        "added quote with a new updated time: declared, not stealth",
        ARTICLE,
        replace(ARTICLE, updated=T1, body=body(LEAD, VOTE, NEW_QUOTE, QUOTE, MAYOR, END)),
        [
            ("updated", K.CHANGED, C.MINOR, {"old": T0.isoformat(), "new": T1.isoformat()}),
            ("body", K.CHANGED, C.SUBSTANTIVE, {"stealth": False}),
        ],
    ),
    (
        "removed paragraph",
        ARTICLE,
        replace(ARTICLE, body=body(LEAD, VOTE, MAYOR, END)),
        [("body", K.CHANGED, C.SUBSTANTIVE, {"words_added": 0, "words_removed": 24})],
    ),
    (
        "moved paragraph",
        ARTICLE,
        replace(ARTICLE, body=body(LEAD, MAYOR, VOTE, QUOTE, END)),
        [("body", K.MOVED, C.MINOR, {"words_added": 0, "words_removed": 0, "stealth": False})],
    ),
    (
        "last paragraph moved to the top",
        ARTICLE,
        replace(ARTICLE, body=body(END, LEAD, VOTE, QUOTE, MAYOR)),
        [("body", K.MOVED, C.MINOR, {})],
    ),
    (
        "headline rewrite",
        ARTICLE,
        replace(ARTICLE, headline="Bus riders lose two routes as Riverton passes spending plan"),
        [
            (
                "headline",
                K.CHANGED,
                C.REWRITE,
                {
                    "old": "Council approves $412 million budget after transit fight",
                    "new": "Bus riders lose two routes as Riverton passes spending plan",
                },
            )
        ],
    ),
    (
        "headline case and quote style only",
        replace(ARTICLE, headline="Council Approves 'Painful' Budget"),
        replace(ARTICLE, headline="Council approves ‘painful’ budget"),
        [("headline", K.CHANGED, C.COSMETIC, {})],
    ),
    (
        "SEO title rewritten, headline kept",
        replace(ARTICLE, title="Riverton passes $412M budget"),
        replace(ARTICLE, title="Riverton budget: what the transit cuts mean for you"),
        [
            (
                "title",
                K.CHANGED,
                C.REWRITE,
                {
                    "old": "Riverton passes $412M budget",
                    "new": "Riverton budget: what the transit cuts mean for you",
                },
            )
        ],
    ),
    (
        "SEO title set apart from the headline",
        ARTICLE,
        replace(ARTICLE, title="Council approves $412 million budget after transit fight vote"),
        # the title followed the headline before: its old value is the headline
        [("title", K.CHANGED, C.MINOR, {"old": ARTICLE.headline, "words_added": 1})],
    ),
    (
        "headline edited, the title it followed kept",
        ARTICLE,
        replace(ARTICLE, headline="Council passes budget", title=ARTICLE.headline),
        [("headline", K.CHANGED, C.REWRITE, {"new": "Council passes budget"})],
    ),
    (
        "headline and the title that follows it edited together",
        ARTICLE,
        replace(ARTICLE, headline="Council approves $415 million budget after transit fight"),
        [("headline", K.CHANGED, C.MINOR, {})],
    ),
    (
        "title case and quote style only",
        replace(ARTICLE, title="Council's 'Painful' Budget"),
        replace(ARTICLE, title="Council’s ‘painful’ budget"),
        [("title", K.CHANGED, C.COSMETIC, {})],
    ),
    (
        "byline change",
        ARTICLE,
        replace(ARTICLE, byline=("Maria Gomez", "Lee Chan")),
        [("byline", K.CHANGED, C.MINOR, {"old": "Maria Gomez", "new": "Maria Gomez; Lee Chan"})],
    ),
    (
        "byline replaced",
        ARTICLE,
        replace(ARTICLE, byline=("Lee Chan",)),
        [("byline", K.CHANGED, C.REWRITE, {})],
    ),
    (
        "correction appended",
        ARTICLE,
        replace(
            ARTICLE,
            body=(
                *BODY,
                "Correction: An earlier version of this article misstated the vote count.",
            ),
        ),
        [("body", K.CHANGED, C.SUBSTANTIVE, {"notes": ("correction",), "stealth": False})],
    ),
    (
        "editor's note on top",
        ARTICLE,
        replace(
            ARTICLE,
            body=("EDITOR’S NOTE: This story has been updated with the mayor's response.", *BODY),
        ),
        [("body", K.CHANGED, C.SUBSTANTIVE, {"notes": ("editors_note", "update_notice")})],
    ),
    (
        "an old correction is not noted again",
        replace(ARTICLE, body=(*BODY, "Correction: An earlier version misstated the date.")),
        replace(
            ARTICLE,
            body=(
                LEAD,
                VOTE.replace("5 to 4", "6 to 3"),
                *BODY[2:],
                "Correction: An earlier version misstated the date.",
            ),
        ),
        [("body", K.CHANGED, C.MINOR, {"notes": ()})],
    ),
    (
        "whitespace and punctuation only",
        ARTICLE,
        replace(
            ARTICLE, body=(LEAD.replace(" on Tuesday", "  on Tuesday"), VOTE[:-1] + "!", *BODY[2:])
        ),
        [("body", K.CHANGED, C.COSMETIC, {"stealth": False})],
    ),
    (
        "whole body rewritten",
        ARTICLE,
        replace(ARTICLE, body=(NEW_QUOTE, "Officials declined to comment further on Tuesday.")),
        [("body", K.CHANGED, C.REWRITE, {"stealth": True})],
    ),
    (
        "publication date changed",
        ARTICLE,
        replace(ARTICLE, published=T1),
        [("published", K.CHANGED, C.SUBSTANTIVE, {"new": "2026-03-11T08:40:00+00:00"})],
    ),
    (
        "updated time appears",
        replace(ARTICLE, updated=None),
        ARTICLE,
        [("updated", K.ADDED, C.MINOR, {"old": None})],
    ),
    (
        "live-feed item updated and marked (Updated: ...)",
        FEED,
        with_item(
            FEED,
            1,
            text="The utility said all but 2,000 homes have power again.",
            updated="(Updated: 10:42)",
        ),
        [("item:k2", K.CHANGED, C.SUBSTANTIVE, {"notes": ("update_notice",), "stealth": False})],
    ),
    (
        "live-feed item changed without a marker: stealth",
        FEED,
        with_item(FEED, 1, text="The utility now says repairs could take a week or more."),
        [("item:k2", K.CHANGED, C.SUBSTANTIVE, {"stealth": True})],
    ),
    (
        "live-feed item headline typo",
        FEED,
        with_item(FEED, 2, headline="Storm make landfall"),
        [("item:k1", K.CHANGED, C.MINOR, {})],
    ),
    (
        "live-feed item removed",
        FEED,
        replace(FEED, items=FEED.items[:2]),
        [("item:k1", K.REMOVED, C.SUBSTANTIVE, {"new": None, "words_added": 0, "similarity": 0.0})],
    ),
    (
        "live-feed item added on top: the others did not move",
        FEED,
        replace(FEED, items=(FeedItem("k4", "Schools to reopen Monday"), *FEED.items)),
        [("item:k4", K.ADDED, C.SUBSTANTIVE, {"old": None, "new": "Schools to reopen Monday"})],
    ),
    (
        "live-feed items reordered",
        FEED,
        replace(FEED, items=(FEED.items[1], FEED.items[2], FEED.items[0])),
        [("item:k3", K.MOVED, C.MINOR, {"words_added": 0})],
    ),
    (
        "new article with an SEO title",
        None,
        replace(ARTICLE, title="Riverton passes $412M budget", body=()),
        [
            ("headline", K.ADDED, C.SUBSTANTIVE, {"old": None}),
            ("title", K.ADDED, C.SUBSTANTIVE, {"new": "Riverton passes $412M budget"}),
            ("byline", K.ADDED, C.SUBSTANTIVE, {}),
            ("published", K.ADDED, C.SUBSTANTIVE, {}),
            ("updated", K.ADDED, C.MINOR, {}),
        ],
    ),
    (
        "new article",
        None,
        ARTICLE,
        [
            ("headline", K.ADDED, C.SUBSTANTIVE, {"old": None}),
            ("byline", K.ADDED, C.SUBSTANTIVE, {"new": "Maria Gomez"}),
            ("published", K.ADDED, C.SUBSTANTIVE, {}),
            ("updated", K.ADDED, C.MINOR, {}),
            ("body", K.ADDED, C.SUBSTANTIVE, {"old": None, "new": None, "stealth": False}),
        ],
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_compare_finds_the_changes_a_reader_would_see(old, new, expected):
    changes = compare(old, new)
    assert [(c.field, c.kind, c.class_) for c in changes] == [e[:3] for e in expected]
    for change, (*_, details) in zip(changes, expected, strict=True):
        for name, value in details.items():
            assert getattr(change, name) == value, f"{change.field}.{name}"


@pytest.mark.parametrize(("old", "new"), [c[1:3] for c in CASES], ids=[c[0] for c in CASES])
def test_every_patch_rebuilds_the_new_field_text(old, new):
    before = field_texts(old or Page())
    after = field_texts(new)
    old_items = {i.key: item_text(i) for i in (old.items if old else ())}
    new_items = {i.key: item_text(i) for i in new.items}
    for change in compare(old, new):
        if change.field.startswith("item:"):
            key = change.field[5:]
            assert apply_patch(old_items.get(key, ""), change.patch) == new_items.get(key, "")
        else:
            assert apply_patch(before[change.field], change.patch) == after[change.field]


def test_short_fields_hold_their_values_and_the_body_does_not():
    changed = replace(ARTICLE, headline="Council passes budget", body=(LEAD, VOTE))
    by_field = {c.field: c for c in compare(ARTICLE, changed)}
    assert by_field["headline"].old == ARTICLE.headline
    assert by_field["headline"].new == "Council passes budget"
    assert by_field["body"].old is None and by_field["body"].new is None


def test_items_are_ordered_new_order_first_then_removed_in_old_order():
    new = replace(
        FEED,
        items=(
            FeedItem("k5", "Fifth"),
            with_item(FEED, 1, text="Changed text entirely, nothing left of it.").items[1],
        ),
    )
    assert [(c.field, c.kind) for c in compare(FEED, new)] == [
        ("item:k5", K.ADDED),
        ("item:k2", K.CHANGED),
        ("item:k3", K.REMOVED),
        ("item:k1", K.REMOVED),
    ]


def test_repeated_item_keys_are_kept_apart():
    page = replace(FEED, items=(FeedItem("dup", "One"), FeedItem("dup", "Two")))
    assert [c.field for c in compare(None, page) if c.field.startswith("item:")] == [
        "item:dup",
        "item:dup#2",
    ]


@pytest.mark.parametrize(
    ("added", "notes"),
    [
        ("Correction: The vote was 6 to 3, not 5 to 4.", ("correction",)),
        ("CORRECTION (March 11): An earlier version gave the wrong date.", ("correction",)),
        ("Clarification: The plan cuts two routes, not three.", ("correction",)),
        ("This article was amended on 11 March 2026 to correct the vote.", ("correction",)),
        ("Correction appended", ("correction",)),
        ("Editors' Note: This article has been revised.", ("editors_note",)),
        ("Editor’s note — Ana Ruiz is a relative of the reporter.", ("editors_note",)),
        ("This story has been updated with comment from the mayor.", ("update_notice",)),
        ("Update (10:42 GMT): The council will meet again on Friday.", ("update_notice",)),
        ("This is a developing story.", ("update_notice",)),
        ("The corrections department said it would review the plan.", ()),
        ("Updated figures show ridership fell 4% last year.", ()),
        ("The editor noted that the meeting ran late.", ()),
    ],
)
def test_notes_are_recognised_in_their_usual_wordings(added, notes):
    (change,) = compare(ARTICLE, replace(ARTICLE, body=(*BODY, added)))
    assert change.notes == notes


def test_a_correction_moved_to_the_top_is_not_a_new_correction():
    note = "Correction: An earlier version of this article misstated the vote count."
    old = replace(ARTICLE, body=(*BODY, note))
    (change,) = compare(old, replace(ARTICLE, body=(note, *BODY)))
    assert (change.kind, change.notes) == (K.MOVED, ())
