# ruff: noqa: E501 -- HTML snippets of page furniture read better on one line
"""A noise generator: changes only page furniture, the way real sites do between two loads.

    apply_noise(html_bytes, kind, seed) -> html_bytes

    noise_beside_edit(html_bytes, kind, seed, body) -> (html_bytes, new_word) | None

Each kind rewrites one sort of furniture with content drawn from `seed`, so two seeds give two
"loads" of the same article. "none" only re-serialises (every kind goes through the same lxml
round trip, so differences come from the noise, not the serialiser). Page kinds go around the
element holding the most paragraphs; in-article kinds go inside it, between two paragraphs, with
markup, text and place drawn from the seed and the page. noise_beside_edit puts in-article noise
right before or after a body paragraph and changes one word of that paragraph.
"""

from __future__ import annotations

import random
import statistics
import zlib
from collections.abc import Callable

from lxml import etree, html

PAGE_KINDS = (
    "trending",
    "relative_time",
    "tokens",
    "cache_bust",
    "ad_slots",
    "view_counter",
    "cookie_banner",
    "sidebar_reorder",
    "header_time",
)
# Between the article's own paragraphs, as their siblings, new content at every load.
IN_ARTICLE_KINDS = ("read_more", "inline_ad", "inline_newsletter", "share_counters", "updated_time")
# Furniture with no telltale markup or wording: only memory across versions can tell it apart.
LEARNT_KINDS = ("inline_promo",)
NOISE_KINDS = PAGE_KINDS + IN_ARTICLE_KINDS

_WORD_LIST = (
    "council budget storm minister market election court strike river vaccine "
    "festival football bridge energy prices school report police summit drought "
    "rally airport museum"
)
_WORDS = _WORD_LIST.split()


def _headline(rng: random.Random) -> str:
    words = rng.sample(_WORDS, 6)
    return " ".join(words).capitalize()


def _frag(markup: str) -> etree._Element:
    return html.fragment_fromstring(markup)


def _container(root: etree._Element) -> etree._Element:
    """The element with the most direct <p> children that have text."""
    best, best_count = root.find(".//body") if root.find(".//body") is not None else root, 0
    for el in root.iter(etree.Element):
        count = sum(1 for c in el if c.tag == "p" and (c.text_content() or "").strip())
        if count > best_count:
            best, best_count = el, count
    return best


def _article_container(root: etree._Element) -> etree._Element:
    """The element whose direct <p> children hold the most text: where in-article noise goes."""
    best, best_chars = _container(root), 0
    for el in root.iter(etree.Element):
        chars = sum(len(c.text_content() or "") for c in el if c.tag == "p")
        if chars > best_chars:
            best, best_chars = el, chars
    return best


def _paragraphs(container: etree._Element) -> list[etree._Element]:
    return [c for c in container if c.tag == "p"]


def _insert_in_article(root: etree._Element, markup: str, rng: random.Random) -> None:
    container = _article_container(root)
    paras = _paragraphs(container)
    node = _frag(markup)
    if len(paras) >= 2:
        anchor = paras[rng.randrange(1, len(paras))]
        anchor.addprevious(node)
    else:
        container.append(node)


def _body(root: etree._Element) -> etree._Element:
    body = root.find(".//body")
    return body if body is not None else root


def _beside_article(root: etree._Element, markup: str) -> None:
    container = _container(root)
    parent = container.getparent()
    target = parent if parent is not None and parent.tag != "html" else container
    if target.tag in ("body", "html"):
        target.append(_frag(markup))
    else:
        target.addnext(_frag(markup))


def _trending(root, rng):
    items = "".join(
        f'<li><a href="/story/{rng.randrange(10**6)}">{_headline(rng)}</a></li>' for _ in range(5)
    )
    _beside_article(root, f'<aside class="trending"><h3>Trending now</h3><ol>{items}</ol></aside>')


def _relative_time(root, rng):
    n = rng.randrange(2, 59)
    items = "".join(
        f'<li><a href="/s/{rng.randrange(10**6)}">{_headline(rng)}</a> <span>{n + i} minutes ago</span></li>'
        for i in range(3)
    )
    _beside_article(root, f'<div class="latest"><h3>Latest</h3><ul>{items}</ul></div>')


