"""Recording checks in batches: results that finish close together share one transaction.

A re-check that answers 304 costs little to fetch, and then one write transaction (and one
thread hop) to record. Here results wait a few milliseconds for others to join them and are
written by `Store.record_many` together; each is still keyed by its own fetch id, so a retried
batch is as harmless as a retried single record. If a batch fails, its results are recorded
one by one, so one bad result never costs the others; but when the database's disk is full,
nothing can be written, and the whole batch fails at once with that error.
"""

from __future__ import annotations

import asyncio

from redline.storage import CheckRecord, RecordResult, Store
from redline.storage.errors import DiskFull


class BatchRecorder:
    def __init__(self, store: Store, *, max_batch: int = 64, linger: float = 0.005) -> None:
        self.store = store
        self.max_batch = max_batch
        self.linger = linger
        self._pending: list[tuple[CheckRecord, asyncio.Future[RecordResult]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, result: CheckRecord) -> RecordResult:
        done: asyncio.Future[RecordResult] = asyncio.get_running_loop().create_future()
        self._pending.append((result, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write())
        return await done

    async def _write(self) -> None:
        while self._pending:
            if len(self._pending) < self.max_batch:
                await asyncio.sleep(self.linger)  # let checks finishing now join this batch
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            try:
                results = await asyncio.to_thread(self.store.record_many, [r for r, _ in batch])
            except DiskFull as exc:  # one by one would fail the same way, each in turn
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            except Exception:
                await self._one_by_one(batch)
                continue
            for (_, done), recorded in zip(batch, results, strict=True):
                if not done.done():
                    done.set_result(recorded)

    async def _one_by_one(
        self, batch: list[tuple[CheckRecord, asyncio.Future[RecordResult]]]
    ) -> None:
        for result, done in batch:
            try:
                recorded = await asyncio.to_thread(self.store.record, result)
            except Exception as exc:
                if not done.done():
                    done.set_exception(exc)
            else:
                if not done.done():
                    done.set_result(recorded)
