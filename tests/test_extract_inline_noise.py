"""Furniture among the article's paragraphs, cut by what a reader sees in it, whatever its class.

Each case puts one block between two paragraphs of an article, under a bland class name, and
says whether the Page must read as if it were not there (furniture) or must keep its text (a
real paragraph that only looks close to furniture).
"""

from __future__ import annotations

import pytest
from lxml import html

from redline.crawler.extract import extract_page
from redline.crawler.extract.inline_noise import drop_inline_noise

URL = "https://news.example/world/story"
PROSE = (
    "The council met on Tuesday evening to discuss the budget for the coming year, and members "
    "spent most of the session arguing about the cost of repairing the old bridge over the river."
)
LINKS = (
    '<a href="/politics/a-1">Minister resigns after vote on the budget</a>'
    '<a href="/world/b-2">Storm closes airport for a second day</a>'
)


def _article(inner: str) -> str:
    before = "".join(f"<p>{PROSE} Paragraph {n} ends here.</p>" for n in range(3))
    after = "".join(f"<p>{PROSE} Paragraph {n} ends here.</p>" for n in range(3, 6))
    return (
        "<html><head><title>Council argues over bridge | News</title></head><body><main><article>"
        f"<h1>Council argues over bridge</h1>{before}{inner}{after}</article></main></body></html>"
    )


FURNITURE = {
    "read more list": (
        f'<div class="inline-block"><h3>Read more</h3><ul><li>{LINKS}</li></ul></div>'
    ),
    "read more line": '<p><strong>READ MORE |</strong> <a href="/x/1">Bridge to close</a></p>',
    "label then links": f'<p><strong>Don\'t miss</strong></p><p class="x">{LINKS}</p>',
    "story card": f'<div class="c-9f2e"><p>More from Sport</p><span>Sport</span>{LINKS}</div>',
    "links with read times": (
        f'<section class="box"><div>Related coverage</div><div>{LINKS}<span>3 min read</span>'
        "</div></section>"
    ),
    "ad label": '<div class="sc-a81f2c 1b2f"><p>Advertisement - Scroll to continue</p></div>',
    "native ad": '<div class="col-12"><span>Sponsored</span><a href="https://clk.example/9">'
    "Kestrel Bank: The smart way to invest</a></div>",
    "newsletter box": (
        '<div class="module"><h4>Sign up to First Edition</h4><p>Join 12,000 readers who get our '
        'morning briefing every weekday.</p><form><input type="email"><button>Sign up</button>'
        "</form></div>"
    ),
    "newsletter with consent": (
        '<div class="wrapper"><h3>Morning Mail</h3><p>The news you need, every morning.</p>'
        '<form><input type="email"></form><p>By signing up, you agree to our <a href="/p">'
        "Privacy Policy</a>.</p></div>"
    ),
    "newsletter line": '<p><em>Sign up for the Today newsletter <a href="/n">here</a>.</em></p>',
    "share counters": '<div class="pb-2"><a href="#">Share</a><span>1.2K shares</span>'
    "<span>345 comments</span></div>",
    "comment count": '<ul class="list"><li>2,048 Shares</li><li>Comments (17)</li></ul>',
    "updated": '<div class="meta"><span>UPDATED</span> <span data-ts="1">31m ago</span></div>',
    "updated label alone": '<div class="c-block">Last updated: <span data-ts="1"></span></div>',
    "published and updated": "<p><small>Published 5 hours ago · Updated 12 mins ago</small></p>",
}

# Real text (the second item) in markup that comes close to furniture (the first).
ARTICLE_TEXT = {
    "prose after a label": (
        "<p><strong>Related:</strong> The mayor said the bridge would reopen in spring, after "
        "engineers finish checking the foundations and the council approves the cost.</p>",
        "The mayor said the bridge would reopen in spring",
    ),
    "a sign-up step": (
        "<ul><li>Sign up for the Disney+ bundle using the same email as your Hulu account</li>"
        "<li>Then cancel the old plan before the next bill arrives, the guide says.</li></ul>",
        "Sign up for the Disney+ bundle using the same email as your Hulu account",
    ),
    "a quotation with a label": (
        '<div class="inline-block"><blockquote><p>Read more: the report is clear, the bridge '
        "is unsafe and must close, the engineer wrote.</p></blockquote></div>",
        "the report is clear, the bridge is unsafe and must close",
    ),
    "a label over prose": (
        "<p><strong>Don't miss</strong></p><p>The engineers recommended closing the bridge to "
        "lorries until the repairs are done, which the council accepted.</p>",
        "The engineers recommended closing the bridge to lorries",
    ),
    "a sentence about a newsletter": (
        '<div class="inline-block"><p>Get this: the council newsletter, which goes to every '
        "household, never mentioned the repairs, residents told the meeting.</p></div>",
        "the council newsletter, which goes to every household",
    ),
    "a paragraph beside a box in one wrapper": (
        '<div class="wrap"><p>Hong Kong (Reuters) A muddled view of the trade talks once again '
        'seems to be weighing on investors.</p><div class="box"><h3>Morning Mail</h3><p>The news '
        "you need.</p><p>By signing up, you agree to our Privacy Policy.</p></div></div>",
        "A muddled view of the trade talks once again seems to be weighing on investors.",
    ),
    "a count in a sentence": (
        '<p class="x">1,200 shares changed hands before the council suspended trading in the '
        "bridge company on Tuesday.</p>",
        "1,200 shares changed hands before the council suspended trading",
    ),
}


@pytest.mark.parametrize("name", sorted(FURNITURE))
def test_furniture_between_paragraphs_leaves_the_page_as_without_it(name: str) -> None:
    assert extract_page(_article(FURNITURE[name]), URL) == extract_page(_article(""), URL)


@pytest.mark.parametrize("name", sorted(ARTICLE_TEXT))
def test_text_that_only_looks_like_furniture_is_kept(name: str) -> None:
    markup, text = ARTICLE_TEXT[name]
    assert text in " ".join(extract_page(_article(markup), URL).body)


def test_a_tail_after_a_cut_block_stays() -> None:
    root = html.document_fromstring(
        f"<div><p>{PROSE}</p><p>Advertisement</p>tail text<p>{PROSE}</p></div>"
    )
    drop_inline_noise(root)
    assert "Advertisement" not in root.text_content()
    assert "tail text" in root.text_content()