def _tokens(root, rng):
    token = f"{rng.getrandbits(128):032x}"
    head = root.find(".//head")
    if head is not None:
        head.append(_frag(f'<meta name="csrf-token" content="{token}">'))
    for script in root.iter("script"):
        script.set("nonce", f"{rng.getrandbits(64):016x}")
    _body(root).append(
        _frag(
            f'<form class="search" action="/search"><input type="hidden" name="csrf" value="{token}"><input name="q"></form>'
        )
    )


def _cache_bust(root, rng):
    version = f"{rng.getrandbits(32):08x}"
    for el in root.iter("script", "link"):
        if el.tag == "link" and (el.get("rel") or "").lower() not in ("stylesheet", "preload"):
            continue  # canonical, alternate, icons: not cache-busted assets
        attr = "src" if el.tag == "script" else "href"
        value = el.get(attr)
        if value:
            el.set(attr, value.split("?")[0] + "?v=" + version)
    _body(root).append(_frag(f'<script src="/static/app.js?v={version}"></script>'))


def _ad_slots(root, rng):
    for _ in range(3):
        slot = rng.randrange(10**6)
        _beside_article(
            root,
            f'<div id="div-gpt-ad-{slot}" class="ad-slot" data-slot="{slot}"><span>Advertisement</span></div>',
        )


def _view_counter(root, rng):
    _beside_article(
        root,
        f'<div class="article-stats"><span class="views">{rng.randrange(100, 99999):,} views</span></div>',
    )


def _cookie_banner(root, rng):
    if rng.random() < 0.5:
        return  # shown on some loads only
    _body(root).insert(
        0,
        _frag(
            '<div id="cookie-consent" class="cookie-banner"><p>We use cookies to improve your experience '
            "and to show you personalised ads. By continuing you agree to our cookie policy.</p>"
            "<button>Accept all</button></div>"
        ),
    )


def _sidebar_reorder(root, rng):
    widgets = [
        f'<aside class="widget"><h3>Most read</h3><ol><li><a href="/a">{_headline(rng)}</a></li></ol></aside>',
        '<aside class="widget"><h3>Podcasts</h3><p><a href="/podcasts">Listen to our daily show</a></p></aside>',
        '<aside class="widget"><h3>Newsletter</h3><p>Get the morning briefing in your inbox.</p></aside>',
    ]
    rng.shuffle(widgets)
    _beside_article(root, '<div class="sidebar">' + "".join(widgets) + "</div>")


# In-article furniture: what sites put between the article's own paragraphs, as siblings of
# them. Several markups per kind, some with telling class names and some with bland or hashed
# ones (real sites do not always name their furniture); every load draws new text, numbers and
# links. What stays the same is what a reader sees: a "Read more" label over links to other
# stories, an "Advertisement" label, a newsletter sign-up, a count of shares or comments, an
# "Updated N minutes ago" line.

_BLAND = ("inline-block", "module", "box", "col-12", "wrapper", "pb-2 mt-3", "component", "c-block")
_SECTIONS = ("Politics", "World", "Business", "Sport", "Science", "Culture", "Opinion")
_TOPICS = ("morning", "evening", "weekend", "politics", "business", "climate", "tech")


def _hashed(rng: random.Random) -> str:
    """A CSS-module class ("sc-a1b2c3 kXyZ"): new at every build of the site."""
    return f"sc-{rng.getrandbits(24):06x} {rng.getrandbits(20):05x}"


def _cls(rng: random.Random, named: tuple[str, ...]) -> str:
    pick = rng.random()
    if pick < 0.4:
        return rng.choice(named)
    return rng.choice(_BLAND) if pick < 0.8 else _hashed(rng)


def _story_link(rng: random.Random) -> str:
    slug = "-".join(rng.sample(_WORDS, 3))
    return f'<a href="/{rng.choice(_SECTIONS).lower()}/{slug}-{rng.randrange(10**7)}">{_headline(rng)}</a>'


