"""Held-out scoring: every tuned constant chosen on four folds of sites, scored on the fifth.

A heuristic tuned on the 91 corpus pages says little about pages it was not tuned on. Here each
tunable constant of extraction gets a few candidate values; for every fold, the value that scores
best on the OTHER folds is chosen and the held-out fold is scored with it, beside the value that
ships. When the shipped value is also what the other folds choose, and the held-out figure does
not fall, the constant carries over; otherwise the report says where it does not.

    python bench/extraction.py --folds 5 --tune
"""

from __future__ import annotations

import hashlib
import importlib
import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from redline.crawler.urls import registrable_domain

Page = tuple[str, str, bytes, str]  # key, url, raw html, true body
Scorer = Callable[[str, bytes, str], tuple[float | None, float | None]]


@dataclass(frozen=True)
class Tunable:
    """A module constant of extraction and the values worth trying for it."""

    module: str
    name: str
    candidates: tuple[Any, ...]

    @property
    def label(self) -> str:
        return f"{self.module.rsplit('.', 1)[-1]}.{self.name}"


TUNABLES = (
    Tunable("redline.crawler.extract.furniture", "_CONTAINER", (3, 4, 5, 7, 9)),
    Tunable("redline.crawler.extract.furniture", "_CLUSTER_LINK_SHARE", (0.7, 0.8, 0.9, 0.95)),
    Tunable("redline.crawler.extract.body", "_COVER", (0.7, 0.8, 0.9, 0.95)),
    Tunable("redline.crawler.extract.body", "_MIN_DECLARED_WORDS", (25, 50, 100)),
    Tunable("redline.crawler.extract.inline_noise", "_LINK_SHARE", (0.6, 0.75, 0.9)),
    Tunable("redline.crawler.extract.inline_noise", "_MAX_CHARS", (400, 600, 900)),
    Tunable("redline.crawler.extract.inline_noise", "_MAX_PARAGRAPHS", (2, 4, 6)),
)


def fold_of(url: str, folds: int) -> int:
    """A site's fold, the same on every run and machine (a hash of its registrable domain)."""
    digest = hashlib.blake2b(registrable_domain(url).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") % folds


@contextmanager
def _set(tunable: Tunable, value: Any) -> Iterator[None]:
    module = importlib.import_module(tunable.module)
    shipped = getattr(module, tunable.name)
    setattr(module, tunable.name, value)
    try:
        yield
    finally:
        setattr(module, tunable.name, shipped)


def f1(scores: list[tuple[float | None, float | None]]) -> float:
    """F1 of the averaged per-page precision and recall (the corpus benchmark's figure)."""
    precisions = [p for p, _ in scores if p is not None]
    recalls = [r for _, r in scores if r is not None]
    precision = statistics.fmean(precisions) if precisions else 0.0
    recall = statistics.fmean(recalls) if recalls else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def held_out(pages: list[Page], folds: int, score_page: Scorer) -> list[dict[str, Any]]:
    """Per tunable: the shipped value, and per fold the value the other folds choose with the
    held-out fold's F1 under it and under the shipped value."""
    fold = [fold_of(url, folds) for _, url, _, _ in pages]
    report = []
    for tunable in TUNABLES:
        module = importlib.import_module(tunable.module)
        if not hasattr(module, tunable.name):
            continue  # renamed or gone: nothing to tune
        shipped = getattr(module, tunable.name)
        values = tuple(dict.fromkeys((*tunable.candidates, shipped)))
        per_value = {}
        for value in values:
            with _set(tunable, value):
                per_value[value] = [score_page(url, raw, truth) for _, url, raw, truth in pages]
        rows = []
        for k in range(folds):
            inside = [f == k for f in fold]

            def part(value: Any, held: bool, inside: list[bool] = inside) -> float:
                scores = per_value[value]  # noqa: B023 -- used before the next tunable
                return f1([s for s, i in zip(scores, inside, strict=True) if i == held])

            # Ties go to the shipped value: no change without a gain on the other folds.
            best = max(values, key=lambda v: (round(part(v, False), 4), v == shipped))
            rows.append({
                "fold": k,
                "chosen": best,
                "held_out_f1": round(part(best, True), 4),
                "shipped_f1": round(part(shipped, True), 4),
            })  # fmt: skip
        report.append({"tunable": tunable.label, "shipped": shipped, "folds": rows})
    return report


def verdict(row: dict[str, Any]) -> str:
    """One line: does the shipped value carry over to every held-out fold?

    The held-out figure is the one under the value chosen without the fold; where it is below
    the shipped value's figure, the shipped figure on that fold is optimistic (tuned on it).
    """
    optimistic = [r["fold"] for r in row["folds"] if r["held_out_f1"] < r["shipped_f1"]]
    gains = [r["fold"] for r in row["folds"] if r["held_out_f1"] > r["shipped_f1"]]
    if not optimistic and not gains:
        return "carries over: held-out figures equal the shipped value's on every fold"
    parts = []
    if optimistic:
        parts.append(f"shipped figure optimistic on fold(s) {optimistic}")
    if gains:
        parts.append(f"fold(s) {gains} would gain from the other folds' choice")
    return "; ".join(parts)
