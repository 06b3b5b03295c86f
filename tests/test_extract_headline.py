"""The display headline and the SEO/social title, on whole pages as sites write them.

`headline` is what the reader sees at the top of the article (its <h1>); `title` is og:title (else
<title> without the site's name), kept only where it reads differently. An edit of either is a
change of that field, and a site's logo, a section label or an author's box is never the headline.
"""

from __future__ import annotations

import json
from html import escape

import pytest
from lxml import etree
from lxml import html as lxml_html

from redline.crawler.diff import compare
from redline.crawler.extract import extract, extract_page
from redline.scheduler.decision import triggers
from redline.storage.codec import content_hash
from tests.test_extract_corpus import CORPUS, corpus

URL = "https://www.dailyplanet.example/politics/2026/03/mayor-budget"
H1 = "Mayor resigns hours after council rejects her budget"
SEO = "Metropolis mayor quits over budget defeat"
BODY = (
    "Mayor Lena Ortiz resigned on Tuesday evening, hours after the city council voted 7 to 2 "
    "against the spending plan she had defended for three months.",
    "In a short statement outside City Hall, Ortiz said the vote showed she no longer had the "
    "council's confidence and that the city deserved a budget it could pass before July.",
    "Council president Sam Reyes will serve as acting mayor until a special election, which the "
    "city charter requires within ninety days of a vacancy in the office.",
    "The rejected plan would have raised property taxes by two percent to pay for new buses, "
    "a proposal that divided the council and drew large crowds to its last three meetings.",
)


def page_html(
    *,
    heading: str = f"<h1>{escape(H1)}</h1>",
    og_title: str | None = SEO,
    title: str | None = f"{SEO} | The Daily Planet",
    declared: str | None = None,
    before: str = "",
    site_name: str | None = "The Daily Planet",
) -> str:
    """An article page: a header with the site's logo and menu, `before` (what a theme puts
    above the article), the article with its `heading`, and a sidebar."""
    metas = []
    if title is not None:
        metas.append(f"<title>{escape(title)}</title>")
    if og_title is not None:
        metas.append(f'<meta property="og:title" content="{escape(og_title)}">')
    if site_name is not None:
        metas.append(f'<meta property="og:site_name" content="{escape(site_name)}">')
    if declared is not None:
        data = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": declared}
        metas.append(f'<script type="application/ld+json">{json.dumps(data)}</script>')
    paragraphs = "\n".join(f"<p>{escape(p)}</p>" for p in BODY)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
{"".join(metas)}
<link rel="canonical" href="{URL}">
</head><body>
<header class="site-header">
  <a class="brand" href="/"><img src="/logo.svg" alt="The Daily Planet"></a>
  <nav><a href="/politics/">Politics</a> <a href="/business/">Business</a></nav>
</header>
{before}
<main>
  <article>
    {heading}
    <p class="byline">By <a rel="author" href="/staff/jo">Jo Park</a></p>
    {paragraphs}
  </article>
  <aside class="sidebar"><h2>Most read</h2><ul><li><a href="/a">Storm closes schools</a></li>
    </ul></aside>