def _count(rng: random.Random) -> str:
    n = rng.randrange(1, 30000)
    if n >= 1000 and rng.random() < 0.6:
        return f"{n / 1000:.1f}K".replace(".0K", "K")
    return f"{n:,}" if rng.random() < 0.5 else str(n)


def _read_more_markup(rng: random.Random) -> str:
    label = rng.choice(
        ("Read more", "Related", "Related stories", "More on this story", "Read next",
         "You may also like", "Also read", "Related coverage", "Further reading", "Don't miss",
         f"More from {rng.choice(_SECTIONS)}", "Recommended")
    )  # fmt: skip
    cls = _cls(rng, ("related-links", "read-more", "inline-related", "story-related", "recirc"))
    links = [_story_link(rng) for _ in range(rng.randrange(1, 5))]
    variant = rng.randrange(6)
    if variant == 0:
        items = "".join(f"<li>{link}</li>" for link in links)
        heading = rng.choice(("h2", "h3", "h4", "strong"))
        return f'<div class="{cls}"><{heading}>{label}</{heading}><ul>{items}</ul></div>'
    if variant == 1:
        word = rng.choice(("Read more", "READ MORE", "Related", "See also", "Also read", "Read"))
        sep = rng.choice((":", " |", " »", ":", " —"))
        tag = rng.choice(("strong", "b", "em"))
        return f"<p><{tag}>{word}{sep}</{tag}> {links[0]}</p>"
    if variant == 2:  # one story card: a label, a section, a link
        return (
            f'<div class="{cls}"><p class="label">{label}</p>'
            f"<span>{rng.choice(_SECTIONS)}</span>{links[0]}</div>"
        )
    if variant == 3:  # links as paragraphs under a heading
        paras = "".join(f"<p>{link}</p>" for link in links)
        return f'<div class="{cls}"><h3>{label}</h3>{paras}</div>'
    if variant == 4:  # one italic line with several links
        return f"<p><em>{label}: {', '.join(links)}</em></p>"
    items = "".join(
        f'<div class="item">{link}<span>{rng.randrange(2, 9)} min read</span></div>'
        for link in links
    )
    return f'<section class="{cls}"><div class="title">{label}</div>{items}</section>'


def _ad_markup(rng: random.Random) -> str:
    slot = f"{rng.randrange(10**12, 10**13)}-{rng.randrange(4)}"
    label = rng.choice(
        ("Advertisement", "ADVERTISEMENT", "Advertisement - Scroll to continue", "Ad",
         "Story continues below advertisement", "Article continues below", "Sponsored",
         "Advertisement · Continue reading below")
    )  # fmt: skip
    variant = rng.randrange(5)
    if variant == 0:
        return f'<div class="ad-slot" id="div-gpt-ad-{slot}" data-slot="/2156/news/mid{rng.randrange(5)}"><span>{label}</span></div>'
    if variant == 1:
        return f'<div class="{_cls(rng, ("inline-ad", "ad-container", "dfp-ad"))}" data-pos="mid{rng.randrange(5)}"><p class="label">{label}</p><div id="slot-{slot}"></div></div>'
    if variant == 2:
        return f'<div class="{_hashed(rng)}">{label}</div>'
    if variant == 3:  # a native ad: the label and a sponsor's link, new at every load
        brand = rng.choice(("Nordvik", "Solara", "Kestrel Bank", "Brightway", "Oakhurst"))
        offer = rng.choice(
            (
                "Save 40% on your energy bill",
                "The smart way to invest in 2025",
                "Why drivers are switching insurers",
            )
        )
        return f'<div class="{_cls(rng, ("native-ad", "sponsored"))}"><span>Sponsored</span><a href="https://clk.adnet.example/{slot}">{brand}: {offer}</a></div>'
    return f'<p class="{_cls(rng, ("ad-label",))}">{label}</p>'


