"""Hostile pages a reader's browser shows without fuss: deep nesting, control characters, a few
bad bytes in a declared encoding, a headline holding bidi controls. Each must still read as the
article it is, in time that grows with the page's size, not its shape."""

from __future__ import annotations

import time
from typing import Any

import pytest
from lxml import etree
from lxml import html as lxml_html
from selectolax.lexbor import LexborHTMLParser

from redline.crawler.extract import body, bounded, extract, extract_page
from redline.crawler.extract.core import region_unchanged
from redline.crawler.extract.decode import decode_html
from redline.crawler.extract.memory import find_container
from redline.storage.model import PageKind

URL = "https://news.example.com/2024/05/council-bridge"
HEADLINE = "Council approves the new bridge budget"
TOPICS = ("schools", "roads", "parks", "libraries", "buses", "water", "housing", "police")
PARAGRAPHS = [
    f"On item {i} the members turned to {TOPICS[i % 8]} and spent {i + 3} minutes on it, "
    f"before the chair called the vote on the {TOPICS[(i + 3) % 8]} report."
    for i in range(10)
]


def page(
    headline: str = HEADLINE,
    paragraphs: list[str] | None = None,
    *,
    open_tags: str = "",
    close_tags: str = "",
    head: str = '<meta charset="utf-8">',
) -> str:
    """A news article page as sites serve it: head, navigation, the story, a footer."""
    body = "".join(f"<p>{p}</p>\n" for p in (PARAGRAPHS if paragraphs is None else paragraphs))
    return (
        f"<!DOCTYPE html>\n<html lang='en'><head>{head}<title>{headline} | Example News</title>"
        '<meta property="og:title" content="Council approves the new bridge budget">'
        "</head><body><header><nav><a href='/'>Home</a> <a href='/local'>Local</a></nav></header>"
        f"<main>{open_tags}<article><h1>{headline}</h1>"
        '<p class="byline">By Jane Reporter</p>'
        f"{body}</article>{close_tags}</main>"
        "<footer><p>Copyright Example News. All rights reserved.</p></footer></body></html>"
    )


def nested(depth: int, tag: str = "div") -> tuple[str, str]:
    name = tag.split()[0]
    return f"<{tag}>" * depth, f"</{name}>" * depth


def timed(html: bytes) -> tuple[float, PageKind]:
    start = time.perf_counter()
    found = extract_page(html, URL)
    return time.perf_counter() - start, found.kind


# --- 1. deep nesting ---------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [1_000, 10_000, 50_000, 200_000])
def test_deep_page_extracts_in_time_bounded_by_its_size(depth: int) -> None:
    """Extraction time follows the page's size, not its depth: a page nested `depth` deep takes
    at most 20 times as long as a flat page of the same size (plus a second)."""
    deep = page(open_tags="<div>" * depth, close_tags="</div>" * depth).encode()
    flat = page(open_tags="<div></div>" * depth).encode()
    assert abs(len(deep) - len(flat)) < 100
    flat_time, _ = timed(flat)
    deep_time, kind = timed(deep)
    assert deep_time < 20 * flat_time + 1.0, (depth, deep_time, flat_time)
    assert kind is PageKind.ARTICLE


@pytest.mark.parametrize(
    ("tag", "closed"),
    [
        ("div", True),
        ("div", False),
        ("section class='wrap'", True),
        ("span", True),
        ("x-box", True),
    ],
)
def test_article_nested_100k_deep_is_still_the_article(tag: str, closed: bool) -> None:
    opened, closing = nested(100_000, tag)
    found = extract_page(page(open_tags=opened, close_tags=closing if closed else "").encode(), URL)
    plain = extract_page(page().encode(), URL)
    assert found.kind is PageKind.ARTICLE
    assert found.headline == HEADLINE
    assert found.body == plain.body
    assert found.body[0] == PARAGRAPHS[0]


