"""Batched recording: concurrent checks share transactions, and one bad result costs nothing
to the others."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from scheduler.recorder import BatchRecorder
from storage import FetchResult, NotFound, Outcome, Page
from tests.conftest import NOW


def result(article_id: int, fetch_id: str, headline: str = "Budget") -> FetchResult:
    return FetchResult(
        fetch_id,
        article_id,
        NOW,
        NOW + timedelta(minutes=5),
        page=Page(headline=headline, body=("Text.",)),
    )


def test_concurrent_results_are_all_recorded_in_batches(store):
    ids = [store.add_article(f"https://news.example/{i}", NOW)[0].id for i in range(50)]
    calls = []
    original = store.record_many

    def counting(results, compare=None):
        calls.append(len(results))
        return original(results, compare)

    store.record_many = counting
    recorder = BatchRecorder(store, lambda old, new: (), max_batch=16)

    async def run():
        return await asyncio.gather(*(recorder.record(result(i, f"f{i}")) for i in ids))

    recorded = asyncio.run(run())
    assert [r.outcome for r in recorded] == [Outcome.NEW] * 50
    assert sum(calls) == 50 and max(calls) <= 16 and len(calls) < 50
    assert all(store.get_article_by_id(i).revision_count == 1 for i in ids)


def test_one_bad_result_does_not_cost_the_others(store):
    good = [store.add_article(f"https://news.example/{i}", NOW)[0].id for i in range(3)]
    recorder = BatchRecorder(store, lambda old, new: ())

    async def run():
        return await asyncio.gather(
            *(recorder.record(result(i, f"g{i}")) for i in good),
            recorder.record(result(999_999, "missing")),
            return_exceptions=True,
        )

    *recorded, missing = asyncio.run(run())
    assert [r.revision for r in recorded] == [1, 1, 1]
    assert isinstance(missing, NotFound)
    with pytest.raises(NotFound):
        store.get_article_by_id(999_999)


def test_a_check_known_to_have_the_same_text_is_unchanged_without_a_page(store):
    """The crawler's fast re-check sends no Page when the article's own text did not change:
    the check is recorded as unchanged and the history is untouched."""
    article_id = store.add_article("https://news.example/same", NOW)[0].id
    store.record(result(article_id, "first"))
    same = FetchResult(
        "second", article_id, NOW + timedelta(minutes=5), NOW + timedelta(minutes=10),
        raw_hash="other-bytes", same_content=True,
    )  # fmt: skip
    assert store.record(same).outcome is Outcome.UNCHANGED
    article = store.get_article_by_id(article_id)
    assert article.revision_count == 1
    assert [r.number for r in store.history(article_id)] == [1]
