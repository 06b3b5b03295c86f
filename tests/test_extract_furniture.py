"""Furniture told apart from the article by signals that hold on any site.

An embedded post (a tweet quoted in a "social-embed" wrapper) is text the reader sees, so it is
kept; a hover card (a cluster of links nested in a paragraph, shown only on hover) and a
"Click To Tweet" button are not, so they are left out.
"""

from __future__ import annotations

from redline.crawler.extract import extract_page

URL = "https://news.example/world/story"
PROSE = (
    "The council met on Tuesday evening to discuss the budget for the coming year, and members "
    "spent most of the session arguing about the cost of repairing the old bridge over the river. "
)


def _article(inner: str) -> str:
    paragraphs = "".join(f"<p>{PROSE}Paragraph {n} ends here.</p>" for n in range(6))
    return (
        "<html><head><title>Council argues over bridge | News</title></head><body>"
        '<nav class="menu"><a href="/">Home</a></nav><main><article>'
        f"<h1>Council argues over bridge</h1>{paragraphs[: len(paragraphs) // 2]}{inner}"
        f"{paragraphs[len(paragraphs) // 2 :]}</article></main></body></html>"
    )


def test_an_embedded_post_is_kept_as_quoted_text() -> None:
    tweet = (
        '<div class="social-media-embed"><blockquote class="twitter-tweet"><p lang="en">'
        "The bridge has been closed since March and nobody knows when it will reopen."
        '</p>&mdash; A Resident (@resident) <a href="https://twitter.com/x/status/1">'
        "November 18, 2019</a></blockquote></div>"
    )
    body = extract_page(_article(tweet), URL).body
    assert any("nobody knows when it will reopen" in p for p in body)


def test_a_hover_card_inside_a_paragraph_is_left_out() -> None:
    card = (
        "<p>The mayor, "
        '<span class="people"><a href="/people/jane-roe">Jane Roe</a>'
        '<span class="people-card"><a href="/people/jane-roe">Jane Roe</a>'
        '<a href="/s/1">Mayor opens new library in the north of the city</a> '
        '<a href="/s/2">Mayor says the budget will be balanced next year</a> '
        '<a href="/s/3">Mayor visits flooded homes after the storm</a></span></span>'
        ", said the bridge would be repaired before the winter.</p>"
    )
    body = extract_page(_article(card), URL).body
    said = [p for p in body if "would be repaired before the winter" in p]
    assert said == ["The mayor, Jane Roe, said the bridge would be repaired before the winter."]


def test_a_click_to_tweet_button_is_left_out() -> None:
    quote = (
        '<p><span class="ctt-text">Bridges are cheaper to repair than to rebuild, the engineer '
        'told the council.</span> <span class="ctt-btn">Click To Tweet</span></p>'
    )
    text = " ".join(extract_page(_article(quote), URL).body)
    assert "Bridges are cheaper to repair than to rebuild, the engineer told the council." in text
    assert "Click To Tweet" not in text
