"""91 real pages: a floor on body extraction quality, scored as the corpus README says.

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

from redline.crawler.extract import extract_page
from redline.storage.model import PageKind

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


def corpus_ids() -> list[str]:
    if not CORPUS.is_dir():
        return []
    return sorted(json.loads((CORPUS / "ground-truth.json").read_text("utf-8")))


def _shingles(text: str) -> dict[tuple[str, ...], int]:
    tokens = _TOKEN.findall(text)
    counts: dict[tuple[str, ...], int] = {}
    for i in range(max(len(tokens) - 3, 1)):
        gram = tuple(tokens[i : i + 4])
        if gram:
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
