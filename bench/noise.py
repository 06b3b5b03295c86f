# ruff: noqa: E501 -- HTML snippets of page furniture read better on one line
"""A noise generator: changes only page furniture, the way real sites do between two loads.

    apply_noise(html_bytes, kind, seed) -> html_bytes

Each kind rewrites one sort of furniture with content drawn from `seed`, so two seeds give two
"loads" of the same article. "none" only re-serialises (every kind goes through the same lxml
round trip, so differences come from the noise, not the serialiser). In-article kinds insert into
the element holding the most paragraphs; page kinds go around it.
"""

from __future__ import annotations

import random
import statistics
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
)
IN_ARTICLE_KINDS = ("read_more", "inline_ad", "inline_newsletter", "share_counters", "header_time")
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


def _paragraphs(container: etree._Element) -> list[etree._Element]:
    return [c for c in container if c.tag == "p"]


def _insert_in_article(root: etree._Element, markup: str, rng: random.Random) -> None:
    container = _container(root)
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


def _read_more(root, rng):
    _insert_in_article(
        root,
        f'<p><strong>Read more:</strong> <a href="/news/{rng.randrange(10**6)}">{_headline(rng)}</a></p>',
        rng,
    )


def _inline_ad(root, rng):
    _insert_in_article(
        root,
        f'<div class="inline-ad"><span>Advertisement</span><div id="ad-{rng.randrange(10**6)}"></div></div>',
        rng,
    )


def _inline_newsletter(root, rng):
    topic = rng.choice(["morning", "evening", "weekend", "politics"])
    _insert_in_article(
        root,
        f'<div class="newsletter-box"><h4>Get our {topic} briefing</h4><p>Sign up for our free {topic} newsletter.</p><form><input type="email"><button>Sign up</button></form></div>',
        rng,
    )


def _share_counters(root, rng):
    container = _container(root)
    container.insert(
        0,
        _frag(
            f'<div class="share-bar"><a href="#fb">Share</a><span class="count">{rng.randrange(10, 9999)} shares</span>'
            f'<span class="comment-count">{rng.randrange(0, 500)} comments</span></div>'
        ),
    )


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
    "read_more": _read_more,
    "inline_ad": _inline_ad,
    "inline_newsletter": _inline_newsletter,
    "share_counters": _share_counters,
    "header_time": _header_time,
    "inline_promo": _inline_promo,
}


def apply_noise(raw: bytes, kind: str, seed: int = 0) -> bytes:
    """The page with one kind of furniture changed; `seed` picks the content."""
    root = html.document_fromstring(raw, parser=html.HTMLParser(encoding="utf-8"))
    _APPLY[kind](root, random.Random(f"{kind}:{seed}"))
    return etree.tostring(root, encoding="utf-8", method="html")


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
        for el in block.iter():
            for attr in ("text", "tail"):
                if el is block and attr == "tail":
                    continue
                value = getattr(el, attr)
                if isinstance(value, str) and f" {word} " in f" {value} ":
                    padded = f" {value} ".replace(f" {word} ", f" {replacement} ", 1)
                    setattr(el, attr, padded[1:-1])
                    return etree.tostring(root, encoding="utf-8", method="html")
    return None


def stability(pages: list[tuple[str, str, bytes, str]]) -> dict[str, str]:
    """Share of (page, kind) pairs whose Page is identical to the un-noised one; and the converse."""
    from crawler.extract import extract
    from storage.codec import content_hash

    same = total = 0
    per_kind: dict[str, int] = dict.fromkeys(NOISE_KINDS, 0)
    learnt_same = learnt_total = recheck_same = recheck_reused = 0
    edits_seen = edits_total = heads_seen = heads_total = 0
    for _, url, raw, _ in pages:
        base_raw = apply_noise(raw, "none")
        base = extract(base_raw, url).page
        if base.kind == "not_article":
            continue  # nothing to keep stable; counted in the quality score instead
        base_hash = content_hash(base)
        first = extract(base_raw, url)
        for kind in NOISE_KINDS:
            for seed in (1, 2):
                noisy = apply_noise(raw, kind, seed)
                total += 1
                ok = content_hash(extract(noisy, url).page) == base_hash
                same += ok
                per_kind[kind] += ok
                again = extract(noisy, url, memory=first.memory, previous=first.page)
                recheck_same += again.page == first.page
                recheck_reused += again.reused
        learnt_total += 1
        learnt_same += _learnt_stable(raw, url)
        edit = one_word_edit(base_raw, base)
        if edit is not None:
            edits_total += 1
            edits_seen += extract(edit, url).page != base
        if base.headline:
            heads_total += 1
            changed = change_headline(base_raw, base.headline)
            heads_seen += extract(changed, url).page.headline != base.headline
    return {
        "furniture_stable": f"{same}/{total} ({same / total:.1%})",
        "per_kind": {k: f"{v}/{2 * len(pages)}" for k, v in per_kind.items()},
        "with_memory_same_page": f"{recheck_same}/{total}",
        "with_memory_reused": f"{recheck_reused}/{total}",
        "inline_promo_after_learning": f"{learnt_same}/{learnt_total}",
        "one_word_edit_detected": f"{edits_seen}/{edits_total}",
        "headline_change_detected": f"{heads_seen}/{heads_total}",
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
    from crawler.extract import extract

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