@pytest.mark.parametrize("where", ["around", "beside"])
def test_deep_page_rechecks_cheaply_and_unchanged(where: str) -> None:
    """Checked again, a deep page reads the same, quickly; nested junk beside the article
    (a sidebar 100,000 deep) does not stop the fast re-check from reusing the Page."""
    opened, closing = nested(100_000)
    if where == "around":
        html = page(open_tags=opened, close_tags=closing).encode()
    else:
        html = page(close_tags=f"<aside>{opened}Related stories{closing}</aside>").encode()
    first = extract(html, URL)
    assert first.page.kind is PageKind.ARTICLE and first.memory is not None
    assert first.page.body == extract_page(page().encode(), URL).body
    start = time.perf_counter()
    again = extract(html, URL, memory=first.memory, previous=first.page)
    assert again.page == first.page
    assert region_unchanged(html, None, first.memory) == again.reused
    assert again.reused or where == "around"
    assert time.perf_counter() - start < 20


def test_article_memory_on_a_deep_tree_does_not_recurse_per_level() -> None:
    """The region finder walks a tree nested thousands deep (no RecursionError)."""
    html = "<html><body>" + "<div>" * 3000 + "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    found = find_container(LexborHTMLParser(html), tuple(PARAGRAPHS))
    assert found is not None and found.tag == "div"


# --- 2. control characters ---------------------------------------------------------------------

CONTROLS = [chr(c) for c in range(32) if chr(c) not in "\t\n\r"]


@pytest.mark.parametrize("char", CONTROLS, ids=[f"x{ord(c):02x}" for c in CONTROLS])
@pytest.mark.parametrize("as_bytes", [True, False], ids=["bytes", "str"])
def test_control_character_in_headline_and_body_is_ignored(char: str, as_bytes: bool) -> None:
    """One stray control byte (a backspace, an escape) does not turn an article into none."""
    # Inside a word, except a form feed, which is HTML white space: placed between words.
    if char == "\x0c":
        headline = HEADLINE.replace(" new", " \x0cnew")
        first = PARAGRAPHS[0].replace(" the ", " the\x0c", 1)
    else:
        headline = HEADLINE.replace("bridge", f"bri{char}dge")
        first = PARAGRAPHS[0].replace("members", f"mem{char}bers")
    dirty = page(headline, [first, *PARAGRAPHS[1:]])
    found = extract_page(dirty.encode() if as_bytes else dirty, URL)
    clean = extract_page(page().encode(), URL)
    assert found.kind is PageKind.ARTICLE
    assert found.headline == HEADLINE
    assert found.body == clean.body


def test_control_character_page_rechecks_as_unchanged() -> None:
    html = page(paragraphs=[PARAGRAPHS[0].replace("members", "mem\x08bers"), *PARAGRAPHS[1:]])
    first = extract(html.encode(), URL)
    assert first.page.kind is PageKind.ARTICLE and first.memory is not None
    again = extract(html.encode(), URL, memory=first.memory, previous=first.page)
    assert again.reused
    assert region_unchanged(html.encode(), None, first.memory)


# --- 3. a few invalid bytes in a declared encoding ---------------------------------------------

TEXTS = {
    "utf-8": "Þórólfur Guðnason sagði að útgöngubannið yrði framlengt um tvær vikur í Reykjavík.",
    "windows-1251": "Міська рада у вівторок обговорила бюджет і новий міст через річку.",
    "iso-8859-1": "Le conseil municipal a approuvé mardi le budget du nouveau pont sur la rivière.",
    "shift_jis": "市議会は火曜日、川に架かる新しい橋の予算を承認しました。",
}
BAD = {"utf-8": b"\xff", "windows-1251": b"\x98", "iso-8859-1": b"\x81", "shift_jis": b"\x80"}


