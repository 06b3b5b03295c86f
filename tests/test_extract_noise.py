"""The noise property on 91 real pages: furniture never changes the Page; edits always do.

For every corpus page and every noise kind of bench/noise.py around the article (a rotated
trending list, relative times, tokens, cache-busting, ad slots, counters, a cookie banner,
reordered widgets, a relative time under the headline), the Page's content hash is the one of
the page without noise. The same holds for the furniture that sites put between the article's own
paragraphs, with new text at every load and bland class names as often as telling ones ("Read
more" links, ad labels and sponsors' links, newsletter boxes, share and comment counts, "Updated
5 minutes ago"). A one-word body edit, the same edit in the paragraph right next to furniture
inside the article, and a changed headline always change the Page.
"""

from __future__ import annotations

import pytest

from bench.noise import (
    IN_ARTICLE_KINDS,
    PAGE_KINDS,
    apply_noise,
    change_headline,
    change_og_title,
    change_visible_headline,
    noise_beside_edit,
    one_word_edit,
)
from redline.crawler.extract import extract, extract_page
from redline.storage.codec import content_hash
from redline.storage.model import PageKind
from tests.test_extract_corpus import CORPUS, corpus, corpus_ids

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no corpus at {CORPUS}")
SEEDS = (1, 2)  # two loads: each draws its own markup, text and place


@pytest.mark.parametrize("key", corpus_ids(), ids=lambda k: k[:10])
def test_furniture_never_changes_the_page_and_edits_always_do(key: str) -> None:
    url, raw, _ = corpus()[key]
    base_raw = apply_noise(raw, "none")
    base = extract_page(base_raw, url)
    base_hash = content_hash(base)
    for kind in PAGE_KINDS:
        noisy = extract_page(apply_noise(raw, kind, seed=1), url)
        assert content_hash(noisy) == base_hash, kind
    edited = one_word_edit(base_raw, base)
    if edited is not None:
        assert extract_page(edited, url).body != base.body
    if base.headline:
        assert extract_page(change_headline(base_raw, base.headline), url).headline != base.headline


@pytest.mark.parametrize("key", corpus_ids(), ids=lambda k: k[:10])
def test_furniture_inside_the_article_never_changes_the_page(key: str) -> None:
    url, raw, _ = corpus()[key]
    base = extract_page(apply_noise(raw, "none"), url)
    if base.kind == PageKind.NOT_ARTICLE:
        return
    base_hash = content_hash(base)
    for kind in IN_ARTICLE_KINDS:
        for seed in SEEDS:
            noisy_raw = apply_noise(raw, kind, seed)
            assert content_hash(extract_page(noisy_raw, url)) == base_hash, (kind, seed)
            beside = noise_beside_edit(raw, kind, seed, base.body)
            if beside is not None:
                edited, word = beside
                assert any(word in p for p in extract_page(edited, url).body), (kind, seed)
        if base.headline:
            changed = change_headline(noisy_raw, base.headline)
            assert extract_page(changed, url).headline != base.headline, kind


@pytest.mark.parametrize("key", corpus_ids(), ids=lambda k: k[:10])
def test_the_display_headline_and_the_title_are_each_seen_alone(key: str) -> None:
    """An edit of the visible headline alone (the metadata still says the old one), and of
    og:title alone (the page unchanged), are each seen at the next check, through the fast
    re-check with what the first check learnt, and each is a change of its own field."""
    url, raw, _ = corpus()[key]
    base_raw = apply_noise(raw, "none")
    first = extract(base_raw, url)
    base = first.page
    if base.kind == PageKind.NOT_ARTICLE:
        return
    visible = change_visible_headline(base_raw, base.headline) if base.headline else None
    if visible is not None:
        again = extract(visible, url, memory=first.memory, previous=base).page
        assert again.headline == base.headline + " exclusive"
        # Nothing of the body is lost (trafilatura may take in a dateline under a headline it
        # no longer recognises as the page's title: one corpus page).
        assert set(base.body) <= set(again.body)
    social = change_og_title(base_raw)
    if social is not None:
        again = extract(social, url, memory=first.memory, previous=base).page
        assert (again.headline, again.body) == (base.headline, base.body)
        assert again.title.startswith("Breaking:")
