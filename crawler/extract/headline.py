"""The headline a reader sees, and the title a search engine or a social card shows.

Sites write both: a display headline (the page's <h1>) and an SEO or social title (og:title,
<title>), and edit them separately. `headline` is the display one; `title` the other, kept only
where it reads differently.

Headline, in order:
1. an <h1> that the declared headline, og:title or <title> confirms (the same words, or the start
   of them, or most of them: the visible headline may run ahead of stale metadata);
2. else the prominent <h1> of the article region (<article>, <main>, an Article's markup), else
   the first prominent <h1> outside the site's header: what the reader sees, even where the
   metadata says something else;
3. else an <h2> the metadata confirms (themes that head a post with <h2> under a site-name <h1>);
4. else the declared headline, og:title, <title>, without a site suffix.
Never a heading that names the site (its og:site_name or publisher, the suffix of its <title>, its
domain, a logo or a link home), nor, unless the metadata confirms it, one in an aside, nav,
footer or dialog, an author's box or a sidebar, a hidden one, or a section label of one or two
words. The site's domain comes from the canonical URL here (the title's from the page's URL).

Title: og:title (or twitter:title), else <title>, else the JSON-LD headline, without the site's
suffix (" | Site Name", " - Site"); "" where it reads as the headline (case, quote and dash style,
punctuation and a trailing " | Section" aside).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser, LexborNode

from redline.crawler.extract.structured import Declared
from redline.crawler.extract.text import normalise_text
from redline.crawler.urls import registrable_domain

_MAX_HEADINGS = 24  # headings read per level: logos, menus and widgets come first on some pages
_MAX_HEADLINE = 400  # characters: a longer "heading" is a block of text, not a headline
_SIMILAR = 0.6  # word overlap (Jaccard) between a visible heading and a declared headline
_SUFFIX_WORDS = 6  # a longer last segment of a title is not a site name
_SUFFIX_EXTRA = 4  # words of a title's last segment that may hold the site's name and more
_MIN_WORDS = 3  # an unconfirmed heading shorter than this is a section label ("World", "Guides")
_WORD = re.compile(r"\w+")
_SEPARATOR = re.compile(r"\s+(?:[|–—·•»:/-]|--)\s+|\s*\|\s*")
_SITE_SUFFIX = re.compile(r"\s+[|–—·:-]\s+[^|–—·]{1,60}$")
# Not "form": ASP.NET pages wrap the whole page in one.
_OUTSIDE = frozenset({"aside", "nav", "footer", "dialog", "template", "button", "figure"})
_REGION = frozenset({"article", "main"})
# Class and id words of boxes that hold someone else's heading: a sidebar, related links, a
# sign-up or ad-block appeal, comments. See `_box_words` for what is not a box.
_BOX = frozenset(
    {
        "sidebar", "related", "recirc", "promo", "newsletter", "modal", "popup", "overlay",
        "cookie", "consent", "adblock", "subscribe", "signup", "login", "comments", "menu",
        "bio", "biography", "aboutme",
    }
)  # fmt: skip
# An author's or profile box: "author-box", "about-author", "author_bio", "profile-card"; not
# "author-jsmith" (WordPress names the post's author in the article's own classes).
_PERSON = frozenset({"author", "authors", "profile", "byline", "about"})
_PERSON_BOX = frozenset({"box", "bio", "info", "card", "details", "about", "widget", "profile"})
# Tokens that name a layout or a state, not a box: "content-sidebar-wrap", "has-sidebar",
# "modal-enabled"; and WordPress's taxonomy classes on the article itself ("category-comment").
_NOT_BOX = frozenset(
    {
        "wrap", "wrapper", "container", "layout", "content", "contents", "page", "main", "body",
        "site", "grid", "row", "col", "column", "columns", "inner", "outer", "has", "with", "no",
        "is", "js", "enabled", "disabled", "active", "open", "visible", "url",
    }
)  # fmt: skip
_TAXONOMY = ("category-", "tag-", "post-", "format-", "type-", "status-", "tax-", "topic-")
_SITE_HEADER = frozenset({"header", "site-header", "masthead", "global-header", "top-bar"})
_ROOT_URL = re.compile(r"^(?:https?:)?//([^/]+)/?$")
_LOGO_WORDS = frozenset({"logo", "brand", "masthead", "sitename"})
_LOGO_TOKENS = frozenset({"site-title", "site-name", "site-branding", "site-logo"})
_HIDDEN_CLASS = re.compile(
    r"(^|\s)(sr-only|screen-reader-text|visually-hidden|visuallyhidden|hidden|hide|d-none)(\s|$)"
)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)


def words_of(text: str) -> tuple[str, ...]:
    """What "reads the same" compares: the words, case-folded (punctuation, quote and dash
    style and spacing aside)."""
    return tuple(_WORD.findall(normalise_text(text).casefold()))


@dataclass(frozen=True, slots=True)
class _Site:
    """What names the site, squashed (letters and digits, lower case): its declared names,
    the last segments of its <title> and og:title, and its domain."""

    names: frozenset[str]  # og:site_name, application-name, the JSON-LD publisher
    suffixes: frozenset[str]  # " | Site Name" at the end of <title> or og:title
    domain: str  # "spokesman" for www.spokesman.com; "" when unknown

    def named(self, text: str) -> bool:
        """The whole text names the site (a logo's heading)."""
        squashed = _squash(text)
        return bool(squashed) and (
            squashed in self.names or squashed in self.suffixes or squashed == self.domain
        )

    def suffix(self, text: str) -> bool:
        """A title's trailing segment that names the site, maybe with a word or a TLD more
        ("CBSSports.com", "Business Insider Deutschland"). Declared names and the domain
        only: a title's last segment may be half of it ("Milan Design Week | Anastassiades'
        light installation")."""
        squashed = _squash(text)
        if not squashed:
            return False
        if squashed in self.names or squashed == self.domain:
            return True
        if len(words_of(text)) > _SUFFIX_EXTRA:
            return False
        return any(len(n) >= 4 and n in squashed for n in (*self.names, self.domain))


def _squash(text: str) -> str:
    return "".join(words_of(text)).replace("_", "")


def _segments(text: str) -> list[str]:
    return [s for s in _SEPARATOR.split(text) if s.strip()]


def site_of(declared: Declared, url: str = "") -> _Site:
    """The site's names, from the page's metadata and its URL (else its canonical URL)."""
    own = {words_of(declared.headline or "")}
    og_parts = _segments(normalise_text(declared.og_title or ""))
    own.add(words_of(og_parts[0]) if og_parts else ())
    own.discard(())
    suffixes = set()
    # Only where the page declares its headline elsewhere: "Site | Headline" is not unheard of.
    for title in (declared.title, declared.og_title) if own else ():
        parts = _segments(normalise_text(title or ""))
        last = words_of(parts[-1]) if len(parts) > 1 else ()
        if last and len(last) <= _SUFFIX_WORDS and last not in own:  # "Site | Headline": no
            suffixes.add(_squash(parts[-1]))
    where = url or normalise_text(declared.canonical or "")
    domain = registrable_domain(where).split(".")[0] if where else ""
    # A site's name is short, and not the headline (some pages declare that as the app's name).
    names = {
        _squash(n)
        for n in declared.site_names
        if 0 < len(words_of(n)) <= _SUFFIX_WORDS and words_of(n) not in own
    }
    return _Site(frozenset(names), frozenset(suffixes), _squash(domain))


# --- headings ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Heading:
    text: str
    words: tuple[str, ...]
    in_region: bool  # inside <article>, <main> or an Article's markup
    in_header: bool  # inside the site's header (a <header> or masthead outside the article)
    logo: bool  # a logo or a link to the front page: the site's name, whatever the metadata says
    boxed: bool  # hidden, or in an aside, nav, footer, dialog, an author's or a sidebar's box
    node: LexborNode | None = None


def _box_words(attrs: dict[str, str | None]) -> set[str]:
    """The words of an element's class and id tokens that name a box someone else's heading
    sits in (see _BOX, _PERSON). An element that names a layout anywhere in its classes
    ("container penci_sidebar") is a layout, not a box."""
    tokens = f"{attrs.get('class') or ''} {attrs.get('id') or ''}".lower().split()
    split = [set(re.split(r"[-_]+", t)) - {""} for t in tokens if not t.startswith(_TAXONOMY)]
    if any(words & _NOT_BOX for words in split):
        return set()
    found: set[str] = set()
    for words in split:
        found |= words & _BOX
        if words & _PERSON and len(words & (_PERSON | _PERSON_BOX | _BOX)) >= 2:
            found |= words & _PERSON
    return found


def _logo(attrs: dict[str, str | None]) -> bool:
    tokens = f"{attrs.get('class') or ''} {attrs.get('id') or ''}".lower().split()
    words = {w for token in tokens for w in re.split(r"[-_]+", token)}
    return bool(_LOGO_TOKENS.intersection(tokens) or _LOGO_WORDS & words)


def _hidden(attrs: dict[str, str | None]) -> bool:
    if "hidden" in attrs or (attrs.get("aria-hidden") or "").lower() == "true":
        return True
    if _HIDDEN_STYLE.search(attrs.get("style") or ""):
        return True
    return bool(_HIDDEN_CLASS.search((attrs.get("class") or "").lower()))


def _links_home(href: str | None, domain: str) -> bool:
    """A link to the site's front page: what a logo is."""
    if href is None:
        return False
    href = href.strip().split("#")[0].split("?")[0]
    if href in ("/", "./", "index.html", "/index.html"):
        return True
    match = _ROOT_URL.match(href)
    return bool(match and domain and domain in _squash(match.group(1)))


def _heading(node: LexborNode, text: str, site: _Site) -> _Heading:
    attrs = dict(node.attributes)
    boxed = _hidden(attrs)
    logo = _logo(attrs)
    if len(words_of(text)) < _MIN_WORDS and node.css_first("img, svg, picture") is not None:
        logo = True  # its alt text or title the heading's only words
    if any(_links_home(a.attributes.get("href"), site.domain) for a in node.css("a")):
        logo = True
    in_region = "headline" in (attrs.get("itemprop") or "").lower()
    in_header = False
    parent = node.parent
    while parent is not None and parent.tag not in ("body", "html"):
        attrs = dict(parent.attributes)
        tag = parent.tag or ""
        if tag in _OUTSIDE or _hidden(attrs) or _box_words(attrs):
            boxed = True
        if tag == "a" and _links_home(attrs.get("href"), site.domain):
            logo = True
        itemtype = (attrs.get("itemtype") or "").lower()
        if tag in _REGION or attrs.get("role") == "main" or "article" in itemtype:
            in_region = True
        if _site_header(parent, attrs):
            in_header = True
        parent = parent.parent
    # A header inside the article region is the article's own.
    in_header = in_header and not in_region
    return _Heading(text, words_of(text), in_region, in_header, logo, boxed, node)


def _site_header(node: LexborNode, attrs: dict[str, str | None]) -> bool:
    """The site's banner: a header named so, or a <header> holding the site's menu (a <header>
    may also be the article's own, around its headline)."""
    tokens = set(f"{attrs.get('class') or ''} {attrs.get('id') or ''}".lower().split())
    if tokens & _SITE_HEADER or attrs.get("role") == "banner":
        return True
    return node.tag == "header" and node.css_first("nav") is not None


_Candidate = tuple[LexborNode, str, tuple[str, ...]]  # a heading's node, text and words


def _headings(tree: LexborHTMLParser, tag: str, site: _Site) -> list[_Candidate]:
    """The page's headings of this tag, by their text only: where one sits (a logo, a box,
    the article region) is read only for the few the choice comes down to."""
    found = []
    for node in tree.tags(tag)[:_MAX_HEADINGS]:
        text = normalise_text(node.text(deep=True, separator=" "))
        if text and len(text) <= _MAX_HEADLINE and not site.named(text):
            found.append((node, text, words_of(text)))
    return found


def _confirms(heading: tuple[str, ...], meta: tuple[str, ...]) -> bool:
    """The same words, or the start of the declared ones ("Headline | Site", a longer SEO
    title), for a heading of at least a few words."""
    if not heading:
        return False
    return heading == meta or (len(heading) >= _MIN_WORDS and meta[: len(heading)] == heading)


def _similar(heading: tuple[str, ...], meta: tuple[str, ...]) -> bool:
    a, b = set(heading), set(meta)
    if len(a) < _MIN_WORDS or not b:
        return False
    return len(a & b) / len(a | b) >= _SIMILAR


def _confirmed(
    candidates: list[_Candidate], metas: list[tuple[str, ...]], site: _Site
) -> _Heading | None:
    for test in (_confirms, _similar):
        for node, text, words in candidates:
            if any(test(words, meta) for meta in metas):
                heading = _heading(node, text, site)
                if not heading.logo:
                    return heading
    return None


def _prominent(candidates: list[_Candidate], site: _Site) -> _Heading | None:
    """The article's own heading where the metadata confirms none: in the article region
    first, else the first outside the site's header."""
    headings = [_heading(n, t, site) for n, t, words in candidates if len(words) >= _MIN_WORDS]
    shown = [h for h in headings if not (h.logo or h.boxed)]
    for heading in shown:
        if heading.in_region:
            return heading
    return next((h for h in shown if not h.in_header), None)


def choose_headline(tree: LexborHTMLParser, declared: Declared) -> str:
    """The display headline (see the module's docstring for the order)."""
    return display_headline(tree, declared)[0]


def display_headline(tree: LexborHTMLParser, declared: Declared) -> tuple[str, LexborNode | None]:
    """The display headline, and the heading that shows it (None when it comes from the
    metadata): where the byline is looked for."""
    site = site_of(declared)
    metas = [words_of(m) for m in (declared.headline, declared.og_title, declared.title) if m]
    metas = [m for m in metas if m]
    h1s = _headings(tree, "h1", site)
    found = _confirmed(h1s, metas, site) or _prominent(h1s, site)
    if found is None and metas:
        found = _confirmed(_headings(tree, "h2", site), metas, site)
    if found is not None:
        return found.text, found.node
    if declared.headline:
        return normalise_text(declared.headline), None
    if declared.og_title:
        return _strip_suffix(normalise_text(declared.og_title)), None
    return _strip_suffix(normalise_text(declared.title or "")), None


def _strip_suffix(title: str) -> str:
    return _SITE_SUFFIX.sub("", title).strip() or title


# --- title ---------------------------------------------------------------------------------------
def choose_title(declared: Declared, headline: str, url: str = "") -> str:
    """The SEO or social title where it reads differently from `headline`, else ""."""
    site = site_of(declared, url)
    sources = (declared.og_title, declared.title, declared.headline)
    for which, source in enumerate(sources):
        text = normalise_text(source or "")
        if not text or site.named(text):
            continue  # a <title> that is only the site's name is nobody's headline
        if words_of(text) == words_of(headline):
            return ""
        title = _without_suffix(text, headline, site, strict=which != 1)
        return "" if words_of(title) == words_of(headline) else title
    return ""


def _without_suffix(text: str, headline: str, site: _Site, *, strict: bool) -> str:
    """`text` without what follows its headline (" | Editorial | Opinion | The Guardian") or
    the site's name at its end. A <title> (not `strict`) also loses a short unknown last
    segment: " | Site Name" is the convention there; in og:title it may be half the title."""
    wanted = words_of(headline)
    cuts = [m.start() for m in _SEPARATOR.finditer(text)]
    for cut in cuts:
        if wanted and words_of(text[:cut]) == wanted:
            return text[:cut].strip()
    stripped = False
    while cuts and site.suffix(text[cuts[-1] :]):
        text, stripped = text[: cuts.pop()].strip(), True
    if not strict and not stripped and cuts:
        last, rest = words_of(text[cuts[-1] :]), words_of(text[: cuts[-1]])
        if 0 < len(last) <= 5 and len(rest) > len(last):
            text = text[: cuts[-1]].strip()
    return text
