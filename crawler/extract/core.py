"""extract(): from a page's HTML to the Page a reader sees. Pure: no I/O, no clock.

Order of work: decode bytes; if a remembered article region is unchanged, reuse the previous Page
(the fast re-check); else read declared metadata, pull feed items from the untouched tree, cut
furniture, extract the body (profile, else trafilatura), and learn where the article sits.
Every failure inside becomes a NOT_ARTICLE Page with a reason: extraction never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import tzinfo
from typing import Any

import trafilatura
from lxml import etree
from lxml import html as lxml_html
from selectolax.lexbor import LexborHTMLParser, LexborNode

from redline.crawler.extract import fields, items
from redline.crawler.extract import memory as mem
from redline.crawler.extract.body import (
    body_words,
    cross_check,
    declared_body,
    finish_body,
    generic_body,
    looks_shrunk,
    prefer_plain,
    profile_body,
)
from redline.crawler.extract.dates import zone
from redline.crawler.extract.decode import decode_html, looks_binary
from redline.crawler.extract.furniture import (
    drop_invisible,
    drop_link_clusters,
    paragraph_chars,
    strip_furniture,
)
from redline.crawler.extract.headline import choose_title, display_headline
from redline.crawler.extract.inline_noise import drop_inline_noise
from redline.crawler.extract.kind import MIN_WORDS, SHORT_BODY, not_article_reason, reads_as_wall
from redline.crawler.extract.memory import ArticleMemory
from redline.crawler.extract.profiles import SiteProfile
from redline.crawler.extract.site import SiteMemory, furniture_texts, observe
from redline.crawler.extract.structured import Declared, read_declared
from redline.crawler.extract.text import (
    has_controls,
    normalise_text,
    strip_control_bytes,
    strip_controls,
)
from redline.storage.model import FeedItem, Page, PageKind

EXTRACTOR = "redline"
PLAIN_EXTRACTOR = "redline/plain"  # the body came from the plain reading (see _plain_reading)
# 2: display headline and SEO title apart, the plain fallback, in-article noise, bylines.
EXTRACTOR_VERSION = f"2+trafilatura-{trafilatura.__version__}"
LARGE_PAGE = 2_000_000  # bytes; above this, scripts and styles are cut before parsing
MAX_MARKUP = 2_500_000  # characters of markup left after that: more is not an article page
_WALL_TEXT = 40_000  # characters of visible text enough to recognise a wall or an error page
_VISIBLE_CHAR = re.compile(r"\S")
_SURROGATES = re.compile("[\ud800-\udfff]")
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")

# Deep nesting. Lexbor's tree building slows with the depth of open elements (quadratically:
# 200,000 nested <div>s take minutes) and libxml2 gives up on the whole page past 255 levels, so
# a page nested deeper is flattened first, as browsers do: past _WRAPPER_DEPTH open elements a
# start tag and its end tag are dropped, their text kept; text blocks (paragraphs, headings, list
# items, table cells) are still kept up to _BLOCK_DEPTH, so a deep article keeps its paragraphs.
_WRAPPER_DEPTH = 160
_BLOCK_DEPTH = 200
# The cheap check (_may_be_deep): a window of _DEEP_WINDOW characters every _DEEP_STEP (at most
# _DEEP_SAMPLES windows a page). The corpus's deepest-looking page scores about 1,000.
_DEEP_LIMIT = 2500
_DEEP_STEP = 8192
_DEEP_WINDOW = 512
_DEEP_SAMPLES = 32
_TAG = re.compile(r"<(?:!--.*?(?:-->|\Z)|[!?][^>]*>?|(/?)([A-Za-z][^\s/>]*)[^>]*>?)", re.S)


def _names(words: str) -> frozenset[str]:
    return frozenset(words.split())


_VOID = _names(
    "area base basefont bgsound br col embed frame hr image img input keygen link meta param "
    "source track wbr"
)
_RAW_TEXT = {
    name: re.compile(rf"</{name}[\s/>]", re.IGNORECASE)
    for name in _names("script style textarea title xmp iframe noembed noframes noscript")
}
_TEXT_BLOCKS = _names(
    "p h1 h2 h3 h4 h5 h6 li ul ol dl dt dd blockquote pre table caption thead tbody tfoot tr td "
    "th figcaption"
)
_SIBLINGS = _names("p li dt dd tr td th option")  # a second one closes the first
_CLOSES_P = _TEXT_BLOCKS | _names(
    "address article aside details div fieldset figure footer form header hgroup hr main menu "
    "nav section"
)


@dataclass(frozen=True, slots=True)
class Extraction:
    """The Page, what was learnt for next time, and whether the previous Page was reused."""

    page: Page
    memory: ArticleMemory | None = None
    reused: bool = False
    site: SiteMemory | None = None  # the site memory passed in, updated by this page


def _not_article(
    reason: str, memory: ArticleMemory | None = None, site: SiteMemory | None = None
) -> Extraction:
    page = Page(
        kind=PageKind.NOT_ARTICLE,
        reason=reason,
        extractor=EXTRACTOR,
        extractor_version=EXTRACTOR_VERSION,
    )
    return Extraction(page=page, memory=memory, site=site)


def _text_of(html: bytes | str, encoding: str | None) -> tuple[str, bytes | str] | Extraction:
    """The page as text, and what to hand to Lexbor (UTF-8 bytes parse faster than str)."""
    if isinstance(html, str):
        text = _SURROGATES.sub("", html)  # lone surrogates cannot reach a parser
        if _CONTROLS.search(text):
            text = strip_controls(text)
        return text, text
    if looks_binary(html):
        return _not_article("binary")
    decoded = decode_html(html, encoding)
    plain_utf8 = decoded.encoding == "utf-8" and not html.startswith(b"\xef\xbb\xbf")
    if plain_utf8:
        if not has_controls(html):
            return decoded.text, html
        cleaned = strip_control_bytes(html)  # still UTF-8: only ASCII bytes went
        return cleaned.decode("utf-8"), cleaned
    text = decoded.text
    if _CONTROLS.search(text):
        text = strip_controls(text)
    return text, text


def _shrink(text: str) -> str:
    """Cut scripts, styles and comments out of a huge page, cheaply, before the real parse."""
    tree = LexborHTMLParser(text)
    for node in tree.css("script, style, svg, noscript, template, iframe"):
        node.decompose()
    return tree.html or ""


def extract(
    html: bytes | str,
    url: str,
    *,
    encoding: str | None = None,
    profile: SiteProfile | None = None,
    memory: ArticleMemory | None = None,
    previous: Page | None = None,
    site: SiteMemory | None = None,
) -> Extraction:
    """Extract the article (or live feed) from one page; never raises.

    `memory` and `previous` come from the last check of this article (the ArticleMemory of its
    Extraction, and its Page); `site` from the last Extraction of any article of the same site.
    """
    try:
        early = None
        if (
            memory is not None
            and previous is not None
            and memory.fingerprint
            and isinstance(html, bytes)
            and len(html) <= LARGE_PAGE
            and not _may_be_deep(html)  # Lexbor parses a deep page slowly: flattened first
        ):
            # The re-check first, on the bytes as they came: decoding can wait. A page that is
            # not plain UTF-8 reads differently here, which costs a full extraction, never a
            # wrong reuse (the fingerprint is of the text read).
            early = LexborHTMLParser(html)
            if mem.fingerprint(early, memory) == memory.fingerprint:
                return Extraction(page=previous, memory=memory, reused=True, site=site)
        decoded = _text_of(html, encoding)
        if isinstance(decoded, Extraction):
            return replace(decoded, site=site)
        tree = early if early is not None and decoded[1] is html else None
        result = _extract_text(*decoded, url, profile, memory, previous, site, tree)
    except Exception as exc:  # hostile input must never crash a crawl
        return _not_article(f"unparseable: {type(exc).__name__}", memory, site)
    return result if result.site is not None else replace(result, site=site)


def region_unchanged(html: bytes, encoding: str | None, memory: ArticleMemory | None) -> bool:
    """extract()'s fast re-check on its own: does the remembered article region read the same?
    For a caller that wants to know before loading the previous Page. It reads the page as
    extract() does; any surprise counts as "changed", which only costs a full extraction."""
    if memory is None or not memory.fingerprint:
        return False
    try:
        # First on the bytes as they came, as extract() does; a deep page is flattened first.
        deep = _may_be_deep(html)
        raw = len(html) <= LARGE_PAGE and not deep
        if raw and mem.fingerprint(LexborHTMLParser(html), memory) == memory.fingerprint:
            return True
        decoded = _text_of(html, encoding)
        if isinstance(decoded, Extraction) or (raw and decoded[1] is html):
            return False  # not a page, or plain UTF-8: the same parse, already done
        prepared = _prepared(*decoded, memory)
        if isinstance(prepared, Extraction):
            return False
        source = _flatten(prepared[0]) if deep else prepared[1]
        return mem.fingerprint(LexborHTMLParser(source), memory) == memory.fingerprint
    except Exception:
        return False


def _prepared(
    text: str, source: bytes | str, memory: ArticleMemory | None
) -> tuple[str, bytes | str] | Extraction:
    """Decoded text as extraction reads it: NULs gone, a huge page's scripts and styles cut."""
    if "\x00" in text:
        text = source = text.replace("\x00", "")
    if not _VISIBLE_CHAR.search(text):
        return _not_article("empty", memory)
    if len(text) > LARGE_PAGE:
        if _may_be_deep(text):  # before Lexbor's parse in _shrink, which a deep page makes slow
            text = _flatten(text)
        text = source = _shrink(text)
        if len(text) > MAX_MARKUP:
            return _not_article("too_large", memory)
    return text, source


