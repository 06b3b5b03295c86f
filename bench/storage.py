"""Revision store: bytes on disk, write rate and lookup latency, on SQLite and PostgreSQL.

    python bench/storage.py                       # the edit model, both backends (docs/storage.md)
    python bench/storage.py --quick --backend sqlite
    python bench/storage.py --model synthetic --backend postgres --writers 2

Two content models:

`--model edits` (the default): `--articles` articles built on the extraction corpus's real pages
(/work/shared/corpus/extraction, MIT licence, read in place), each a chain of `--chain` revisions
(`--long` of them `--long-chain`) where every revision edits 1 to 3 sentences of the one before
and the page furniture (trending list, relative time, tokens, cache-busting URLs) changes on every
fetch. Changes come from the real differ. From `--writers` processes, each owning a slice of the
articles, it records every article's first revision, then the later ones a number at a time across
the articles (as the daemon's checks interleave), then `--checks` quiet checks (304 or unchanged)
per article spread over 60 days. Each phase's hashing, compression (the daemon's process pool's
work) and diffing are done untimed between timed chunks; `Store.record_many` takes batches of
`--batch`. It reports the write rate of each phase, bytes on disk per first revision, per revision
after the first and per quiet check (tables, their indexes and TOAST), the tables' sizes, p99 of
`history()` and of reading a revision (Page; raw HTML) at revision 1, 10 and 100, and, where the
store has one, the fetch log's rollup.

`--model synthetic`: the write benchmark of docs/storage-bench.md (4 December): bodies of 800 to
8,000 words of corpus vocabulary, raw HTML of 50 to 500 KB, a changed paragraph per revision,
`--revisions` over `--articles`, then `--tail` revisions end to end through `Store.record`.

The storage code measured is the one imported as `redline.storage` from this file's repository
(`sys.path[0]`): copy this file into another checkout to measure that checkout's code.
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import json
import multiprocessing as mp
import os
import pstats
import queue
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from redline.crawler.diff import compare  # noqa: E402
from redline.storage import (  # noqa: E402
    CheckRecord,
    Decision,
    NewRevision,
    NotModified,
    Unchanged,
    codec,
    open_store,
)
from redline.storage.model import (  # noqa: E402
    Change,
    ChangeClass,
    ChangeKind,
    EncodedPage,
    Page,
)
from tests.databases import PG_URL, scratch_schema  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "extraction"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
CHECKS_END = T0 + timedelta(days=90)  # the quiet checks span the 60 days before it


# --- content ----------------------------------------------------------------------------------
class ContentPool:
    """Pre-generated bodies and raw HTML pages; `revision()` varies them cheaply per revision."""

    def __init__(self, size: int, seed: int = 7) -> None:
        rng = random.Random(seed)
        truth = json.loads((CORPUS / "ground-truth.json").read_text())
        self.words = [w for t in truth.values() for w in t["articleBody"].split()]
        pages = [gzip.decompress(p.read_bytes()) for p in sorted((CORPUS / "html").glob("*.gz"))]
        self.bodies = [self._body(rng, rng.randint(800, 8000)) for _ in range(size)]
        self.html = [self._html(rng, rng.choice(pages), body) for body in self.bodies]

    def _sentence(self, rng: random.Random, n: int) -> str:
        start = rng.randrange(len(self.words) - n)  # runs of real text, not a bag of words
        return " ".join(self.words[start : start + n])

    def _body(self, rng: random.Random, words: int) -> tuple[str, ...]:
        paragraphs = []
        while words > 0:
            n = min(words, rng.randint(30, 120))
            paragraphs.append(self._sentence(rng, n))
            words -= n
        return tuple(paragraphs)

    def _html(self, rng: random.Random, page: bytes, body: tuple[str, ...]) -> bytes:
        target = rng.randint(50_000, 500_000)
        article = "".join(f"<p class='c{rng.randint(1, 9)}'>{p}</p>\n" for p in body).encode()
        html = page[: target // 2] + article
        while len(html) < target:  # more page furniture: links, scripts with tokens
            link = self._sentence(rng, rng.randint(3, 12))
            html += f"<li><a href='/n/{rng.getrandbits(48):x}'>{link}</a></li>\n".encode()
        return html[:target]

    def revision(self, article: int, number: int) -> tuple[Page, bytes]:
        i = (article * 31 + number) % len(self.bodies)
        body = self.bodies[i]
        edit = f"Update {number} for story {article}: {self.words[(article + number) % 9000]}"
        lead = self.words[article % 5000 : article % 5000 + 8]
        page = Page(
            headline=f"Story {article}: {' '.join(lead)}",
            byline=("Staff reporter",),
            published=T0,
            updated=T0 + timedelta(hours=number),
            body=(*body[:-1], edit, body[-1]),
            extractor="bench",
        )
        return page, self.html[i] + f"<!-- r{number} a{article} -->".encode()


def body_change(old: Page | None, new: Page) -> list[Change]:
    return [Change("body", ChangeKind.CHANGED, ChangeClass.MINOR, patch="@@ -1 +1 @@")]


# --- writing ----------------------------------------------------------------------------------
def fetch_result(
    pool: ContentPool, article: int, number: int, encoded: EncodedPage | None = None
) -> CheckRecord:
    """A decided check that writes revision `number` (the store hashes and compresses it
    unless `encoded` is given)."""
    page, raw = pool.revision(article, number)
    revision = NewRevision(
        page=page,
        content_hash=encoded.content_hash if encoded else codec.content_hash(page),
        base_revision=number - 1,
        changes=tuple(body_change(None, page)) if number > 1 else (),
        raw_html=raw,
        encoded=encoded,
    )
    return CheckRecord(
        f"b-{article}-{number}",
        article,
        T0 + timedelta(minutes=number),
        Decision(revision, next_check_at=T0),
        http_status=200,
    )


def pre_encoded(pool: ContentPool, article: int, number: int) -> CheckRecord:
    """What the daemon's process pool hands the writer: hash and compressed forms made."""
    page, raw = pool.revision(article, number)
    _, encoded = codec.encode_fetch(page, raw)
    return fetch_result(pool, article, number, encoded)