</main>
<footer><p>&copy; The Daily Planet</p></footer>
</body></html>"""


def test_the_visible_h1_is_the_headline_and_og_title_the_title():
    page = extract_page(page_html(), URL)
    assert (page.headline, page.title) == (H1, SEO)


def test_a_title_that_reads_as_the_headline_is_not_kept():
    same = page_html(og_title=H1.upper(), title=f"{H1} | The Daily Planet")
    assert (extract_page(same, URL).headline, extract_page(same, URL).title) == (H1, "")
    # <title> alone, with the site's name after it: the same headline, so no title
    bare = page_html(og_title=None, title=f"{H1} - The Daily Planet")
    assert extract_page(bare, URL).title == ""
    # ...and a different one loses the site's name
    other = page_html(og_title=None, title=f"{SEO} | The Daily Planet")
    assert extract_page(other, URL).title == SEO


def test_og_title_with_a_section_after_the_headline_is_the_headline():
    page = extract_page(page_html(og_title=f"{H1} | Politics"), URL)
    assert page.title == ""


def test_an_edit_of_only_the_visible_headline_is_a_headline_change():
    old = extract_page(page_html(og_title=H1, title=H1), URL)
    edited = H1.replace("hours after", "minutes after")
    new = extract_page(page_html(heading=f"<h1>{edited}</h1>", og_title=H1, title=H1), URL)
    assert (new.headline, new.title) == (edited, H1)
    changes = compare(old, new)
    assert [(c.field, c.old, c.new) for c in changes] == [("headline", H1, edited)]
    assert triggers(changes, first=False) == ("headline_changed", "text_added", "text_removed")


def test_an_edit_of_only_og_title_is_a_title_change_that_fires_title_changed():
    old = extract_page(page_html(og_title=H1), URL)
    new = extract_page(page_html(og_title=SEO), URL)
    assert (old.title, new.title, new.headline) == ("", SEO, H1)
    assert content_hash(old) != content_hash(new)
    changes = compare(old, new)
    assert [(c.field, c.old, c.new) for c in changes] == [("title", H1, SEO)]
    assert "title_changed" in triggers(changes, first=False)
    again = extract_page(page_html(og_title=f"{SEO}, officials say"), URL)
    assert [c.field for c in compare(new, again)] == ["title"]


def test_a_title_edit_is_seen_by_the_fast_recheck():
    first = extract(page_html(og_title=None, title=f"{SEO} | The Daily Planet"), URL)
    edited = page_html(og_title=None, title="Metropolis mayor steps down | The Daily Planet")
    again = extract(edited, URL, memory=first.memory, previous=first.page)
    assert not again.reused and again.page.title == "Metropolis mayor steps down"


@pytest.mark.parametrize(
    "before",
    [
        # the site's name in an <h1>, as a logo linking home
        '<div class="top"><a href="/"><h1>The Daily Planet</h1></a></div>',
        # the same, named only by og:site_name
        "<div id='pagetitle'><h1>The Daily Planet</h1></div>",
        # a section label
        '<div class="section-label"><h1>Politics</h1></div>',
        # an author's introduction in a box above the article
        '<div class="author-box"><h1>Hi, I am Jo Park and I cover City Hall</h1>'
        "<p>Twenty years of council meetings and counting.</p></div>",
        # a sign-up dialog
        "<dialog open><h1>Get the morning briefing in your inbox</h1></dialog>",
    ],
    ids=["logo-link", "site-name", "section", "author-box", "dialog"],
)
def test_site_names_sections_and_boxes_are_never_the_headline(before):
    # og:title and <title> confirm neither heading: the article's own <h1> is chosen on sight
    page = extract_page(page_html(before=before, og_title=SEO), URL)
    assert (page.headline, page.title) == (H1, SEO)


def test_a_post_headed_by_h2_under_a_site_name_h1():
    # older blog themes: the site's name is the <h1>, each post's title an <h2> linking to it
    heading = f'<h2><a href="{URL}" rel="bookmark">{escape(H1)}</a></h2>'
    html = page_html(
        heading=heading,
        before='<div id="header"><h1>The Daily Planet</h1></div>',
        og_title=H1,
        title=f"{H1} | The Daily Planet",
    )
    change = H1.replace("hours after", "minutes after")
    edited = html.replace(f"{escape(H1)}</a></h2>", f"{escape(change)}</a></h2>")
    assert extract_page(html, URL).headline == H1
    assert extract_page(edited, URL).headline == change  # the visible one, ahead of og:title


def test_without_a_heading_the_declared_headline_is_used():
    page = extract_page(page_html(heading="", declared=H1, og_title=SEO), URL)
    assert (page.headline, page.title) == (H1, SEO)


def test_a_title_that_is_only_the_site_name_is_no_title():
    page = extract_page(page_html(og_title=None, title="The Daily Planet"), URL)
    assert (page.headline, page.title) == (H1, "")


needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no corpus at {CORPUS}")


@needs_corpus
@pytest.mark.parametrize(
    ("key", "headline", "title"),
    [
        # BBC: the page shows one headline, og:title and the JSON-LD another
        (
            "70cb2d5b",
            "Taylor Swift is allowed to play her music at the AMAs after all",
            "Taylor Swift's AMA row seems to be over",
        ),
        # Slate: the <h1 itemprop="headline"> in the article's header, not the JSON-LD one
        (
            "851498a2",
            "The Disappearance of John M. Ford",
            "The Resurrection of the Greatest Sci-Fi Writer You’ve Never Read",
        ),
        # The Spokesman-Review: its logo is an <h1> too (an SVG in a link home)
        (
            "c13b9c0e",
            "‘Meth. We’re on it.’: Spokane ad agencies divided on South Dakota’s viral campaign",
            "",
        ),
        # 9to5Mac: og:title loses " - 9to5Mac"
        (
            "ad826691",
            "Amazon discounts MacBooks from $700, AirPods 2 with wireless case $150, ecobee "
            "deals, more",
            "MacBook sale at Amazon from $700, AirPods, more",
        ),
    ],
    ids=["bbc", "slate", "spokesman", "9to5mac"],
)
def test_real_pages(key, headline, title):
    found = next(k for k in corpus() if k.startswith(key))
    url, raw, _ = corpus()[found]
    page = extract_page(raw, url)
    assert (page.headline, page.title) == (headline, title)


REWRITTEN = "Officials quietly replace this headline with entirely different words"


def _rewrite_visible_headline(raw: bytes, headline: str) -> bytes | None:
    """The page with its visible headline (the <h1> or <h2> showing it) rewritten and every
    declared copy (og:title, <title>, JSON-LD) left as it was; None when no heading shows it."""
    root = lxml_html.document_fromstring(raw, parser=lxml_html.HTMLParser(encoding="utf-8"))
    found = False
    for heading in root.iter("h1", "h2"):
        if " ".join(heading.text_content().split()) == headline:
            for child in list(heading):
                heading.remove(child)
            heading.text, found = REWRITTEN, True
    return etree.tostring(root, encoding="utf-8", method="html") if found else None


@needs_corpus
def test_a_rewritten_visible_headline_is_seen_on_the_corpus():
    """What the metadata no longer confirms is still the headline: the visible one, on all but
    a few pages (a post headed by an <h2> under the site's name, which only the metadata tells
    apart from the site's other <h2>s)."""
    seen, total = 0, 0
    for url, raw, _ in corpus().values():
        base = extract_page(raw, url)
        rewritten = _rewrite_visible_headline(raw, base.headline) if base.headline else None
        if rewritten is not None:
            total += 1
            seen += extract_page(rewritten, url).headline == REWRITTEN
    assert total >= 88 and seen >= total - 4, f"{seen}/{total}"
