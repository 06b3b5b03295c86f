"""Crash safety: a writer SIGKILLed at random points, 20 times, loses nothing it confirmed.

The child (tests/storage_worker.py `crash`) records revisions in a loop and prints an ACK line
only after `record()` returned. Each restart repeats the fetch that was in flight when the last
child died, so a commit that happened but was never acknowledged must come back as a duplicate,
not as a second revision.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest

from redline.storage import open_store
from tests.conftest import NOW, REPO

KILLS = 20


@dataclass(frozen=True)
class Ack:
    article_id: int
    number: int
    fetch_id: str
    duplicate: bool

    @property
    def seq(self) -> int:
        return int(self.fetch_id.removeprefix("crash-"))


def run_until_killed(db_url: str, articles: str, first_seq: int, delay: float) -> list[Ack]:
    """Start a writer, let it run `delay` seconds after it is ready, SIGKILL it; return its ACKs."""
    with subprocess.Popen(
        [sys.executable, "-m", "tests.storage_worker", "crash", db_url, articles, str(first_seq)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            ready = child.stdout.readline()
            assert ready == "READY\n", f"writer did not start: {ready!r} {child.stderr.read()}"
            time.sleep(delay)
        finally:
            child.send_signal(signal.SIGKILL)
            # Read through the same buffered file as readline() did: it may hold ACKs already.
            out, err = child.stdout.read(), child.stderr.read()
    assert child.returncode == -signal.SIGKILL, f"writer died on its own:\n{err}"
    acks = []
    for line in out.splitlines(keepends=True):
        fields = line.split()
        if line.endswith("\n") and fields[0] == "ACK":  # a torn last line is not an ACK
            acks.append(Ack(int(fields[1]), int(fields[2]), fields[3], fields[4] == "1"))
    return acks


@pytest.mark.slow
def test_sigkilled_writer_loses_and_duplicates_nothing(db_url: str) -> None:
    rng = random.Random(20261127)
    with open_store(db_url) as store:
        ids = [store.add_article(f"https://news.example/crash/{i}", NOW)[0].id for i in range(2)]
    articles = ",".join(map(str, ids))
    acked: dict[str, Ack] = {}
    next_seq = 0
    for _ in range(KILLS):
        for ack in run_until_killed(db_url, articles, next_seq, rng.uniform(0.0, 0.4)):
            assert acked.setdefault(ack.fetch_id, ack).number == ack.number, "ACK changed its mind"
            next_seq = max(next_seq, ack.seq + 1)
    assert len(acked) > KILLS, "the writer hardly ran: the test proves little"

    with open_store(db_url, create=False) as store:
        if store.BACKEND == "sqlite":
            assert store.pragma("integrity_check") == "ok"
        stored: dict[str, tuple[int, int]] = {}
        for article_id in ids:
            history = store.history(article_id)
            assert [h.number for h in history] == list(range(1, len(history) + 1))
            assert store.get_article_by_id(article_id).revision_count == len(history)
            revisions = [store.revision(article_id, h.number) for h in history]
            seqs = [int(r.fetch_id.removeprefix("crash-")) for r in revisions]
            assert seqs == sorted(seqs), "revisions out of commit order"
            for revision in revisions:
                assert revision.fetch_id not in stored, "a fetch was stored twice"
                stored[revision.fetch_id] = (article_id, revision.number)
        alerts = store.alerts()

    for ack in acked.values():
        assert stored.get(ack.fetch_id) == (ack.article_id, ack.number), f"lost {ack}"
    stored_seqs = sorted(int(f.removeprefix("crash-")) for f in stored)
    assert stored_seqs == list(range(len(stored_seqs))), "a sequence number was skipped"
    assert len(stored) - len(acked) <= 1, "only the last in-flight fetch may be unacknowledged"
    assert len({a.idempotency_key for a in alerts}) == len(alerts) == len(stored)