class Phase:
    """One timed phase shared by the writer processes: for each chunk, every writer prepares
    its share untimed, then all record it together while the parent times the wall clock."""

    def __init__(self, ctx: Any, writers: int) -> None:
        self.go, self.done = ctx.Barrier(writers + 1), ctx.Barrier(writers + 1)

    def time_chunks(self, chunks: int) -> tuple[float, float]:
        """Wall seconds, and CPU seconds of the local PostgreSQL server's processes."""
        wall = server = 0.0
        for _ in range(chunks):
            before = server_cpu()
            self.go.wait()
            start = time.perf_counter()
            self.done.wait()
            wall += time.perf_counter() - start
            after = server_cpu()
            server += sum(t - before.get(pid, 0.0) for pid, t in after.items())
        return wall, server


def server_cpu() -> dict[int, float]:
    """CPU seconds used so far by each `postgres` process on this host. Every client's work
    counts, other programs' too, and a process that exits in between is missed."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name, fields = stat.read_text().split(" (", 1)[1].rsplit(") ", 1)
        except (OSError, IndexError, ValueError):
            continue
        if name == "postgres":
            parts = fields.split()
            found[int(stat.parent.name)] = int(parts[11]) + int(parts[12])
    tick = os.sysconf("SC_CLK_TCK")
    return {pid: t / tick for pid, t in found.items()}


def writer(
    url: str,
    k: int,
    ids: list[int],
    args: argparse.Namespace,
    phases: tuple[Phase, Phase],
    out: mp.Queue,
) -> None:
    """Record this writer's share of both phases; report (count, CPU seconds) for each."""
    pool = ContentPool(args.pool)
    mine = ids[k :: args.writers]
    per_article = args.revisions // len(ids)
    store = open_store(url, create=False)
    profiler = cProfile.Profile() if args.profile and k == 0 else None
    # Phase 1, as the daemon writes: pre-encoded results, `record_many` batches.
    work = [(a, n) for n in range(1, per_article + 1) for a in mine]
    cpu = 0.0
    for chunk in range(chunk_count(args)):
        todo = work[chunk * args.chunk : (chunk + 1) * args.chunk]
        results = [pre_encoded(pool, a, n) for a, n in todo]
        phases[0].go.wait()
        cpu -= time.process_time()
        if profiler:
            profiler.enable()
        for i in range(0, len(results), args.batch):
            store.record_many(results[i : i + args.batch])
        if profiler:
            profiler.disable()
        cpu += time.process_time()
        phases[0].done.wait()
    out.put((k, 0, len(work), cpu))
    # Phase 2, end to end: `record` one at a time, hashing and compressing in the writer.
    tail = [(a, per_article + n) for n in range(1, args.tail + 1) for a in mine]
    phases[1].go.wait()
    cpu = -time.process_time()
    for a, n in tail:
        store.record(fetch_result(pool, a, n))
    cpu += time.process_time()
    phases[1].done.wait()
    out.put((k, 1, len(tail), cpu))
    if profiler:
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
    phases[1].go.wait()  # the parent has read the server's CPU: our connections may end now
    store.close()


