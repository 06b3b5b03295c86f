"""Extraction never loses a tracked article, and no cut by a furniture name removes it.

A wrapper named like furniture around the whole story ("ad-container", "promo related-wrap") is
kept; when Redline's own cuts keep far less than a plain reading of the page, the plain reading
is taken and the Page says so (`extractor == "redline/plain"`). Walls, error pages and soft 404s
stay NOT_ARTICLE with their reason, even when the plain reading is tried on them.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
from lxml import etree
from lxml import html as lxml_html

from redline.crawler.extract import extract, extract_page
from redline.crawler.extract.body import prefer_plain
from redline.crawler.extract.decode import decode_html
from redline.storage.model import Page, PageKind
from tests.test_extract_corpus import CORPUS, corpus, corpus_ids

URL = "https://news.example/world/bridge-repairs"
_TOKEN = re.compile(r"\w+")

_PLACES = "Northbridge Eastfield Millbrook Harrow Lindale Crestmoor Ashby Fenwick Dunmore Kelby"
_WHAT = "the ferry timetable|the school buses|the night trains|the cycle lanes|the harbour wall"
_SAID = "told reporters|wrote in a letter|said on the radio|argued at the meeting|admitted later"


def prose(n: int, words: int = 70) -> str:
    """Paragraph `n`: distinct, plausible sentences (extractors drop repeated paragraphs)."""
    places, what, said = _PLACES.split(), _WHAT.split("|"), _SAID.split("|")
    sentences: list[str] = []
    i = 0
    while sum(len(s.split()) for s in sentences) < words:
        k = n * 7 + i
        sentences.append(
            f"In {places[k % 10]}, councillor number {k + 3} {said[k % 5]} that closing the old "
            f"bridge for {k % 9 + 2} weeks had changed {what[(k // 5) % 5]} for {k * 13 + 40} "
            "families, who now travel the long way round through the industrial estate."
        )
        i += 1
    return " ".join(sentences)


def page(body: str, title: str = "Council closes the old bridge") -> str:
    return (
        f"<html><head><title>{title} | The Example News</title></head><body>"
        '<header class="site-header"><nav><a href="/">Home</a> <a href="/world">World</a></nav>'
        f"</header>{body}"
        '<footer class="site-footer"><p>The Example News, 1 Harbour Road.</p></footer>'
        "</body></html>"
    )


def _words(texts: list[str] | tuple[str, ...]) -> list[str]:
    return _TOKEN.findall(" ".join(texts))


def _shingles(text: str) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text)
    return Counter(tuple(tokens[i : i + 4]) for i in range(max(len(tokens) - 3, 1)))


def _missing(expected: list[str], body: tuple[str, ...]) -> list[str]:
    text = " ".join(_words(list(body)))
    return [p[:60] for p in expected if " ".join(_words([p])) not in text]


# The three kinds of loss measured on real pages, built as pages a reader would see.


def test_a_story_wrapped_in_an_ad_container_is_kept_whole() -> None:
    paragraphs = [prose(n, 75) for n in range(4)]  # about 300 words, in four paragraphs
    html = page(
        '<div class="ad-container"><div class="promo-wrap"><article>'
        "<h1>Council closes the old bridge</h1>"
        + "".join(f"<p>{p}</p>" for p in paragraphs)
        + f'</article></div></div><div class="sidebar-box"><p>{prose(40, 54)}</p></div>'
    )
    got = extract_page(html, URL)
    assert got.kind is PageKind.ARTICLE
    assert _missing(paragraphs, got.body) == []
    assert got.extractor == "redline"  # no cut removed it: no fallback needed


def test_a_short_story_in_a_share_named_wrapper_is_recorded() -> None:
    paragraphs = [prose(n, 30) for n in range(3)]  # under SHORT_BODY words
    html = page(
        '<div class="post"><h1>Council closes the old bridge</h1>'
        '<div class="entry-content social-share">'
        + "".join(f"<p>{p}</p>" for p in paragraphs)
        + '</div></div><div class="related"><a href="/a">Another story</a></div>'
    )
    got = extract_page(html, URL)
    assert got.kind is PageKind.ARTICLE
    assert _missing(paragraphs, got.body) == []


@pytest.mark.parametrize("box", ["promo-box", "ad-slot", "related-wrap"])
def test_every_paragraph_in_a_furniture_named_box_falls_back_to_the_plain_reading(
    box: str,
) -> None:
    paragraphs = [prose(n, 75) for n in range(5)]
    html = page(
        "<main><h1>Council closes the old bridge</h1>"
        + "".join(f'<div class="{box}"><p>{p}</p></div>' for p in paragraphs)
        + "</main>"
    )
    got = extract_page(html, URL)
    assert got.kind is PageKind.ARTICLE
    assert _missing(paragraphs, got.body) == []
    assert got.extractor == "redline/plain"


def test_a_story_of_plain_divs_in_furniture_wrappers_falls_back_to_the_plain_reading() -> None:
    paragraphs = [prose(n, 75) for n in range(4)]
    html = page(
        '<main><div class="ad-container"><div class="promo related-wrap">'
        "<h1>Council closes the old bridge</h1>"
        + "".join(f'<div class="para">{p}</div>' for p in paragraphs)
        + "</div></div></main>"
    )
    got = extract_page(html, URL)
    assert got.kind is PageKind.ARTICLE
    assert _missing(paragraphs, got.body) == []
    assert got.extractor == "redline/plain"


def test_a_long_story_split_over_several_containers_is_kept_whole() -> None:
    paragraphs = [prose(n, 70) for n in range(20)]  # about 1,400 words
    parts = [paragraphs[i : i + 4] for i in range(0, 20, 4)]
    html = page(
        "<main><h1>Council closes the old bridge</h1>"
        + "".join(
            '<div class="article-body">'
            + "".join(f"<p>{p}</p>" for p in part)
            + '</div><div class="ad-slot"><p>Advertisement</p></div>'
            for part in parts
        )
        + "</main>"
    )
    got = extract_page(html, URL)
    assert got.kind is PageKind.ARTICLE
    assert _missing(paragraphs, got.body) == []
    assert len(_words(got.body)) < 1.05 * len(_words(paragraphs))
    assert got.extractor == "redline/plain"


def test_a_body_far_shorter_than_the_last_revision_takes_the_plain_reading() -> None:
    kept = [prose(n, 100) for n in range(5)]
    cut = [prose(n, 100) for n in range(5, 9)]
    html = page(
        "<main><h1>Council closes the old bridge</h1>"
        + "".join(f"<p>{p}</p>" for p in kept)
        + "".join(f'<div class="promo-box"><p>{p}</p></div>' for p in cut[:2])
        + "".join(f'<div class="promo-box"><p>{p}</p></div>' for p in cut[2:])
        + "</main>"
    )
    alone = extract_page(html, URL)
    assert alone.extractor == "redline"  # five paragraphs of nine: not far less on its own
    before = Page(body=tuple(kept + cut + [prose(20, 150)]), kind=PageKind.ARTICLE)
    got = extract(html, URL, previous=before).page
    assert got.kind is PageKind.ARTICLE
    assert _missing(kept + cut, got.body) == []
    assert got.extractor == "redline/plain"


@pytest.mark.parametrize(
    ("kept", "plain", "before", "taken"),
    [
        (0, 83, 0, True),  # everything cut, a short article found
        (0, 20, 0, False),  # less than an article's worth
        (54, 309, 0, True),  # a fragment instead of the article
        (280, 1400, 0, True),
        (700, 1350, 0, False),  # under twice: a close call keeps Redline's own
        (100, 124, 0, False),  # twice, but fewer than MIN_WORDS more
        (480, 900, 1000, True),  # under half of the last revision, the plain one about as much
        (480, 700, 1000, False),  # the plain one lost much too: the article did shrink
        (600, 900, 1000, False),  # more than half of the last revision kept
    ],
)
def test_when_the_plain_reading_is_taken(kept: int, plain: int, before: int, taken: bool) -> None:
    assert prefer_plain(kept, plain, before) is taken


# Walls, error pages and soft 404s stay what they are, even when the plain reading is tried.


OFFERS = " ".join(
    f"Offer {n}: unlimited access to every story, the daily puzzles and the archive for "
    f"{n + 1} pounds a month in the first year, then the standard price, cancel any time."
    for n in range(6)
)
CONSENT = (
    "We and our partners use cookies to store and access information on your device, such as "
    "unique identifiers, to measure audiences, personalise content and show relevant ads. "
)


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        (
            # the article hidden behind the wall, 150 words of offers a plain reading could take
            page(
                "<main><h1>Council closes the old bridge</h1>"
                '<div class="subscribe-box"><p>Subscribe to continue reading. Already a '
                f"subscriber? Sign in.</p><p>{OFFERS}</p></div>"
                f'<div class="article-body" hidden><p>{prose(1, 200)}</p></div></main>'
            ),
            "paywall",
        ),
        (
            page(
                # 130 words of consent text: a plain reading would find "an article" in it
                '<div class="cookie-consent" role="dialog"><h2>Before you continue</h2>'
                + "".join(f"<p>{CONSENT}Choice {n}: accept all cookies.</p>" for n in range(4))
                + "</div>",
                title="Before you continue",
            ),
            "consent_wall",
        ),
        (
            page(
                "<main><h1>Page not found</h1><p>Sorry, the page you are looking for does not "
                "exist.</p>"
                + "".join(
                    f'<div class="related-story"><p>{prose(n, 40)}</p></div>' for n in range(4)
                )
                + "</main>",
                title="Page not found",
            ),
            "soft_404",
        ),
    ],
    ids=["paywall-hidden-article", "consent-wall", "soft-404-with-teasers"],
)
def test_walls_stay_not_articles(html: str, reason: str) -> None:
    got = extract_page(html, URL)
    assert (got.kind, got.reason) == (PageKind.NOT_ARTICLE, reason)
    assert got.body == ()


def test_a_cookie_banner_beside_an_article_the_cuts_removed_is_no_wall() -> None:
    paragraphs = [prose(n, 75) for n in range(5)]
    html = page(
        f'<div class="cookie-banner"><p>{CONSENT}Accept all cookies?</p></div>'
        "<main><h1>Council closes the old bridge</h1>"
        + "".join(f'<div class="promo-box"><p>{p}</p></div>' for p in paragraphs)
        + "</main>"
    )
    got = extract_page(html, URL)
    assert got.kind is PageKind.ARTICLE
    assert _missing(paragraphs, got.body) == []
    assert got.extractor == "redline/plain"


# Every real page: the article's container wrapped in furniture names loses nothing.


def _article_element(root: etree._Element, body_text: str) -> etree._Element:
    """The deepest element that still holds (nearly) all of the extracted body: down from
    <body>, into the child holding most of its 4-word runs while it keeps nine tenths of them."""
    want = set(_shingles(body_text))
    el = root.find("body")
    assert el is not None
    have = len(want & set(_shingles(el.text_content())))
    while True:
        scored = [(len(want & set(_shingles(c.text_content()))), c) for c in el if c.tag in _TAGS]
        if not scored:
            return el
        count, best = max(scored, key=lambda pair: pair[0])
        if count < 0.9 * have:
            return el
        el = best


_TAGS = frozenset({"div", "section", "article", "main", "span", "td", "table", "ul", "ol"})
_TABLE_PARTS = frozenset({"tbody", "thead", "tfoot", "tr", "td", "th"})


def _wrapped(root: etree._Element, el: etree._Element) -> None:
    outer = etree.Element("div", {"class": "ad-container"})
    inner = etree.SubElement(outer, "div", {"class": "promo related-wrap"})
    if el.tag == "body":  # the whole content of <body>
        inner.text, el.text = el.text, None
        inner.extend(list(el))
        el.append(outer)
        return
    while el.tag in _TABLE_PARTS:  # a <div> inside a table is moved out by the parser
        el = el.getparent()
    tail, el.tail = el.tail, None
    el.addprevious(outer)
    inner.append(el)
    outer.tail = tail


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no corpus at {CORPUS}")
@pytest.mark.parametrize("where", ["container", "body"])
@pytest.mark.parametrize("key", corpus_ids())
def test_furniture_names_around_the_article_lose_nothing(key: str, where: str) -> None:
    """Every 4-word run of the body read from the page is still read once the article's
    container (or the whole <body> content) sits inside elements named like an ad and a
    related-stories box. No tolerance: only the spacing around inline punctuation may differ
    when the plain reading is taken, and words are compared, not spaces."""
    url, raw, _ = corpus()[key]
    text = decode_html(raw, None).text
    reference = lxml_html.tostring(lxml_html.document_fromstring(text), encoding="unicode")
    before = extract_page(reference, url)
    root = lxml_html.document_fromstring(text)
    body = root.find("body")
    assert body is not None
    _wrapped(root, body if where == "body" else _article_element(root, before.text))
    after = extract_page(lxml_html.tostring(root, encoding="unicode"), url)
    assert after.kind is before.kind is PageKind.ARTICLE
    lost = _shingles(before.text) - _shingles(after.text)
    assert not lost, f"{sum(lost.values())} runs lost, {after.extractor}: {list(lost)[:3]}"


def _consent_dialog(paragraphs: int) -> str:
    return (
        '<div class="cookie-consent" role="dialog"><h2>Before you continue</h2>'
        + "".join(
            f"<p>{CONSENT}Choice {n}: we and our partners use cookies to measure ads.</p>"
            for n in range(paragraphs)
        )
        + "</div>"
    )


def test_a_long_consent_dialog_is_a_wall_never_the_article() -> None:
    """Six paragraphs of consent text make a "container" by count, but a wall's name and words
    say what it is: alone on the page it is a consent wall, never an article revision."""
    got = extract_page(page(_consent_dialog(6), title="Before you continue"), URL)
    assert (got.kind, got.reason) == (PageKind.NOT_ARTICLE, "consent_wall")


def test_a_long_consent_dialog_in_front_of_the_article_is_left_out() -> None:
    paragraphs = [prose(n, 75) for n in range(5)]
    html = page(
        _consent_dialog(6)
        + "<main><h1>Council closes the old bridge</h1>"
        + "".join(f"<p>{p}</p>" for p in paragraphs)
        + "</main>"
    )
    got = extract_page(html, URL)
    assert got.kind is PageKind.ARTICLE
    assert _missing(paragraphs, got.body) == []
    assert not any("cookies" in p for p in got.body)


def test_an_article_cut_down_to_a_teaser_in_front_of_a_wall_is_a_paywall() -> None:
    """The article we had, served again as a 30-word teaser with a "subscribe to continue"
    box named as furniture (and cut as such): a paywall, never a revision that wipes out the
    article's text. Seen for the first time, the same teaser is all there is to record."""
    article = page(
        "<main><h1>Council closes the old bridge</h1>"
        + "".join(f"<p>{prose(n, 75)}</p>" for n in range(4))
        + "</main>"
    )
    before = extract_page(article, URL)
    walled = page(
        "<main><h1>Council closes the old bridge</h1>"
        f"<p>{prose(0, 30)}</p>"
        '<div class="subscribe-box"><p>Subscribe to continue reading. Already a subscriber? '
        "Sign in.</p></div></main>"
    )
    got = extract_page(walled, URL, previous=before)
    assert (got.kind, got.reason) == (PageKind.NOT_ARTICLE, "paywall")
    assert extract_page(walled, URL).kind is PageKind.ARTICLE
