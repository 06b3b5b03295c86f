"""91 real pages: a quality floor, and the noise property (furniture never changes the Page).

The corpus lives beside the checkout (../shared/corpus/extraction); without it these tests skip.
Floors, not recorded outputs: improving extraction must never mean re-recording expectations.
"""

from __future__ import annotations

import gzip
import json
import re
from functools import cache
from pathlib import Path

import pytest

from bench.noise import NOISE_KINDS, apply_noise, change_headline, one_word_edit
from crawler.extract import extract_page
from storage.codec import content_hash
from storage.model import PageKind

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "extraction"
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no corpus at {CORPUS}")
_TOKEN = re.compile(r"\w+")


@cache
def corpus() -> dict[str, tuple[str, bytes, str]]:
    truth = json.loads((CORPUS / "ground-truth.json").read_text("utf-8"))
    return {
        key: (
            value["url"],
            gzip.decompress((CORPUS / "html" / f"{key}.html.gz").read_bytes()),
            value["articleBody"],
        )
        for key, value in sorted(truth.items())
    }


def _ids() -> list[str]:
    if not CORPUS.is_dir():
        return []
    return sorted(json.loads((CORPUS / "ground-truth.json").read_text("utf-8")))


def _shingles(text: str) -> dict[tuple[str, ...], int]:
    tokens = _TOKEN.findall(text)
    counts: dict[tuple[str, ...], int] = {}
    for i in range(max(len(tokens) - 3, 1)):
        gram = tuple(tokens[i : i + 4])
        counts[gram] = counts.get(gram, 0) + 1
    return counts


def _precision_recall(predicted: str, truth: str) -> tuple[float, float]:
    pred, true = _shingles(predicted), _shingles(truth)
    tp = sum(min(n, true.get(g, 0)) for g, n in pred.items())
    fp = sum(pred.values()) - tp
    fn = sum(true.values()) - tp
    return (tp / (tp + fp) if tp + fp else 0.0), (tp / (tp + fn) if tp + fn else 0.0)


def test_body_quality_floor_on_the_whole_corpus() -> None:
    scores, kinds = [], []
    for url, raw, truth in corpus().values():
        page = extract_page(raw, url)
        kinds.append(page.kind)
        scores.append(_precision_recall(page.text, truth))
    precision = sum(p for p, _ in scores) / len(scores)
    recall = sum(r for _, r in scores) / len(scores)
    f1 = 2 * precision * recall / (precision + recall)
    assert f1 >= 0.95, f"F1 {f1:.4f} (P {precision:.4f}, R {recall:.4f})"
    assert kinds.count(PageKind.ARTICLE) == len(kinds)


@pytest.mark.parametrize("key", _ids(), ids=lambda k: k[:10])
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
