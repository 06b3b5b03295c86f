"""The checker's fast re-check (crawler.analysis) agrees with extraction's own: an unchanged
article is recognised without its previous Page, an edit never is."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from redline.crawler.analysis import POOL_NICENESS, analyse, pool_worker_started, region_unchanged
from redline.crawler.extract import extract

URL = "https://kyivindependent.com/north-korean-troops-suffer-over-1-000-losses/"
HTML = (
    Path(__file__).parent / "fixtures" / "extract" / "kyivindependent_article.html"
).read_bytes()
NOISE = HTML.replace(b"8f14e45fceea167a5a36dedd4bea2543", b"0" * 32).replace(
    b"Zelensky arrives in South Africa", b"Zelensky lands in Pretoria"
)
EDITS = [
    HTML.replace(b"hopeless assaults", b"futile assaults"),
    HTML.replace(b"2024-12-28T05:41:12.000Z", b"2024-12-29T09:00:00.000Z"),
]


@pytest.mark.parametrize("body", [HTML, NOISE, *EDITS])
def test_the_fast_recheck_decides_as_extraction_does(body: bytes) -> None:
    first = extract(HTML, URL)
    again = extract(body, URL, memory=first.memory, previous=first.page)
    assert region_unchanged(body, None, first.memory) is again.reused


def test_an_unchanged_article_needs_no_previous_page_and_an_edit_asks_for_it() -> None:
    first = extract(HTML, URL)
    work = dict(encoding=None, profile=None, memory=first.memory.to_json(), previous=None)
    quick = analyse(NOISE, URL, latest_hash="h1", previous_pending=True, **work)
    assert quick.page is None and quick.reused and quick.content_hash == "h1"
    edited = analyse(EDITS[0], URL, latest_hash="h1", previous_pending=True, **work)
    assert edited.needs_previous
    full = analyse(EDITS[0], URL, latest_hash="h1", **{**work, "previous": first.page})
    assert full.page is not None and "futile assaults" in full.page.text and full.changes


def test_site_memory_is_read_once_and_saved_only_when_it_changed(store):
    """What extraction learns about a site is kept in the checking process, and written back
    when it changed (debounced, and at shutdown), not around every check."""
    import asyncio

    from redline.crawler.extract import SiteMemory
    from redline.scheduler.sitememory import SiteMemories

    store.save_site_memory("news.example", SiteMemory(furniture=("div.card",)).to_json())
    saved: list[str] = []
    original = store.save_site_memory
    store.save_site_memory = lambda site, text: (saved.append(site), original(site, text))

    async def run() -> None:
        memories = SiteMemories(store, save_every=3600)
        first, second = await asyncio.gather(
            memories.get("news.example"), memories.get("news.example")
        )
        assert first is second and first.furniture == ("div.card",)
        await memories.close()
        assert saved == []  # nothing changed: nothing written
        memories.learnt("news.example", SiteMemory(furniture=("div.card", "li.more")))
        assert saved == []  # not yet: saved later, or at shutdown
        await memories.close()

    asyncio.run(run())
    assert saved == ["news.example"]
    assert SiteMemory.from_json(store.site_memory("news.example")).furniture == (
        "div.card",
        "li.more",
    )


def test_extraction_workers_yield_the_cpu_to_the_checking_process() -> None:
    """The daemon's pool workers run at a lower priority than the process that fetches, so a
    burst of full extractions cannot slow every other check down."""
    context = multiprocessing.get_context("forkserver")
    cpus = frozenset(sorted(os.sched_getaffinity(0))[:1])
    with ProcessPoolExecutor(
        1, mp_context=context, initializer=pool_worker_started, initargs=(cpus,)
    ) as pool:
        niceness = pool.submit(os.nice, 0).result(timeout=60)
        placed = pool.submit(os.sched_getaffinity, 0).result(timeout=60)
    assert niceness == min(os.nice(0) + POOL_NICENESS, 19)
    assert placed == cpus


def test_the_checking_process_keeps_one_cpu_and_gives_the_others_to_the_pool() -> None:
    """Run in a child process: placing the test process itself would slow the whole suite."""
    allowed = sorted(os.sched_getaffinity(0))
    code = (
        "import json, os; from scheduler.daemon import place_on_cpus; "
        "pool = place_on_cpus(); "
        "print(json.dumps([sorted(os.sched_getaffinity(0)), sorted(pool or [])]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    own, pool = json.loads(done.stdout)
    if len(allowed) < 2:  # nothing to split: left as it was
        assert own == allowed and pool == []
    else:
        assert own == allowed[-1:] and pool == allowed[:-1]
    alone = subprocess.run(  # one CPU allowed: nothing changes
        ["taskset", "-c", str(allowed[0]), sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(alone.stdout) == [[allowed[0]], []]