def spoilt(encoding: str, count: int, where: str, declared: str) -> tuple[bytes, str]:
    """A page in `encoding` with `count` bad bytes between characters, in its <title> (head) or
    in its paragraphs (body); and the text it should read as, U+FFFD at each bad byte."""
    text = TEXTS[encoding]
    meta = f'<meta charset="{encoding}">' if declared != "header" else ""
    title = text[:24] if where == "head" else "Nachrichten"
    paras = [text, *PARAGRAPHS[:5]]
    html = page(title, paras, head=meta)
    spot = html.index(title) + 5 if where == "head" else html.index("<p>" + text) + 8
    step = 3
    cuts = [spot + i * step for i in range(count)]
    raw, read, last = b"", "", 0
    for cut in cuts:
        raw += html[last:cut].encode(encoding) + BAD[encoding]
        read += html[last:cut] + "\ufffd"
        last = cut
    return raw + html[last:].encode(encoding), read + html[last:]


@pytest.mark.parametrize("declared", ["header+meta", "meta", "header"])
@pytest.mark.parametrize("where", ["head", "body"])
@pytest.mark.parametrize("count", [1, 5])
@pytest.mark.parametrize("encoding", list(TEXTS))
def test_a_few_bad_bytes_keep_the_declared_encoding(
    encoding: str, count: int, where: str, declared: str
) -> None:
    raw, read = spoilt(encoding, count, where, declared)
    header = encoding if declared != "meta" else None
    decoded = decode_html(raw, header)
    assert decoded.text == read
    assert decoded.text.count("\ufffd") == count
    found = extract_page(raw, URL, encoding=header)
    assert found.kind is PageKind.ARTICLE
    start = read.index("<p>" + TEXTS[encoding][:3]) + 3
    assert read[start : read.index("</p>", start)] in found.body  # U+FFFD at the bad bytes


def test_a_page_in_another_encoding_altogether_is_still_guessed() -> None:
    """Declared UTF-8, written in windows-1251: nearly every letter is a bad byte, so the
    declaration loses to the guess."""
    raw = page("Новини", [TEXTS["windows-1251"], *PARAGRAPHS[:5]]).encode("cp1251")
    assert TEXTS["windows-1251"] in decode_html(raw, "utf-8").text


# --- 4. bidi controls in the headline ----------------------------------------------------------

BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]


@pytest.mark.parametrize("char", BIDI, ids=[f"u{ord(c):04x}" for c in BIDI])
def test_headline_with_bidi_control_is_not_repeated_as_the_body(char: str) -> None:
    headline = HEADLINE.replace("approves", f"{char}approves\u202c")
    found = extract_page(page(headline, [headline, *PARAGRAPHS]).encode(), URL)
    assert found.kind is PageKind.ARTICLE
    assert found.body[0] == PARAGRAPHS[0]
    assert found.body == extract_page(page().encode(), URL).body


# --- 5. wide pages: many thousands of tiny blocks ----------------------------------------------

WORDS = ("bridge", "budget", "vote", "river", "council", "school", "road", "park", "tax", "plan")


def _tiny(i: int) -> str:
    return "<div><p>x</p></div>"


def _varied(i: int) -> str:
    words = " ".join(WORDS[(i * k + k) % len(WORDS)] for k in range(1 + i % 4))
    return f"<div><p>{words} {i} <a href='/t/{i % 101}'>{WORDS[i % 7]}</a></p></div>"


def _inline(i: int) -> str:
    return f"<b>{WORDS[i % 10]}</b> "


def _cut(i: int) -> str:
    return f"<input>{WORDS[i % 10]} "  # cut with its tail kept: a run of text nodes


WIDE_SHAPES = {"tiny": _tiny, "varied": _varied, "inline": _inline, "cut": _cut}


def wide(shape: str, size: int) -> bytes:
    """The article page with `shape`'s blocks before the article, about `size` bytes of them
    (`inline`, `cut`: all in one paragraph, the worst case of trafilatura's `//p//text()`)."""
    make = WIDE_SHAPES[shape]
    blocks: list[str] = []
    total = 0
    while total < size:
        blocks.append(make(len(blocks)))
        total += len(blocks[-1])
    padding = "".join(blocks)
    in_one = shape in ("inline", "cut")
    return page(open_tags=f"<p>{padding}</p>" if in_one else padding).encode()


