"""Hostile pages a reader's browser shows without fuss: deep nesting, control characters, a few
bad bytes in a declared encoding, a headline holding bidi controls. Each must still read as the
article it is, in time that grows with the page's size, not its shape."""

from __future__ import annotations

import time

import pytest
from selectolax.lexbor import LexborHTMLParser

from crawler.extract import extract, extract_page
from crawler.extract.core import region_unchanged
from crawler.extract.decode import decode_html
from crawler.extract.memory import find_container
from storage.model import PageKind

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