def _may_be_deep(data: bytes | str, limit: int = _DEEP_LIMIT) -> bool:
    """Cheap check, before a Lexbor parse: might this page nest over `limit` elements deep?

    Tags are counted in a small window every few kilobytes and the depth they add up to is
    scaled to the whole step: a page nested deep enough to slow Lexbor down shows as a long run
    of start tags or a steady excess of them. Ordinary pages stay far below `limit` (void tags
    and unclosed paragraphs add a little); a page shallower than about a step's worth of tags
    may pass unseen, which costs a few milliseconds at most. libxml2 catches it later anyway.
    """
    size = len(data)
    if size < 3 * limit:  # every level costs at least three characters: "<a>"
        return False
    lt, close = (b"<", b"</") if isinstance(data, bytes) else ("<", "</")
    step = max(_DEEP_STEP, size // _DEEP_SAMPLES)
    scale = step / _DEEP_WINDOW
    depth = 0.0
    for start in range(0, size, step):
        closes = data.count(close, start, start + _DEEP_WINDOW)  # type: ignore[arg-type]
        opens = data.count(lt, start, start + _DEEP_WINDOW) - closes  # type: ignore[arg-type]
        depth = max(depth + (opens - closes) * scale, 0.0)
        if depth > limit:
            return True
    return False


def _flatten(text: str) -> str:
    """The page with no element nested deeper than libxml2 (and a fast Lexbor parse) allows:
    `text` itself when no element sits 256 deep, else the start and end tags of the elements past
    _WRAPPER_DEPTH (text blocks: past _BLOCK_DEPTH) cut out, their content kept in place.

    One pass over the tags, linear whatever the nesting: an end tag closes the innermost open
    element of its name and all opened after it, as HTML parsers do; a stray one is left be.
    """
    pieces: list[str] = []
    stack: list[tuple[str, bool]] = []  # open elements: name, kept
    open_count: dict[str, int] = {}
    kept = deepest = last = pos = 0

    def pop() -> None:
        nonlocal kept
        name, was_kept = stack.pop()
        open_count[name] -= 1
        kept -= was_kept

    while True:
        match = _TAG.search(text, pos)
        if match is None:
            break
        pos = match.end()
        name = match.group(2)
        if name is None:  # comment, doctype, processing instruction
            continue
        name = name.lower()
        if match.group(1):  # an end tag
            if not open_count.get(name):
                continue
            while stack[-1][0] != name:
                pop()
            keep = stack[-1][1]
            pop()
        elif name in _VOID:
            continue
        else:
            if stack and (
                (stack[-1][0] == name and name in _SIBLINGS)
                or (stack[-1][0] == "p" and name in _CLOSES_P)
            ):
                pop()
            raw = _RAW_TEXT.get(name)  # kept: their content is text, whatever it looks like
            keep = raw is not None or kept < (
                _BLOCK_DEPTH if name in _TEXT_BLOCKS else _WRAPPER_DEPTH
            )
            stack.append((name, keep))
            open_count[name] = open_count.get(name, 0) + 1
            kept += keep
            deepest = max(deepest, len(stack))
            if raw is not None:
                found = raw.search(text, pos)
                pos = found.start() if found is not None else len(text)
        if not keep:
            pieces.append(text[last : match.start()])
            last = match.end()
    if deepest < 256 or not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def _parse_flat(text: str, source: bytes | str) -> tuple[str, bytes | str, etree._Element | None]:
    """libxml2's parse of the page; of the page flattened (_flatten) when it nests too deep."""
    root = _lxml_parse(source)
    error = _PARSER.error_log.last_error  # nearly always None: the parser recovers quietly
    if error is not None and error.type_name == "ERR_RESOURCE_LIMIT":
        flat = _flatten(text)
        if flat is not text:
            return flat, flat, _lxml_parse(flat)
    return text, source, root


def extract_page(html: bytes | str, url: str, **kwargs: Any) -> Page:
    """extract(...).page, for callers that keep no memory."""
    return extract(html, url, **kwargs).page


def _extract_text(
    text: str,
    source: bytes | str,
    url: str,
    profile: SiteProfile | None,
    memory: ArticleMemory | None,
    previous: Page | None,
    site: SiteMemory | None,
    tree: LexborHTMLParser | None = None,
) -> Extraction:
    """The rest of extract() on decoded text; `tree` is a Lexbor parse of `source` already made."""
    prepared = _prepared(text, source, memory)
    if isinstance(prepared, Extraction):
        return prepared
    text, source = prepared
    checked = tree is not None  # already re-checked on these very bytes (in extract())
    known = memory if memory is not None and previous is not None and memory.fingerprint else None
    if known and previous and not checked and not _may_be_deep(source):  # before libxml2's parse
        tree = LexborHTMLParser(source)
        if mem.fingerprint(tree, known) == known.fingerprint:
            return Extraction(page=previous, memory=memory, reused=True, site=site)
        checked = True
    parsed = source
    text, source, root = _parse_flat(text, source)
    if source is not parsed:  # flattened: the flat page is the one read and re-checked
        tree, checked = None, False
    if tree is None:
        tree = LexborHTMLParser(source)
    if known and previous and not checked and mem.fingerprint(tree, known) == known.fingerprint:
        return Extraction(page=previous, memory=memory, reused=True, site=site)
    return _full(source, tree, url, profile, memory, previous, site, root)


# trafilatura's own parser options (comments and processing instructions dropped), but elements
# get their class in C: lxml.html's default lookup calls Python for every element touched, which
# costs more than the parse itself across furniture cutting and trafilatura.
_PARSER = etree.HTMLParser(
    collect_ids=False,
    default_doctype=False,
    encoding="utf-8",
    remove_comments=True,
    remove_pis=True,
)
_PARSER.set_element_class_lookup(
    etree.ElementDefaultClassLookup(
        element=lxml_html.HtmlElement,
        comment=lxml_html.HtmlComment,
        pi=lxml_html.HtmlProcessingInstruction,
        entity=lxml_html.HtmlEntity,
    )
)


def _lxml_parse(source: bytes | str) -> etree._Element | None:
    try:
        return etree.fromstring(source, _PARSER)
    except (etree.ParserError, ValueError):
        return None


def _lxml_tree(
    source: bytes | str, root: etree._Element | None = None, parsed: bool = False
) -> etree._Element | None:
    """One lxml tree for furniture cutting, fields and trafilatura (which takes it as is).
    `parsed`: `root` is _lxml_parse(source), already made."""
    if not parsed:
        root = _lxml_parse(source)
    if root is not None and len(root):
        return root
    text = source if isinstance(source, str) else source.decode("utf-8", errors="replace")
    root = trafilatura.utils.load_html(text)  # its repairs, for what libxml2 chokes on
    if root is None:  # trafilatura refuses some fragments; lxml's own parser does not
        try:
            root = lxml_html.document_fromstring(text)
        except (etree.ParserError, ValueError):
            return None
    etree.strip_elements(root, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    return root


def _reading_tree(
    source: bytes | str,
    tree: LexborHTMLParser,
    first: etree._Element | None = None,
    parsed: bool = False,
) -> etree._Element | None:
    root = _lxml_tree(source, first, parsed)
    body = root.find("body") if root is not None else None
    if (body is None or not len(body)) and tree.body is not None and tree.body.child is not None:
        # libxml2 leaves HTML5 elements after a bare <meta> in <head>; Lexbor follows the
        # HTML5 rules, so its serialisation parses the way a browser shows it.
        root = _lxml_tree(tree.html or "")
    return root


def _full(
    source: bytes | str,
    tree: LexborHTMLParser,
    url: str,
    profile: SiteProfile | None,
    memory: ArticleMemory | None,
    previous: Page | None,
    site: SiteMemory | None,
    first: etree._Element | None,
) -> Extraction:
    """`first`: _lxml_parse(source), already made (the tree to read from, when it parsed)."""
    declared = read_declared(tree)
    root = _reading_tree(source, tree, first, parsed=True)
    if root is None:
        return _not_article("empty", memory)
    tz = zone(profile.timezone if profile else None)
    declared_items = _declared_items(root, declared, profile, tz, url)
    generic_items = [] if declared_items else items.generic_items(root, tz)

    headline, heading = _headline(root, tree, declared, profile)
    byline = _byline(root, tree, declared, profile, heading)
    published = fields.choose_time(
        fields.select_values(root, profile.published) if profile else [], declared.published, tz
    )
    updated = fields.choose_time(
        fields.select_values(root, profile.updated) if profile else [], declared.modified, tz
    )
    for selector in profile.exclude if profile else ():
        for node in selector.compiled()(root):
            if isinstance(node, etree._Element) and node.getparent() is not None:
                node.getparent().remove(node)
    drop_invisible(root)
    cuts = strip_furniture(root)
    drop_link_clusters(root)
    drop_inline_noise(root)
    paragraphs = profile_body(root, profile)
    readable = -1  # a profile's body is the user's word on where the article is: not checked
    if paragraphs is None:
        declared_paragraphs = declared_body(root)
        paragraphs = cross_check(declared_paragraphs, generic_body(root))
        # The paragraph text trafilatura was given, and what the cuts by name took from it.
        readable = paragraph_chars(root) + cuts.paragraph_chars
    volatile = mem.volatile_texts(tree, memory)
    body = finish_body(paragraphs, headline, volatile)
    live_hint = "liveblogposting" in declared.types or bool(profile and profile.is_live_url(url))
    found_items = declared_items or (
        generic_items if live_hint or items.cover_body(generic_items, body) else []
    )
    keyed = items.rekey(found_items, memory.items if memory else {})
    if keyed:  # item text is tracked per item, not again in the body
        in_items = items.items_text(keyed)
        body = tuple(p for p in body if not items.covered(p, in_items))
    words = body_words(body)
    before = body_words(previous.body) if previous is not None else 0
    # A shrunk body, or a short one beside cuts that held enough text to make a plain reading
    # win (body.prefer_plain), is checked against one; not on a live page, where the items are
    # the news and the body is what is left around them.
    checked = readable >= 0 and not keyed
    shrunk = checked and looks_shrunk(body, words, readable, before)
    short = words < SHORT_BODY
    uncut = _uncut_tree(source, tree, profile) if shrunk or short else None
    visible = "" if uncut is None else _visible_text(uncut)
    text = " ".join(body)
    reason = not_article_reason(declared, headline, text, words, visible, bool(keyed), before)
    extractor = EXTRACTOR
    if (
        checked
        and uncut is not None
        and _replaceable(reason, words)
        and (shrunk or cuts.words() >= max(words, MIN_WORDS))
    ):
        plain = _plain_reading(uncut, declared, headline, volatile, visible, words, before, shrunk)
        if plain is not None:
            body, reason, extractor = plain, None, PLAIN_EXTRACTOR
    if reason:
        return _not_article(reason, memory)
    page = Page(
        headline=headline,
        title=choose_title(declared, headline, url),
        byline=byline,
        published=published,
        updated=updated,
        body=body,
        items=keyed,
        kind=PageKind.LIVE if keyed else PageKind.ARTICLE,
        language=fields.language_tag(declared.language),
        canonical_url=fields.canonical_url(url, declared),
        extractor=extractor,
        extractor_version=EXTRACTOR_VERSION,
    )
    learnt = mem.learn(tree, page, memory, previous, items.item_identities(keyed), heading)
    dropped: frozenset[str] = frozenset()
    if set(learnt.volatile) - set(memory.volatile if memory else ()):
        # Just learnt that a block is furniture: leave it out of this version already.
        dropped = mem.volatile_texts(tree, learnt)
    found = tree.css(learnt.container) if learnt.container else []
    if site is not None and len(found) == 1:
        dropped |= furniture_texts(found[0], site)
        site = observe(site, page.canonical_url or url, found[0])
    if dropped:
        page = replace(page, body=tuple(p for p in page.body if p not in dropped))
    return Extraction(page=page, memory=learnt, site=site)


def _replaceable(reason: str | None, words: int) -> bool:
    """May a plain reading replace a result judged so? An article, or no article found; a wall
    only when nothing at all was kept, as it was then judged by the page around an empty reading
    (a cookie banner beside an article the cuts removed). The plain reading is judged again on its
    own text. Error pages and soft 404s, judged by their title, never."""
    return reason in (None, "no_article") or (words == 0 and reason in ("paywall", "consent_wall"))


def _uncut_tree(
    source: bytes | str, tree: LexborHTMLParser, profile: SiteProfile | None
) -> etree._Element | None:
    """The page as the reader sees it, before any furniture cut: a tree of its own.

    Only short or suspicious bodies need it, so the page is parsed again here rather than the
    tree copied for every page. The profile's excludes still apply: they are the user's cuts.
    """
    root = _reading_tree(source, tree)
    if root is None:
        return None
    for selector in profile.exclude if profile else ():
        for node in selector.compiled()(root):
            if isinstance(node, etree._Element) and node.getparent() is not None:
                node.getparent().remove(node)
    drop_invisible(root)
    return root


def _visible_text(root: etree._Element) -> str:
    """The page's visible text before furniture was cut (a wall is furniture-named)."""
    body = root.find("body")
    text = (body if body is not None else root).xpath("string()")
    return normalise_text(text[:_WALL_TEXT])


def _plain_reading(
    root: etree._Element,
    declared: Declared,
    headline: str,
    volatile: frozenset[str],
    visible: str,
    kept: int,
    before: int,
    shrunk: bool,
) -> tuple[str, ...] | None:
    """The body Redline's generic layer finds on the uncut page (trafilatura, checked against the
    page's declared body), when it is the safer result; else None.

    Redline's furniture cuts can be wrong about a page (a story wrapped in "promo-wrap", every
    paragraph in an "ad-slot" box); trafilatura alone on the page, hidden elements cut, is the
    second opinion, with trafilatura's whole cascade for a `shrunk` body (see body.PLAIN_OPTIONS).
    It is taken only when it holds far more (body.prefer_plain) and is itself an article: a
    reading with a wall's words in it is refused, so a wall never becomes a revision.
    """
    strip_furniture(root, hidden_only=True)
    drop_link_clusters(root)
    drop_inline_noise(root)
    declared_paragraphs = declared_body(root)
    paragraphs = cross_check(declared_paragraphs, generic_body(root, cascade=shrunk))
    body = finish_body(paragraphs, headline, volatile)
    words = body_words(body)
    text = " ".join(body)
    if not prefer_plain(kept, words, before) or reads_as_wall(text):
        return None
    if not_article_reason(declared, headline, text, words, visible, False) is not None:
        return None
    return body


def _declared_items(
    root: etree._Element,
    declared: Declared,
    profile: SiteProfile | None,
    tz: tzinfo,
    url: str,
) -> list[FeedItem]:
    """Items the page or its profile names explicitly: liveBlogUpdate, then profile selectors.

    A profile with `live_url` applies its item selectors only on the pages that URL pattern
    matches (elsewhere the same column is site furniture); without it, on every page.
    """
    found = items.json_ld_items(declared.live_updates, tz)
    if found or profile is None or not profile.items:
        return found
    if profile.live_url and not profile.is_live_url(url):
        return []
    return items.profile_items(root, profile, tz)


def _headline(
    root: etree._Element, tree: LexborHTMLParser, declared: Declared, profile: SiteProfile | None
) -> tuple[str, LexborNode | None]:
    """The headline, and the element showing it when the generic layer found one."""
    if profile is not None and profile.headline:
        values = fields.select_values(root, profile.headline)
        if values:
            return values[0], None
    return display_headline(tree, declared)


def _byline(
    root: etree._Element,
    tree: LexborHTMLParser,
    declared: Declared,
    profile: SiteProfile | None,
    heading: LexborNode | None,
) -> tuple[str, ...]:
    if profile is not None and profile.byline:
        values = fields.select_values(root, profile.byline)
        if values:
            return fields.dedupe_names(values)
    return fields.choose_byline(tree, declared, heading)
