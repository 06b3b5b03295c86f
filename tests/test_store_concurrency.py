"""Several OS processes write to one store at once, as several `redline run` workers would.

Each child (tests/storage_worker.py) opens its own store from the database URL. The parent then
reads the store back and checks the promises of the write protocol: revisions numbered 1..M with
no gap and no duplicate, every fetch recorded once, changes recomputed against the revision that
really came before, and a lease handed to one owner at a time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import timedelta

import pytest

from redline.storage import open_store
from redline.storage.model import Outcome
from tests.conftest import NOW, REPO


def run_workers(commands: list[list[str]]) -> list[str]:
    """Run `storage_worker` children, let them race once every one is connected (each says
    READY, then all get GO at once); return their stdout lines (all must succeed)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.storage_worker", *command],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    for child in children:
        assert child.stdout is not None and child.stdout.readline() == "READY\n", child.stderr
    for child in children:
        assert child.stdin is not None
        child.stdin.write("GO\n")
        child.stdin.flush()
    outputs = [child.communicate(timeout=120) for child in children]
    failures = [err for child, (_, err) in zip(children, outputs, strict=True) if child.returncode]
    assert not failures, "worker failed:\n" + "\n".join(failures)
    return [line for out, _ in outputs for line in out.splitlines()]


@pytest.mark.parametrize("processes", [2, 4])
def test_racing_writers_append_gapless_revisions(db_url: str, processes: int) -> None:
    per_process = 15
    with open_store(db_url) as store:
        article, _ = store.add_article("https://news.example/race", NOW)
    lines = run_workers(
        [
            ["record", db_url, str(article.id), f"w{k}", str(per_process), "3"]
            for k in range(processes)
        ]
    )
    records = [line.split() for line in lines if line.startswith("REC")]
    assert len(records) == processes * per_process
    assert all(dup == "0" for *_, dup in records), "a fresh fetch_id was called a duplicate"
    fetch_ids = [r[1] for r in records]
    assert len(set(fetch_ids)) == len(fetch_ids)
    appended = {int(r[3]): r[1] for r in records if r[2] in (Outcome.NEW, Outcome.CHANGED)}
    unchanged = [r for r in records if r[2] == Outcome.UNCHANGED]
    assert len(appended) + len(unchanged) == len(records), "a number was handed out twice"

    with open_store(db_url) as store:
        history = store.history(article.id)
        numbers = [h.number for h in history]
        assert numbers == list(range(1, len(history) + 1))
        assert sorted(appended) == numbers
        revisions = [store.revision(article.id, n) for n in numbers]
        assert store.get_article_by_id(article.id).revision_count == len(history)
    for previous, revision in zip([None, *revisions], revisions, strict=False):
        assert revision.fetch_id == appended[revision.number]
        (change,) = revision.changes
        assert change.new == revision.page.text
        if previous is None:
            assert change.old is None
        else:  # each revision differs from the one before, and its change was diffed against it
            assert revision.content_hash != previous.content_hash
            assert change.old == previous.page.text


def test_repeated_fetch_id_from_two_processes_is_recorded_once(db_url: str) -> None:
    """Two workers retrying the same fetch: one revision; the other call is a duplicate."""
    with open_store(db_url) as store:
        article, _ = store.add_article("https://news.example/retry", NOW)
    # Both children use the tag "same": identical fetch ids, identical pages, in the same order.
    lines = run_workers([["record", db_url, str(article.id), "same", "10", "3"]] * 2)
    records = [line.split() for line in lines if line.startswith("REC")]
    by_fetch = Counter(r[1] for r in records)
    assert set(by_fetch.values()) == {2}
    assert sum(r[4] == "1" for r in records) == 10, "each fetch must be a duplicate exactly once"
    with open_store(db_url) as store:
        history = store.history(article.id)
    assert [h.number for h in history] == list(range(1, len(history) + 1))


def _claims(lines: list[str]) -> list[tuple[str, int]]:
    return [(p[1], int(p[2])) for p in (line.split() for line in lines) if p[0] == "CLAIM"]


def test_claims_never_overlap_and_expired_leases_are_reclaimed(db_url: str) -> None:
    lease = 300
    with open_store(db_url) as store:
        ids = {store.add_article(f"https://news.example/a/{i}", NOW)[0].id for i in range(40)}

    def claim_all(owners: list[str], at: str) -> list[tuple[str, int]]:
        return _claims(
            run_workers([["claim", db_url, o, at, "3", str(lease), "10"] for o in owners])
        )

    first = claim_all(["p1", "p2", "p3", "p4"], NOW.isoformat())
    claimed = Counter(article for _, article in first)
    assert set(claimed) == ids
    assert max(claimed.values()) == 1, "an article was leased to two owners at once"

    still_leased = (NOW + timedelta(seconds=lease - 1)).isoformat()
    assert claim_all(["late"], still_leased) == []

    expired = (NOW + timedelta(seconds=lease + 1)).isoformat()
    second = claim_all(["q1", "q2"], expired)
    reclaimed = Counter(article for _, article in second)
    assert set(reclaimed) == ids
    assert max(reclaimed.values()) == 1