def _newsletter_markup(rng: random.Random) -> str:
    topic = rng.choice(_TOPICS)
    name = rng.choice(("First Edition", "Morning Briefing", "Morning Mail", "Download", "Today"))
    count = rng.randrange(3, 12)
    day = rng.choice(("weekday", "morning", "evening", "Sunday", "Friday"))
    pitch = rng.choice(
        (f"Get the {count} biggest {topic} stories delivered to your inbox every {day}.",
         f"Our {topic} newsletter brings you the news you need every {day}, free.",
         f"Join {_count(rng)} readers who get our {topic} briefing every {day}.")
    )  # fmt: skip
    form = '<form action="/subscribe"><input type="email" placeholder="Your email address"><button>Sign up</button></form>'
    cls = _cls(rng, ("newsletter-signup", "newsletter-box", "subscribe-box"))
    variant = rng.randrange(5)
    if variant == 0:
        title = rng.choice(
            ("Sign up for our daily newsletter", f"Sign up to {name}", f"Subscribe to {name}")
        )
        return f'<div class="{cls}"><h4>{title}</h4><p>{pitch}</p>{form}</div>'
    if variant == 1:
        return (
            f'<div class="{cls}"><h3>{name}</h3><p>{pitch}</p>{form}'
            '<p class="small">By signing up, you agree to our <a href="/privacy">Privacy Policy</a>.</p></div>'
        )
    if variant == 2:
        return f'<p><em>Sign up for the {name} newsletter <a href="/newsletters">here</a>. {pitch}</em></p>'
    if variant == 3:
        return f'<p><strong><a href="/newsletters/{topic}">Subscribe to our {topic} newsletter</a></strong> {pitch}</p>'
    call = rng.choice(
        (f"Sign up for {name}, our free {topic} briefing.", f"Get {name} in your inbox.")
    )
    return f'<div class="{cls}"><p>Want more {topic} news? {call}</p>{form}</div>'


def _share_markup(rng: random.Random) -> str:
    shares, comments = _count(rng), _count(rng)
    share_word = rng.choice(("shares", "Shares", "SHARES"))
    comment_word = rng.choice(("comments", "Comments"))
    cls = _cls(rng, ("share-bar", "social-counts", "article-stats", "engagement"))
    variant = rng.randrange(5)
    if variant == 0:
        return (
            f'<div class="{cls}"><a href="#share">Share</a><span class="count">{shares} {share_word}</span>'
            f'<span class="comment-count">{comments} {comment_word}</span></div>'
        )
    if variant == 1:
        return f'<div class="{cls}"><span>{shares}</span> {share_word} · <span>{comments}</span> {comment_word}</div>'
    if variant == 2:
        return f'<p class="{cls}"><a href="#comments">{comments} {comment_word}</a></p>'
    if variant == 3:
        return f'<ul class="{cls}"><li>{shares} {share_word}</li><li>{comment_word} ({comments})</li></ul>'
    return f'<div class="{cls}"><strong>{shares}</strong><span>{share_word}</span></div>'


def _updated_markup(rng: random.Random) -> str:
    n = rng.randrange(2, 59)
    when = rng.choice(
        (f"{n} minutes ago", f"{n} mins ago", f"{n}m ago", f"{n % 23 + 1} hours ago",
         f"{n % 23 + 1}h ago", "an hour ago", f"{n} min ago")
    )  # fmt: skip
    word = rng.choice(("Updated", "Updated:", "Last updated", "Last updated:", "UPDATED"))
    cls = _cls(rng, ("timestamp", "time-ago", "article-updated", "meta"))
    variant = rng.randrange(5)
    if variant == 0:
        return f'<p class="{cls}">{word} {when}</p>'
    if variant == 1:
        stamp = f"2026-12-06T{n % 24:02d}:{n:02d}:00Z"
        return f'<div class="{cls}"><span>{word}</span> <time class="date" datetime="{stamp}">{when}</time></div>'
    if variant == 2:
        return f"<p><small>Published {n % 20 + 2} hours ago · {word} {when}</small></p>"
    if variant == 3:  # the time is filled in by a script: the label stands alone
        return f'<div class="{cls}">{word} <span class="js-relative-time" data-ts="{rng.getrandbits(31)}"></span></div>'
    return f'<div class="{cls}">{when}</div>'


