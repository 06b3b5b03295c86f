"""The noise property on 91 real pages: furniture never changes the Page; edits always do.

For every corpus page and every noise kind of bench/noise.py (a rotated trending list, relative
times, tokens, cache-busting, ad slots, counters, a cookie banner, reordered widgets, and the
furniture inside the article: "Read more:" links, ad and newsletter slots, share counters, a
relative time under the headline), the Page's content hash is the one of the page without noise.
A one-word body edit and a changed headline always change the Page.
"""

from __future__ import annotations

import pytest

from bench.noise import NOISE_KINDS, apply_noise, change_headline, one_word_edit
from crawler.extract import extract_page
from storage.codec import content_hash
from tests.test_extract_corpus import CORPUS, corpus, corpus_ids

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no corpus at {CORPUS}")


@pytest.mark.parametrize("key", corpus_ids(), ids=lambda k: k[:10])
def test_furniture_never_changes_the_page_and_edits_always_do(key: str) -> None:
    url, raw, _ = corpus()[key]
    base_raw = apply_noise(raw, "none")
    base = extract_page(base_raw, url)
    base_hash = content_hash(base)
    for kind in NOISE_KINDS:
        noisy = extract_page(apply_noise(raw, kind, seed=1), url)
        assert content_hash(noisy) == base_hash, kind
    edited = one_word_edit(base_raw, base)
    if edited is not None:
        assert extract_page(edited, url).body != base.body
    if base.headline:
        assert extract_page(change_headline(base_raw, base.headline), url).headline != base.headline