class TestWidePages:
    """Time per byte is bounded on pages of many thousands of tiny blocks: trafilatura, whose
    time grows with the square of its input, is handed a bounded tree (bounded.py), so what it
    is given stops growing with the page, and the article is still found. (The time curve
    itself is `bench/hostile.py`'s: a wall-clock ratio here failed under a loaded machine.)"""

    @staticmethod
    def _handed(monkeypatch: pytest.MonkeyPatch, html: bytes) -> list[tuple[int, int]]:
        """Elements and text nodes under paragraphs of each tree handed to trafilatura."""
        seen: list[tuple[int, int]] = []
        real = body.trafilatura.extract

        def spy(tree: etree._Element, **options: Any) -> str | None:
            seen.append((int(tree.xpath("count(//*)")), int(tree.xpath("count(//p//text())"))))
            return real(tree, **options)

        monkeypatch.setattr(body.trafilatura, "extract", spy)
        extract_page(html, URL)
        monkeypatch.undo()
        return seen

    @pytest.mark.parametrize("shape", list(WIDE_SHAPES))
    def test_trafilatura_input_stops_growing_with_the_page(
        self, shape: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Deterministic: 4 times the page, no more input to trafilatura than the bound, and
        no more text nodes in paragraphs (the square of which its `//p//text()` costs)."""
        for size in (300_000, 1_200_000):
            handed = self._handed(monkeypatch, wide(shape, size))
            assert handed
            for elements, in_paragraphs in handed:
                assert elements <= bounded.MAX_ELEMENTS, (size, elements)
                assert in_paragraphs <= 2 * bounded.MAX_ELEMENTS, (size, in_paragraphs)

    @pytest.mark.parametrize("shape", list(WIDE_SHAPES))
    def test_the_article_is_still_found(self, shape: str) -> None:
        found = extract_page(wide(shape, 600_000), URL)
        assert found.kind is PageKind.ARTICLE
        assert found.headline == HEADLINE
        for paragraph in PARAGRAPHS:
            assert paragraph in found.body
        if shape == "tiny":  # varied words, or one paragraph of them, may read as text too
            assert found.body == extract_page(page().encode(), URL).body


class TestBoundTree:
    """bounded.bound_tree on its own: untouched within the bounds, thinned to them above."""

    def test_a_tree_within_the_bounds_is_untouched(self) -> None:
        root = lxml_html.document_fromstring(page())
        before = etree.tostring(root)
        assert bounded.bound_tree(root) == 0
        assert etree.tostring(root) == before

    def test_the_blocks_holding_most_text_stay(self) -> None:
        html = page(open_tags="<div><p>x</p></div><p>y</p>tail " * 3000)
        root = lxml_html.document_fromstring(html)
        assert bounded.bound_tree(root, limit=500) > 0
        assert bounded.element_count(root) <= 500
        text = root.xpath("string()")
        for paragraph in PARAGRAPHS:
            assert paragraph in text
        assert "x" not in text.split() and "y" not in text.split()
        assert text.count("tail") == 3000  # text of the block around the removed ones stays

    def test_a_crowded_paragraph_keeps_its_text_in_one_node(self) -> None:
        crowd = "".join(f"<b>{WORDS[i % 10]}</b> <i>{i}</i>, " for i in range(3000))
        root = lxml_html.document_fromstring(page(open_tags=f"<p>lead {crowd}end</p>"))
        paragraph = root.find(".//main/p")
        assert paragraph is not None
        before = paragraph.xpath("string()")
        bounded.bound_tree(root)
        assert len(paragraph) == 0
        assert paragraph.xpath("string()") == before
        assert len(paragraph.xpath("text()")) == 1