_IN_ARTICLE: dict[str, Callable[[random.Random], str]] = {
    "read_more": _read_more_markup,
    "inline_ad": _ad_markup,
    "inline_newsletter": _newsletter_markup,
    "share_counters": _share_markup,
    "updated_time": _updated_markup,
}


def _header_time(root, rng):
    h1 = root.find(".//h1")
    markup = f'<span class="time-ago">Updated {rng.randrange(2, 59)} minutes ago</span>'
    if h1 is not None and h1.getparent() is not None:
        h1.addnext(_frag(markup))
    else:
        _container(root).insert(0, _frag(markup))


def _inline_promo(root, rng):
    _insert_in_article(
        root, f'<div class="c-box"><p>{_headline(rng)}. {_headline(rng)}.</p></div>', rng
    )


_APPLY: dict[str, Callable[[etree._Element, random.Random], None]] = {
    "none": lambda root, rng: None,
    "trending": _trending,
    "relative_time": _relative_time,
    "tokens": _tokens,
    "cache_bust": _cache_bust,
    "ad_slots": _ad_slots,
    "view_counter": _view_counter,
    "cookie_banner": _cookie_banner,
    "sidebar_reorder": _sidebar_reorder,
    "header_time": _header_time,
    "inline_promo": _inline_promo,
}


def _rng(raw: bytes, kind: str, seed: int) -> random.Random:
    """In-article noise differs from page to page too; page noise only from seed to seed."""
    page = zlib.crc32(raw) if kind in _IN_ARTICLE else ""
    return random.Random(f"{kind}:{seed}{page and f':{page}'}")


def apply_noise(raw: bytes, kind: str, seed: int = 0) -> bytes:
    """The page with one kind of furniture changed; `seed` picks the content."""
    root = html.document_fromstring(raw, parser=html.HTMLParser(encoding="utf-8"))
    rng = _rng(raw, kind, seed)
    if kind in _IN_ARTICLE:
        _insert_in_article(root, _IN_ARTICLE[kind](rng), rng)
    else:
        _APPLY[kind](root, rng)
    return etree.tostring(root, encoding="utf-8", method="html")


def noise_beside_edit(
    raw: bytes, kind: str, seed: int, body: tuple[str, ...]
) -> tuple[bytes, str] | None:
    """In-article noise right before or after a body paragraph, and one word of that paragraph
    changed: the page, and the new word (None when no paragraph of `body` can be edited)."""
    root = html.document_fromstring(raw, parser=html.HTMLParser(encoding="utf-8"))
    rng = _rng(raw, kind, seed)
    markup = _IN_ARTICLE[kind](rng)
    from redline.crawler.extract.text import normalise_text

    kept = set(body)
    container = _article_container(root)
    paras = [p for p in _paragraphs(container) if normalise_text(p.text_content()) in kept]
    rng.shuffle(paras)
    for para in paras:
        words = [w for w in para.text_content().split() if w.isalpha() and len(w) >= 4]
        rng.shuffle(words)
        for word in words:
            new = word[::-1] + "x"
            if _replace_word(para, word, new):
                node = _frag(markup)
                if rng.random() < 0.5:
                    para.addprevious(node)
                else:
                    para.addnext(node)
                return etree.tostring(root, encoding="utf-8", method="html"), new
    return None


def _replace_word(block: etree._Element, word: str, replacement: str) -> bool:
    """Replace the first whole `word` in the text of `block`, in place."""
    for el in block.iter():
        for attr in ("text", "tail"):
            if el is block and attr == "tail":
                continue
            value = getattr(el, attr)
            if isinstance(value, str) and f" {word} " in f" {value} ":
                padded = f" {value} ".replace(f" {word} ", f" {replacement} ", 1)
                setattr(el, attr, padded[1:-1])
                return True
    return False


