"""Batched recording: concurrent checks share transactions, and one bad result costs nothing
to the others."""

from __future__ import annotations

import asyncio

import pytest

from redline.scheduler.recorder import BatchRecorder
from redline.storage import CheckRecord, NotFound, Outcome, Page
from tests.conftest import NOW
from tests.records import revision


def result(article_id: int, fetch_id: str, headline: str = "Budget") -> CheckRecord:
    return revision(article_id, fetch_id, Page(headline=headline, body=("Text.",)))


def test_concurrent_results_are_all_recorded_in_batches(store):
    ids = [store.add_article(f"https://news.example/{i}", NOW)[0].id for i in range(50)]
    calls = []
    original = store.record_many

    def counting(results):
        calls.append(len(results))
        return original(results)

    store.record_many = counting
    recorder = BatchRecorder(store, max_batch=16)

    async def run():
        return await asyncio.gather(*(recorder.record(result(i, f"f{i}")) for i in ids))

    recorded = asyncio.run(run())
    assert [r.outcome for r in recorded] == [Outcome.NEW] * 50
    assert sum(calls) == 50 and max(calls) <= 16 and len(calls) < 50
    assert all(store.get_article_by_id(i).revision_count == 1 for i in ids)


def test_one_bad_result_does_not_cost_the_others(store):
    good = [store.add_article(f"https://news.example/{i}", NOW)[0].id for i in range(3)]
    recorder = BatchRecorder(store)

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