def chunk_count(args: argparse.Namespace) -> int:
    per_writer = -(-args.articles // args.writers) * (args.revisions // args.articles)
    return -(-per_writer // args.chunk)


def write_all(
    url: str, ids: list[int], args: argparse.Namespace
) -> list[tuple[int, float, float, float]]:
    """Run the writer processes through both phases; per phase (revisions, wall s, writer
    CPU s, server CPU s)."""
    ctx = mp.get_context("spawn")
    phases, out = (Phase(ctx, args.writers), Phase(ctx, args.writers)), ctx.Queue()
    procs = [
        ctx.Process(target=writer, args=(url, k, ids, args, phases, out))
        for k in range(args.writers)
    ]
    for p in procs:
        p.start()
    walls = [phases[0].time_chunks(chunk_count(args)), phases[1].time_chunks(1)]
    phases[1].go.wait()
    reports = [out.get() for _ in range(2 * args.writers)]
    for p in procs:
        p.join()
    return [
        (
            sum(n for _, ph, n, _ in reports if ph == phase),
            walls[phase][0],
            sum(c for _, ph, _, c in reports if ph == phase),
            walls[phase][1],
        )
        for phase in (0, 1)
    ]


# --- the edit model (`--model edits`) -----------------------------------------------------------
class Corpus:
    """The extraction corpus's real pages with their article bodies (read-only; MIT licence,
    see its LICENSE), and a vocabulary of real running text for edits and furniture."""

    def __init__(self) -> None:
        truth = json.loads((CORPUS / "ground-truth.json").read_text())
        self.pages: list[tuple[str, tuple[str, ...], str]] = []
        for path in sorted((CORPUS / "html").glob("*.html.gz")):
            html = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
            text = truth[path.name.split(".")[0]]["articleBody"]
            body = tuple(p.strip() for p in text.split("\n") if p.strip())
            title = re.search(r"<title[^>]*>(.*?)</title>", html, re.S | re.I)
            headline = unescape(title.group(1)).strip() if title else body[0][:90]
            self.pages.append((html, body, " ".join(headline.split())[:200]))
        self.words = [w for t in truth.values() for w in t["articleBody"].split()]

    def phrase(self, rng: random.Random, n: int) -> str:
        start = rng.randrange(len(self.words) - n)  # a run of real text, not a bag of words
        return " ".join(self.words[start : start + n])


_SENTENCES = re.compile(r"[^.!?]+(?:[.!?]+|$)\s*")
_BODY_TAG = re.compile(r"<body[^>]*>", re.I)


class Chain:
    """One article's revisions, as a newsroom edits them: each revision changes 1 to 3
    sentences of the one before (words replaced, a sentence added or cut), the declared update
    time moves on most of them, and the page furniture (a trending list, a relative time, a
    CSRF token, cache-busting script URLs) changes on every fetch."""

    def __init__(self, corpus: Corpus, article: int) -> None:
        self.corpus, self.rng = corpus, random.Random(article * 7919 + 17)
        html, body, headline = corpus.pages[article % len(corpus.pages)]
        self.html, self.body = html, list(body)
        self.headline = f"{headline} ({article})"
        self.trending = [corpus.phrase(self.rng, self.rng.randint(5, 11)) for _ in range(8)]
        self.page: Page | None = None
        self.updated = T0

    def next(self, number: int) -> tuple[Page, Page | None, bytes]:
        """Revision `number`: its Page, the previous revision's Page, and its raw HTML."""
        if number > 1:
            for _ in range(self.rng.randint(1, 3)):
                self._edit()
            if self.rng.random() < 0.7:
                self.updated = T0 + timedelta(hours=number)
        for _ in range(self.rng.randint(1, 3)):  # the trending list turns a little
            self.trending[self.rng.randrange(8)] = self.corpus.phrase(self.rng, 8)
        before, self.page = (
            self.page,
            Page(
                headline=self.headline,
                byline=("Staff reporter",),
                published=T0,
                updated=self.updated,
                body=tuple(self.body),
                extractor="bench",
            ),
        )
        return self.page, before, self._with_furniture(number).encode()

    def _edit(self) -> None:
        rng = self.rng
        i = rng.randrange(len(self.body))
        sentences = _SENTENCES.findall(self.body[i]) or [self.body[i]]
        j = rng.randrange(len(sentences))
        old, roll = sentences[j], rng.random()
        if roll < 0.6:  # a few words replaced
            words = old.split()
            k = rng.randrange(len(words))
            words[k : k + rng.randint(1, 3)] = self.corpus.phrase(rng, rng.randint(1, 6)).split()
            new = " ".join(words) + " "
        elif roll < 0.85 or len(sentences) == 1:  # a sentence added after this one
            new = old + self.corpus.phrase(rng, rng.randint(8, 25)).capitalize() + ". "
        else:  # a sentence cut
            new = ""
        sentences[j] = new
        self.body[i] = "".join(sentences).strip() or self.corpus.phrase(rng, 12)
        old_text = old.strip()
        if old_text and old_text in self.html:
            self.html = self.html.replace(old_text, new.strip(), 1)
        elif new:  # not verbatim in the markup (entities, inline tags): add it near the middle
            at = self.html.find("</p>", len(self.html) // 2)
            at = at if at >= 0 else len(self.html)
            self.html = self.html[:at] + " " + new.strip() + self.html[at:]

    def _with_furniture(self, number: int) -> str:
        rng = self.rng
        items = "".join(
            f'<li><a href="/news/{rng.getrandbits(40):x}">{t}</a></li>' for t in self.trending
        )
        furniture = (
            f'<aside class="furniture"><time>{rng.randint(1, 59)} minutes ago</time>'
            f'<ol class="trending">{items}</ol>'
            f'<input type="hidden" name="csrf" value="{rng.getrandbits(128):032x}">'
            f'<div id="ad-slot-{rng.getrandbits(32)}"></div>'
            f'<script src="/static/app.js?v={rng.getrandbits(32):x}"></script></aside>'
        )
        found = _BODY_TAG.search(self.html)
        at = found.end() if found else len(self.html) // 2
        return self.html[:at] + furniture + self.html[at:]


def edit_check(chain: Chain, article: int, number: int, rng: random.Random) -> CheckRecord:
    """Revision `number` of `article` as the daemon hands it to the store: the differ's changes
    against the previous revision, hash and compressed forms made (the pool's work), and the
    raw HTML still attached (`NewRevision.raw_html`, as scheduler/checks.py passes it)."""
    page, before, raw = chain.next(number)
    _, encoded = codec.encode_fetch(page, raw)
    assert encoded is not None
    revision = NewRevision(
        page=page,
        content_hash=encoded.content_hash,
        base_revision=number - 1,
        changes=compare(before, page) if before is not None else (),
        raw_html=raw,
        encoded=encoded,
    )
    return CheckRecord(
        f"{rng.getrandbits(128):032x}",
        article,
        T0 + timedelta(hours=2 * number),
        Decision(revision, next_check_at=T0),
        http_status=200,
    )


def quiet_check(article: int, j: int, checks: int, rng: random.Random) -> CheckRecord:
    """A check that wrote nothing (304 or the same text), spread over the 60 days before
    `CHECKS_END`: what most of the fetch log is."""
    outcome = NotModified() if rng.random() < 0.7 else Unchanged()
    at = CHECKS_END - timedelta(days=60) + timedelta(days=60) * (j + rng.random()) / checks
    return CheckRecord(
        f"{rng.getrandbits(128):032x}",
        article,
        at,
        Decision(outcome, next_check_at=CHECKS_END),
        http_status=304 if isinstance(outcome, NotModified) else 200,
    )


def edit_work(ids: list[int], k: int, args: argparse.Namespace) -> list[list[tuple[int, int]]]:
    """Writer k's (article, revision number) pairs, per phase: every article's first revision;
    then revisions 2..`--chain` (2..`--long-chain` for the first `--long` articles), a number
    at a time across the articles, as a daemon's checks interleave."""
    mine = ids[k :: args.writers]
    long = set(ids[: args.long])
    top = max(args.chain, args.long_chain if args.long else 0)
    rest = [
        (a, n)
        for n in range(2, top + 1)
        for a in mine
        if n <= (args.long_chain if a in long else args.chain)
    ]
    return [[(a, 1) for a in mine], rest]


def edit_writer(
    url: str,
    k: int,
    ids: list[int],
    args: argparse.Namespace,
    phases: tuple[Phase, ...],
    out: mp.Queue,
) -> None:
    """Record writer k's share of the revision phases, then its quiet checks."""
    corpus, rng = Corpus(), random.Random(1000 + k)
    chains = {a: Chain(corpus, a) for a in ids[k :: args.writers]}
    store = edit_store(url, args)
    for phase, work in enumerate(edit_work(ids, k, args)):
        cpu = 0.0
        for chunk in range(-(-len(work) // args.chunk) if work else 0):
            todo = work[chunk * args.chunk : (chunk + 1) * args.chunk]
            checks = [edit_check(chains[a], a, n, rng) for a, n in todo]
            phases[phase].go.wait()
            cpu -= time.process_time()
            for i in range(0, len(checks), args.batch):
                store.record_many(checks[i : i + args.batch])
            cpu += time.process_time()
            phases[phase].done.wait()
        for _ in range(edit_chunks(ids, args)[phase] - (-(-len(work) // args.chunk))):
            phases[phase].go.wait()  # the other writers have more chunks: keep in step
            phases[phase].done.wait()
        out.put((k, phase, len(work), cpu))
    quiet = [quiet_check(a, j, args.checks, rng) for j in range(args.checks) for a in chains]
    phases[2].go.wait()
    cpu = -time.process_time()
    for i in range(0, len(quiet), args.batch):
        store.record_many(quiet[i : i + args.batch])
    cpu += time.process_time()
    phases[2].done.wait()
    out.put((k, 2, len(quiet), cpu))
    phases[2].go.wait()
    store.close()


def edit_store(url: str, args: argparse.Namespace) -> Any:
    """The store the writers use (`--keyframe-every`: for stores that store deltas)."""
    if args.keyframe_every is None:
        return open_store(url, create=False)
    return open_store(url, create=False, keyframe_every=args.keyframe_every)


def edit_chunks(ids: list[int], args: argparse.Namespace) -> list[int]:
    """Timed chunks per phase: the most any writer has."""
    counts = [[len(w) for w in edit_work(ids, k, args)] for k in range(args.writers)]
    return [max(-(-c[phase] // args.chunk) for c in counts) for phase in (0, 1)]


def table_sizes(url: str) -> dict[str, int]:
    """Bytes in use per table, its indexes (and TOAST, FTS5 shadow tables) included."""
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            owner = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master").fetchall())
            rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
        sizes: dict[str, int] = {}
        for name, size in rows:
            table = owner.get(name, name)
            table = "revision_search" if table.startswith("revision_search") else table
            sizes[table] = sizes.get(table, 0) + int(size)
        return sizes
    conninfo, schema = url.split("?schema=")
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n"
            " ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
            (schema,),
        ).fetchall()
    return {name: int(size) for name, size in rows}


def rows_of(url: str, table: str) -> int:
    with open_store(url, create=False) as store, store._tx() as tx:
        return int(tx.one(f"SELECT count(*) AS n FROM {table}")["n"])


def time_edit_lookups(url: str, ids: list[int], args: argparse.Namespace) -> dict[str, list[float]]:
    """Seconds per call: history, and reading a revision (its Page; its raw HTML) at
    revision numbers 1, 10 and 100 (100: the long chains) and at random."""
    rng = random.Random(11)
    long, regular = ids[: args.long], ids[args.long :]
    store = open_store(url, create=False)
    depths = {"1": (regular, 1), "10": (regular, 10), "100": (long, 100)}
    calls: dict[str, Callable[[], object]] = {
        "history": lambda: store.history(rng.choice(regular)),
        "page random": lambda: store.revision(rng.choice(regular), rng.randint(1, args.chain)),
        "raw_html random": lambda: store.raw_html(rng.choice(regular), rng.randint(1, args.chain)),
    }
    common, rare, phrase = search_terms(Corpus())
    calls["search common word"] = lambda: store.search(common)
    calls["search rare word"] = lambda: store.search(rare)
    calls["search phrase"] = lambda: store.search(f'"{phrase}"')
    for depth, (pool, n) in depths.items():
        if pool and n <= (args.long_chain if pool is long else args.chain):
            calls[f"page @{depth}"] = lambda p=pool, n=n: store.revision(rng.choice(p), n)
            calls[f"raw_html @{depth}"] = lambda p=pool, n=n: store.raw_html(rng.choice(p), n)
    report = {}
    for name, call in calls.items():
        for _ in range(20):  # warm the connection and caches a little, as a live service would be
            call()
        samples = []
        for _ in range(min(args.lookups, 300) if name.startswith("search") else args.lookups):
            start = time.perf_counter()
            call()
            samples.append(time.perf_counter() - start)
        report[name] = samples
    store.close()
    return report


def search_terms(corpus: Corpus) -> tuple[str, str, str]:
    """A word in most articles, one in a single corpus page's articles (about 1 in 90), and
    a two-word phrase of that page."""
    pages = [{w.lower() for w in re.findall(r"[^\W_]+", " ".join(b))} for _, b, _ in corpus.pages]
    seen: dict[str, int] = {}
    for words in pages:
        for word in words:
            seen[word] = seen.get(word, 0) + 1
    rare = sorted(w for w in pages[0] if seen[w] == 1 and len(w) > 6)[0]
    first = re.findall(r"[^\W_]+", corpus.pages[0][1][0])
    return "the", rare, " ".join(first[1:3])


def run_edits(backend: str, url: str, args: argparse.Namespace) -> None:
    with open_store(url) as store:
        ids = [
            store.add_article(f"https://bench.example/{i}", T0)[0].id for i in range(args.articles)
        ]
    empty = database_bytes(url)
    ctx = mp.get_context("spawn")
    phases, out = tuple(Phase(ctx, args.writers) for _ in range(3)), ctx.Queue()
    procs = [
        ctx.Process(target=edit_writer, args=(url, k, ids, args, phases, out))
        for k in range(args.writers)
    ]
    for p in procs:
        p.start()
    chunks = edit_chunks(ids, args)
    walls = [phases[0].time_chunks(chunks[0])]
    after_first = database_bytes(url)
    analyse(url)
    walls.append(phases[1].time_chunks(chunks[1]))
    after_all, tables = database_bytes(url), table_sizes(url)
    analyse(url)
    walls.append(phases[2].time_chunks(1))
    after_checks = database_bytes(url)
    phases[2].go.wait()
    reports = [out.get() for _ in range(3 * args.writers)]
    for p in procs:
        p.join()
    done = [sum(n for _, ph, n, _ in reports if ph == phase) for phase in (0, 1, 2)]
    cpu = [sum(c for _, ph, _, c in reports if ph == phase) for phase in (0, 1, 2)]
    pg = backend == "postgres"
    for phase, name in enumerate(("first revisions", "revisions after the first", "quiet checks")):
        wall, server = walls[phase]
        print(
            f"{backend}: {name}: {done[phase]} in {wall:.1f} s = {done[phase] / wall:,.0f}/s;"
            f" CPU each: writers {cpu[phase] / done[phase] * 1000:.2f} ms"
            + (f", server {server / done[phase] * 1000:.2f} ms" if pg else "")
        )
    print(
        f"{backend}: on disk: first revisions {(after_first - empty) / done[0] / 1024:.1f} KiB"
        f" each; after the first {(after_all - after_first) / done[1] / 1024:.2f} KiB each;"
        f" quiet checks {(after_checks - after_all) / done[2]:.0f} B each"
    )
    total = sum(tables.values())
    print(
        f"{backend}: tables with their indexes after the revisions ({total / 2**20:,.0f} MiB): "
        + ", ".join(
            f"{name} {size / 2**20:,.1f} MiB"
            for name, size in sorted(tables.items(), key=lambda t: -t[1])
            if size >= 2**20 / 10
        )
    )
    analyse(url)
    for name, samples in time_edit_lookups(url, ids, args).items():
        print(f"{backend}: {name:17s} {percentiles(samples)}  ({len(samples)} lookups)")
    roll_up(backend, url)


def roll_up(backend: str, url: str) -> None:
    """The fetch log's rollup, where this version of the store has one."""
    with open_store(url, create=False) as store:
        rollup = getattr(store, "roll_up_fetches", None)
        if rollup is None:
            return
        before = rows_of(url, "fetches")
        start = time.perf_counter()
        done = rollup(CHECKS_END)
        wall = time.perf_counter() - start
    print(
        f"{backend}: fetch log rollup (older than 30 days): {before} rows, {done.checks}"
        f" rolled up into {rows_of(url, 'fetch_days')} daily rows in {wall:.1f} s;"
        f" {rows_of(url, 'fetches')} rows kept; database {database_bytes(url) / 2**20:,.0f} MiB"
        " in use after"
    )


def analyse(url: str) -> None:
    """Refresh PostgreSQL's planner statistics between phases, untimed, as autovacuum would
    (a test server may run without it: then plans made for empty tables stay, and a lookup
    by fetch id can become a scan of the whole fetch log)."""
    if url.startswith("sqlite:///"):
        return
    conninfo, schema = url.split("?schema=")
    with psycopg.connect(conninfo, options=f"-c search_path={schema}", autocommit=True) as conn:
        conn.execute("ANALYZE")


def database_bytes(url: str) -> int:
    """Bytes in use: SQLite's pages less its free list (the WAL read through), PostgreSQL's
    relations with their indexes and TOAST."""
    if not url.startswith("sqlite:///"):
        return database_size(url)
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        pages, free, size = (
            conn.execute(f"PRAGMA {p}").fetchone()[0]
            for p in ("page_count", "freelist_count", "page_size")
        )
    return int((pages - free) * size)


# --- reading ----------------------------------------------------------------------------------
def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p = statistics.quantiles(ms, n=100, method="inclusive")
    return f"p50 {p[49]:7.2f} ms  p99 {p[98]:7.2f} ms  max {ms[-1]:7.2f} ms"


def time_lookups(url: str, ids: list[int], per_article: int, n: int) -> dict[str, str]:
    rng = random.Random(11)
    store = open_store(url, create=False)
    calls = {
        "history": lambda a: store.history(a),
        "revision": lambda a: store.revision(a, rng.randint(1, per_article)),
        "raw_html": lambda a: store.raw_html(a, rng.randint(1, per_article)),
    }
    report = {}
    for name, call in calls.items():
        for a in ids[:20]:  # warm the connection and caches a little, as a live service would be
            call(a)
        samples = []
        for _ in range(n):
            a = rng.choice(ids)
            start = time.perf_counter()
            call(a)
            samples.append(time.perf_counter() - start)
        report[name] = percentiles(samples)
    store.close()
    return report


# --- backends ---------------------------------------------------------------------------------
def database_size(url: str) -> int:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    conninfo, schema = url.split("?schema=")
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
            (schema,),
        ).fetchone()
    return int(row[0])


def codec_costs(pool_size: int) -> None:
    """CPU per revision of the codec steps `record` runs (best of 3, on the content pool)."""
    from redline.storage import codec

    pool = ContentPool(pool_size)
    samples = [pool.revision(a, 2) for a in range(pool_size)]
    html = sum(len(h) for _, h in samples) / len(samples) / 1024
    packed = sum(len(codec.compress(h)) for _, h in samples) / len(samples) / 1024
    print(f"raw HTML avg {html:.0f} KiB, zstd-3 {packed:.0f} KiB")
    steps = {
        "compress raw HTML (zstd-3)": lambda p, h: codec.compress(h),
        "encode_page (JSON + zstd)": lambda p, h: codec.encode_page(p),
        "content_hash (one call)": lambda p, h: codec.content_hash(p),
    }
    for name, step in steps.items():
        best = min(_timed(step, samples) for _ in range(3))
        print(f"{name:28s} {best / len(samples) * 1000:6.3f} ms per revision")


def _timed(step: Callable[[Page, bytes], object], samples: list[tuple[Page, bytes]]) -> float:
    start = time.perf_counter()
    for page, html in samples:
        step(page, html)
    return time.perf_counter() - start


def lookups_only(url: str, args: argparse.Namespace) -> None:
    """Time lookups on a database an earlier `--keep` run left behind."""
    with open_store(url, create=False) as store:
        articles = store.list_articles()
    ids, per_article = [a.id for a in articles], min(a.revision_count for a in articles)
    print(f"{url}: {len(ids)} articles, {sum(a.revision_count for a in articles)} revisions")
    for name, line in time_lookups(url, ids, per_article, args.lookups).items():
        print(f"{name:9s} {line}  ({args.lookups} random lookups)")


def search_on(url: str, args: argparse.Namespace) -> None:
    """Time searches on a database an earlier `--keep` run left behind, with this checkout's
    code (run it from another checkout to time that one's)."""
    common, rare, phrase = search_terms(Corpus())
    queries = {
        "common word": common,
        "rare word": rare,
        "phrase": f'"{phrase}"',
        "word -word": f"{common} -{rare}",
        "common word, page 5": common,
    }
    with open_store(url, create=False) as store:
        for name, text in queries.items():
            cursor = None
            if name.endswith("page 5"):
                for _ in range(4):
                    cursor = store.search(text, cursor=cursor).cursor
            for _ in range(5):
                store.search(text, cursor=cursor)
            samples = []
            for _ in range(min(args.lookups, 300)):
                start = time.perf_counter()
                store.search(text, cursor=cursor)
                samples.append(time.perf_counter() - start)
            print(f"search {name:20s} {percentiles(samples)}  ({len(samples)} searches)")


def layouts(args: argparse.Namespace) -> None:
    """Stored bytes per revision after the first (raw HTML and Page) of two ways of storing a
    chain of revisions against earlier ones, on the edit model, for a few keyframe intervals:
    each against the one before (a chain: reading revision n decodes up to K frames, writing
    one decodes up to K-1), or each against the latest keyframe (a star: two, and one)."""
    from redline.storage import delta

    corpus = Corpus()
    chains = []
    for article in range(args.layout_articles):
        chain = Chain(corpus, article)
        revisions = []
        for number in range(1, args.chain + 1):
            page, _, raw = chain.next(number)
            revisions.append((codec.page_json(page), raw))
        chains.append(revisions)
    print(f"{args.layout_articles} articles of {args.chain} revisions (edit model)")
    for every in (8, 16, 32):
        for layout in ("chain", "star"):
            stored, count = 0, 0
            for revisions in chains:
                for i, (page, raw) in enumerate(revisions):
                    if i % every == 0:
                        frame = len(codec.compress(page)) + len(codec.compress_html(raw))
                        keyframe = (page, raw)
                    else:
                        base = revisions[i - 1] if layout == "chain" else keyframe
                        frame = len(delta.compress_against(page, base[0]))
                        frame += len(delta.compress_against(raw, base[1]))
                    if i:
                        stored, count = stored + frame, count + 1
            frames = every if layout == "chain" else 2
            print(
                f"keyframe every {every:2d}, {layout:5s}: {stored / count / 1024:5.2f} KiB per"
                f" revision after the first; a read decodes up to {frames} frames"
            )


def compact_on(url: str, args: argparse.Namespace) -> None:
    """Upgrade a database an older Redline wrote (an earlier `--keep` run of this benchmark
    with that version's code), then `compact` it while another process keeps recording checks,
    as the daemon would: how long each takes, what it saves, and how long the checks waited."""
    store = open_store(url, check=False)
    version, start = store.schema_version(), time.perf_counter()
    applied = store.upgrade()
    print(
        f"{url}: upgraded from schema {version} by {applied} in {time.perf_counter() - start:.1f} s"
    )
    ids = [a.id for a in store.list_articles()]
    analyse(url)
    size = database_bytes(url)
    ctx = mp.get_context("spawn")
    stop, out = ctx.Event(), ctx.Queue()
    checker = ctx.Process(target=keep_checking, args=(url, ids, stop, out))
    checker.start()
    time.sleep(10)  # the checks' latency alone first
    out.put("compacting")
    start = time.perf_counter()
    done = store.compact(batch=args.batch_compact)
    wall = time.perf_counter() - start
    out.put("done")
    time.sleep(5)
    stop.set()
    phases = summarise_checks(out, checker)
    checker.join()
    print(
        f"compact: {done.revisions} revisions of {done.articles} articles in {wall:.1f} s"
        f" ({done.revisions / wall:,.0f}/s), {done.reencoded} now stored against a keyframe;"
        f" their stored bytes {done.bytes_before / 2**20:,.0f} MiB ->"
        f" {done.bytes_after / 2**20:,.0f} MiB; database {size / 2**20:,.0f} MiB in use before,"
        f" {database_bytes(url) / 2**20:,.0f} MiB after (freed pages are reused by new rows)"
    )
    for phase, samples in phases.items():
        print(f"record() of one check {phase}: {percentiles(samples)}  ({len(samples)} checks)")
    start = time.perf_counter()
    rolled = store.roll_up_fetches(CHECKS_END)
    print(
        f"fetch log rollup: {rolled.checks} checks into {rolled.counts} daily rows in"
        f" {time.perf_counter() - start:.1f} s"
    )
    store.close()


def keep_checking(url: str, ids: list[int], stop: Any, out: mp.Queue) -> None:
    """Record quiet checks one at a time (the daemon's commonest write), and now and then a
    revision, until told to stop; report each record()'s latency."""
    store, rng = open_store(url, create=False), random.Random(5)
    latencies: list[float] = []
    while not stop.is_set():
        article = rng.choice(ids)
        start = time.perf_counter()
        store.record(quiet_check(article, 0, 1, rng))
        latencies.append(time.perf_counter() - start)
        if len(latencies) >= 200:
            out.put(latencies)
            latencies = []
        time.sleep(0.002)
    out.put(latencies)
    store.close()


def summarise_checks(out: mp.Queue, checker: Any) -> dict[str, list[float]]:
    """The checker's latencies per phase, read until it has sent its last (a process that
    put items on a queue cannot end before they are read)."""
    phases: dict[str, list[float]] = {"before": [], "while compacting": [], "after": []}
    phase = "before"
    while checker.is_alive() or not out.empty():
        try:
            item = out.get(timeout=1)
        except queue.Empty:
            continue
        if item == "compacting":
            phase = "while compacting"
        elif item == "done":
            phase = "after"
        else:
            phases[phase] += item
    return {k: v for k, v in phases.items() if v}


def run_synthetic(backend: str, url: str, args: argparse.Namespace) -> None:
    with open_store(url) as store:
        ids = [
            store.add_article(f"https://bench.example/{i}", T0)[0].id for i in range(args.articles)
        ]
    (written, wall, cpu, server), (tail, tail_wall, tail_cpu, tail_server) = write_all(
        url, ids, args
    )
    pg = backend == "postgres"
    print(
        f"{backend}: store write path (pre-encoded, record_many batches of {args.batch}): "
        f"{written} revisions of {len(ids)} articles, {args.writers} writer process(es), "
        f"{wall:.1f} s = {written / wall:,.0f} revisions/s; CPU per revision: writers "
        f"{cpu / written * 1000:.2f} ms"
        + (f", server {server / written * 1000:.2f} ms" if pg else "")
    )
    if tail:
        print(
            f"{backend}: end to end (record() one at a time, encoding in the writer): "
            f"{tail} more revisions, {tail_wall:.1f} s = {tail / tail_wall:,.0f} revisions/s; "
            f"CPU per revision: writers {tail_cpu / tail * 1000:.2f} ms"
            + (f", server {tail_server / tail * 1000:.2f} ms" if pg else "")
        )
    print(f"{backend}: database size {database_size(url) / 2**20:,.0f} MiB")
    per_article = args.revisions // args.articles
    for name, line in time_lookups(url, ids, per_article, args.lookups).items():
        print(f"{backend}: {name:9s} {line}  ({args.lookups} random lookups)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model",
        choices=("edits", "synthetic"),
        default="edits",
        help="edits: chains of real pages with sentence edits (default); synthetic: the write"
        " benchmark of 4 December (varied large pages, one paragraph changed per revision)",
    )
    parser.add_argument("--quick", action="store_true", help="a small run of the same model")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--pg-url", default=PG_URL, help="a PostgreSQL database to use")
    parser.add_argument("--sqlite-dir", default=None, help="where the SQLite file goes")
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--revisions", type=int, default=100_000, help="synthetic model only")
    parser.add_argument("--chain", type=int, default=20, help="revisions per article (edits)")
    parser.add_argument("--long", type=int, default=20, help="articles with a long chain")
    parser.add_argument("--long-chain", type=int, default=120, help="their revisions")
    parser.add_argument(
        "--checks", type=int, default=120, help="quiet checks per article, over 60 days"
    )
    parser.add_argument(
        "--keyframe-every", type=int, default=None, help="the store's keyframe interval"
    )
    parser.add_argument("--writers", type=int, default=2, help="writer processes")
    parser.add_argument("--batch", type=int, default=16, help="results per record_many call")
    parser.add_argument("--chunk", type=int, default=1000, help="revisions encoded at a time")
    parser.add_argument(
        "--tail", type=int, default=0, help="end-to-end record() revisions per article after"
    )
    parser.add_argument("--lookups", type=int, default=5000)
    parser.add_argument("--pool", type=int, default=48, help="pre-generated content variants")
    parser.add_argument("--profile", action="store_true", help="cProfile writer 0 (to stderr)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--lookups-on", metavar="DB_URL", help="only time lookups on this DB")
    parser.add_argument("--costs", action="store_true", help="only time the codec steps")
    parser.add_argument(
        "--compact-on", metavar="DB_URL", help="upgrade and compact a kept older database"
    )
    parser.add_argument("--batch-compact", type=int, default=32, help="rows per transaction")
    parser.add_argument(
        "--layouts", action="store_true", help="only compare chain and star layouts' sizes"
    )
    parser.add_argument("--layout-articles", type=int, default=91, help="articles compared")
    parser.add_argument("--search-on", metavar="DB_URL", help="only time searches on this DB")
    args = parser.parse_args()
    if args.costs:
        codec_costs(args.pool)
        return
    if args.compact_on:
        compact_on(args.compact_on, args)
        return
    if args.layouts:
        layouts(args)
        return
    if args.search_on:
        search_on(args.search_on, args)
        return
    if args.lookups_on:
        lookups_only(args.lookups_on, args)
        return
    if args.quick:
        args.articles, args.revisions, args.lookups = 200, 4000, 1000
        args.long = min(args.long, 5)
    args.tail = args.tail or max(1, args.revisions // args.articles // 20)
    if args.model == "edits":
        print(
            f"edit model: {args.articles} articles of {args.chain} revisions ({args.long} of"
            f" {args.long_chain}), {args.writers} writers, {os.cpu_count()} CPUs,"
            f" storage code from {Path(codec.__file__).parent}"
        )
    else:
        print(
            f"{args.revisions} revisions, {args.articles} articles, {args.writers} writers, "
            f"{os.cpu_count()} CPUs"
        )
    run = run_edits if args.model == "edits" else run_synthetic
    if args.backend in ("sqlite", "both"):
        folder = Path(args.sqlite_dir or tempfile.mkdtemp(prefix="redline-bench-"))
        path = folder / "bench.sqlite"
        run("sqlite", f"sqlite:///{path}", args)
        if args.keep:
            print(f"sqlite: kept sqlite:///{path}")
        else:
            for p in folder.glob("bench.sqlite*"):
                p.unlink()
            if not args.sqlite_dir:
                folder.rmdir()
    if args.backend in ("postgres", "both"):
        with scratch_schema(args.pg_url, "bench", keep=args.keep) as url:
            run("postgres", url, args)
            if args.keep:
                print(f"postgres: kept {url}")


if __name__ == "__main__":
    main()