def edit_one_word(raw: bytes, word: str, replacement: str, within: str = "") -> bytes | None:
    """The page with `word` replaced in the smallest block whose text holds `within`, or None."""
    root = html.document_fromstring(raw, parser=html.HTMLParser(encoding="utf-8"))
    wanted = " ".join(within.split())
    blocks = [
        (len(text), el)
        for el in root.iter("p", "li", "div", "blockquote", "h2", "h3", "td", "span")
        if wanted in (text := " ".join(el.text_content().split()))
    ]
    for _, block in sorted(blocks, key=lambda pair: pair[0])[:1]:
        if _replace_word(block, word, replacement):
            return etree.tostring(root, encoding="utf-8", method="html")
    return None


IN_ARTICLE_SEEDS = (1, 2, 3)


def stability(pages: list[tuple[str, str, bytes, str]]) -> dict[str, object]:
    """Share of (page, kind, seed) loads whose Page is identical to the un-noised one; and the
    converse: edits (one body word, one beside in-article noise, the headline) are all seen."""
    from redline.crawler.extract import extract
    from redline.storage.codec import content_hash

    per_kind: dict[str, int] = dict.fromkeys(NOISE_KINDS, 0)
    runs: dict[str, int] = dict.fromkeys(NOISE_KINDS, 0)
    learnt_same = learnt_total = recheck_same = recheck_reused = recheck_total = 0
    edits_seen = edits_total = heads_seen = heads_total = 0
    visible_seen = visible_total = titles_seen = titles_total = 0
    beside_seen = beside_total = noisy_heads_seen = noisy_heads_total = 0
    for _, url, raw, _ in pages:
        base_raw = apply_noise(raw, "none")
        base = extract(base_raw, url).page
        if base.kind == "not_article":
            continue  # nothing to keep stable; counted in the quality score instead
        base_hash = content_hash(base)
        first = extract(base_raw, url)
        for kind in NOISE_KINDS:
            for seed in IN_ARTICLE_SEEDS if kind in IN_ARTICLE_KINDS else (1, 2):
                noisy = apply_noise(raw, kind, seed)
                runs[kind] += 1
                per_kind[kind] += content_hash(extract(noisy, url).page) == base_hash
                again = extract(noisy, url, memory=first.memory, previous=first.page)
                recheck_total += 1
                recheck_same += again.page == first.page
                recheck_reused += again.reused
                if kind not in IN_ARTICLE_KINDS:
                    continue
                beside = noise_beside_edit(raw, kind, seed, base.body)
                if beside is not None:
                    beside_total += 1
                    page = extract(beside[0], url).page
                    beside_seen += page != base and any(beside[1] in p for p in page.body)
                if base.headline and seed == 1:
                    noisy_heads_total += 1
                    changed = extract(change_headline(noisy, base.headline), url).page
                    noisy_heads_seen += changed.headline != base.headline
        learnt_total += 1
        learnt_same += _learnt_stable(raw, url)
        edit = one_word_edit(base_raw, base)
        if edit is not None:
            edits_total += 1
            edits_seen += extract(edit, url).page != base
        if base.headline:
            heads_total += 1
            changed_raw = change_headline(base_raw, base.headline)
            heads_seen += extract(changed_raw, url).page.headline != base.headline
            visible = change_visible_headline(base_raw, base.headline)
            if visible is not None:  # the metadata left as it was: only the reader's headline
                visible_total += 1
                again = extract(visible, url, memory=first.memory, previous=first.page).page
                visible_seen += again.headline != base.headline
        social = change_og_title(base_raw)
        if social is not None:  # a new social/SEO title, the page itself unchanged
            titles_total += 1
            again = extract(social, url, memory=first.memory, previous=first.page).page
            titles_seen += (again.title, again.headline) != (base.title, base.headline)

    def share(kinds: tuple[str, ...]) -> str:
        same, total = sum(per_kind[k] for k in kinds), sum(runs[k] for k in kinds)
        return f"{same}/{total} ({same / max(total, 1):.1%})"

    return {
        "furniture_stable": share(PAGE_KINDS),
        "per_kind": {k: f"{per_kind[k]}/{runs[k]}" for k in PAGE_KINDS},
        "in_article_stable": share(IN_ARTICLE_KINDS),
        "in_article_per_kind": {k: f"{per_kind[k]}/{runs[k]}" for k in IN_ARTICLE_KINDS},
        "edit_beside_in_article_noise_seen": f"{beside_seen}/{beside_total}",
        "headline_change_with_in_article_noise_seen": f"{noisy_heads_seen}/{noisy_heads_total}",
        "with_memory_same_page": f"{recheck_same}/{recheck_total}",
        "with_memory_reused": f"{recheck_reused}/{recheck_total}",
        "inline_promo_after_learning": f"{learnt_same}/{learnt_total}",
        "one_word_edit_detected": f"{edits_seen}/{edits_total}",
        "headline_change_detected": f"{heads_seen}/{heads_total}",
        "visible_headline_only_change_detected": f"{visible_seen}/{visible_total}",
        "og_title_only_change_detected": f"{titles_seen}/{titles_total}",
    }


