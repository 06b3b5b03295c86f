"""Is this an article at all? Paywalls, consent walls, soft 404s, error pages and empty results.

A NOT_ARTICLE Page carries only a `reason`, never a body, so that a wall or an error page can
never become a revision that wipes out the article's text.
"""

from __future__ import annotations

import re

from redline.crawler.extract.structured import Declared

MIN_WORDS = 25  # below this, a page with no declared article is not one
SHORT_BODY = 120  # words; a body this short may be an error or not-found page
_TEASER = 40  # a body this short in front of a wall is the wall, not the article
_NOT_FOUND = re.compile(
    r"\b(404|page not found|not found|no longer available|doesn['’]t exist|does not exist|"
    r"couldn['’]t find|could not find|page unavailable)\b",
    re.IGNORECASE,
)
_ERROR = re.compile(
    r"^\s*(error|50[0-4]|internal server error|service unavailable|bad gateway|access denied|"
    r"forbidden|just a moment|attention required|request blocked)\b",
    re.IGNORECASE,
)
_CONSENT = re.compile(
    r"\b(we (and our partners )?use cookies|cookie (settings|preferences|consent)|"
    r"consent to (the use of )?cookies|manage (your )?(privacy|consent)|accept all cookies)\b",
    re.IGNORECASE,
)
_PAYWALL = re.compile(
    r"\b(subscribe to (continue|read)|to continue reading|already a subscriber|"
    r"subscribers only|this (article|content) is for subscribers|sign in to (continue|read)|"
    r"log in to (continue|read)|unlock (this|the full) (article|story))\b",
    re.IGNORECASE,
)


def not_article_reason(
    declared: Declared,
    headline: str,
    body: str,
    words: int,
    visible: str,
    has_items: bool,
    before: int = 0,
) -> str | None:
    """Why the page is not an article, or None when it is one. `before`: words in the body of
    the article's previous revision (0 for a new one)."""
    if has_items or words >= SHORT_BODY:
        return None  # a long text is an article whatever its title says
    titles = " ".join(filter(None, (declared.title, headline)))
    if _ERROR.search(titles):
        return "error_page"
    if _NOT_FOUND.search(titles):
        return "soft_404"
    # A wall is judged by what extraction kept: its own text, or nothing with the wall around it.
    if _PAYWALL.search(body):
        return "paywall"
    if words < _TEASER and (declared.free is False or (words == 0 and _PAYWALL.search(visible))):
        return "paywall"
    if 2 * words <= before and _PAYWALL.search(visible):
        return "paywall"  # the article we had, cut down to a teaser in front of a wall
    if _CONSENT.search(body) or (words == 0 and _CONSENT.search(visible)):
        return "consent_wall"
    if words == 0:
        return "no_article" if visible else "empty"
    if words < MIN_WORDS and not (declared.types & {"newsarticle", "article", "blogposting"}):
        return "no_article"
    return None


def reads_as_wall(text: str) -> bool:
    """Does a text carry a wall's words, whatever its length? The plain reading of a page (see
    core.py) is refused when it does: the fallback must never turn a wall into an article."""
    return bool(_PAYWALL.search(text) or _CONSENT.search(text))
