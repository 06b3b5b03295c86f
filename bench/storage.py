"""Revision store throughput and lookup latency, on SQLite and PostgreSQL.

    python bench/storage.py --quick          # a first look: 200 articles, 4,000 revisions
    python bench/storage.py --backend postgres --writers 2
    python bench/storage.py --articles 2000 --revisions 100000 --backend both

Writes in two phases, from `--writers` processes that each own a slice of the articles (as
daemon workers holding leases would):

1. the store's write path as the daemon drives it: `--revisions` revisions over `--articles`
   articles, each check already hashed and compressed (`NewRevision.encoded`, the work the
   daemon's process pool does), recorded with `Store.record_many` in batches of `--batch`. The
   encoding is done untimed, a chunk at a time, between timed chunks of writing;
2. end to end, as before the pool took that work over: `--tail` more revisions per article
   through `Store.record`, one at a time, hashing and compressing in the writer.

Then it times `history(article_id)`, `revision(article_id, n)` and `raw_html` lookups. Each
phase reports revisions/s (wall clock), the writers' CPU per revision and, for PostgreSQL on
this host, the server processes' CPU per revision.

Text is realistic and varied: bodies of 800 to 8,000 words drawn from the extraction corpus's
vocabulary, raw HTML of 50 to 500 KB built on the corpus's real pages. A pool of variants is
generated before the clock starts, so generation is never timed; each revision still gets its own
content (a changed paragraph, a marker in the HTML), so nothing is recorded as unchanged and the
compressor sees a full page every time.
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import json
import multiprocessing as mp
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from redline.storage import CheckRecord, Decision, NewRevision, codec, open_store  # noqa: E402
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


def run(backend: str, url: str, args: argparse.Namespace) -> None:
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
    parser.add_argument("--quick", action="store_true", help="200 articles, 4,000 revisions")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--pg-url", default=PG_URL, help="a PostgreSQL database to use")
    parser.add_argument("--sqlite-dir", default=None, help="where the SQLite file goes")
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--revisions", type=int, default=100_000)
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
    args = parser.parse_args()
    if args.costs:
        codec_costs(args.pool)
        return
    if args.lookups_on:
        lookups_only(args.lookups_on, args)
        return
    if args.quick:
        args.articles, args.revisions, args.lookups = 200, 4000, 2000
    args.tail = args.tail or max(1, args.revisions // args.articles // 20)
    print(
        f"{args.revisions} revisions, {args.articles} articles, {args.writers} writers, "
        f"{os.cpu_count()} CPUs"
    )
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