def change_headline(raw: bytes, headline: str) -> bytes:
    """One more word in the visible headline and in every declared copy of it."""
    from html import escape

    root = html.document_fromstring(raw, parser=html.HTMLParser(encoding="utf-8"))
    wanted = " ".join(headline.split())
    for el in root.iter("h1", "h2"):
        if " ".join(el.text_content().split()) == wanted:
            last = el
            while len(last):
                last = last[-1]
            last.text = (last.text or "") + " now"
    raw = etree.tostring(root, encoding="utf-8", method="html")
    for form in {headline, escape(headline, quote=False), escape(headline)}:
        raw = raw.replace(form.encode(), (form + " now").encode())
    return raw


def change_visible_headline(raw: bytes, headline: str) -> bytes | None:
    """One more word in the visible headline only: og:title, <title> and JSON-LD keep the old
    one (a site that edits its display headline and not its SEO title). None: no heading
    shows the headline."""
    root = html.document_fromstring(raw, parser=html.HTMLParser(encoding="utf-8"))
    wanted, found = " ".join(headline.split()), False
    for el in root.iter("h1", "h2"):
        if " ".join(el.text_content().split()) == wanted:
            last = el
            while len(last):
                last = last[-1]
            last.text, found = (last.text or "") + " exclusive", True
    return etree.tostring(root, encoding="utf-8", method="html") if found else None


def change_og_title(raw: bytes) -> bytes | None:
    """A new og:title only (an SEO or social rewrite); None when the page declares none."""
    root = html.document_fromstring(raw, parser=html.HTMLParser(encoding="utf-8"))
    found = False
    for meta in root.iter("meta"):
        if "og:title" in (meta.get("property"), meta.get("name")):
            meta.set("content", "Breaking: " + (meta.get("content") or ""))
            found = True
    return etree.tostring(root, encoding="utf-8", method="html") if found else None


def one_word_edit(base_raw: bytes, base) -> bytes | None:
    """Change one word of the middle body paragraph, in the HTML."""
    if not base.body:
        return None
    middle = len(base.body) // 2
    order = base.body[middle:] + base.body[:middle]
    for paragraph in [p for p in order if base.body.count(p) == 1 and len(p.split()) >= 8]:
        words = [w for w in paragraph.split() if w.isalpha() and len(w) >= 4]
        for word in words[len(words) // 2 :] + words[: len(words) // 2]:
            edited = edit_one_word(base_raw, word, word[::-1] + "x", within=paragraph[:60])
            if edited is not None:
                return edited
    return None


def _learnt_stable(raw: bytes, url: str) -> bool:
    """Three loads with a rotating unmarked promo, then a fourth: is it stable after learning?"""
    from redline.crawler.extract import extract

    result = None
    pages = []
    for seed in range(1, 5):
        noisy = apply_noise(raw, "inline_promo", seed)
        result = extract(
            noisy,
            url,
            memory=result.memory if result else None,
            previous=result.page if result else None,
        )
        pages.append(result.page)
    return pages[-1] == pages[-2]


def median(values: list[float]) -> float:
    return statistics.median(values)
