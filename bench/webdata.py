"""A store full of history for the web app's reads, made fast, and the reads timed on it.

    python bench/webdata.py                                  # 10,000 articles, 100,000 revisions
    python bench/webdata.py --articles 1000 --revisions 10000 --runs 20
    python bench/webdata.py --url sqlite:///tmp/web.sqlite   # the same on SQLite
    python bench/webdata.py --keep                           # then, on the kept schema:
    python bench/webdata.py --time-only 'postgresql://...?schema=webdata_...'

`fill()` writes rows exactly as the store's write path would (revisions numbered from 1, their
pages encoded by `storage.codec`, change rows from the real differ, a fetch per check, the
URL events, the search index), but in bulk: COPY on PostgreSQL, one transaction of
`executemany` on SQLite. Bodies are runs of real text from the extraction corpus (a Zipf-like
vocabulary, several paragraphs); each revision edits the headline, a paragraph, adds or drops
one, changes the byline or the updated time. Generation runs in a process pool.

The `__main__` fills a scratch schema (dropped afterwards unless `--keep`) and prints p50/p95
over `--runs` of each new read: recent changes (first page and the 100th, filtered or not), the
articles listing, an article's checks, and searches for common, rare and removed text.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing as mp
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redline.crawler.diff.compare import compare  # noqa: E402
from redline.storage import ChangeQuery, codec, delta, open_store  # noqa: E402
from redline.storage.model import Change, Page  # noqa: E402
from redline.storage.sqlstore.search import search_text  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "extraction" / "ground-truth.json"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SITES = ("one.example", "two.example", "three.example", "four.example", "five.example")
AUTHORS = ("Ana Núñez", "Sam Okafor", "Lee Wong", "Maria Rossi", "Staff reporter")
# Every table `fill` writes, with its columns in the order of the rows made below.
COLUMNS = {
    "articles": "id, url, site, first_seen, status, is_live, next_check_at, last_checked_at,"
    " last_changed_at, revision_count, latest_hash",
    "article_urls": "url, article_id",
    "revisions": "id, article_id, number, fetched_at, content_hash, headline, title, extractor,"
    " summary, fetch_id",
    "revision_content": "revision_id, page, page_sum",
    "changes": "revision_id, position, field, kind, class, old, new, patch, words_added,"
    " words_removed, similarity, notes, stealth, coarse",
    "events": "id, article_id, at, kind, detail, fetch_id",
    "fetches": "fetch_id, article_id, fetched_at, http_status, outcome, revision, error",
}


@dataclass
class Rows:
    """The rows of some articles, table by table."""

    tables: dict[str, list[tuple[Any, ...]]] = field(
        default_factory=lambda: {name: [] for name in COLUMNS}
    )

    def extend(self, other: Rows) -> None:
        for name, rows in other.tables.items():
            self.tables[name] += rows


# --- content ----------------------------------------------------------------------------------
def _words() -> list[str]:
    if CORPUS.exists():
        truth = json.loads(CORPUS.read_text())
        return [w for t in truth.values() for w in t["articleBody"].split()]
    rng = random.Random(0)  # no corpus: pseudo-words, Zipf-like by repetition
    vocab = [
        "".join(rng.choices("abcdefghiklmnoprstuvw", k=rng.randint(2, 9))) for _ in range(5000)
    ]
    return rng.choices(vocab, weights=[1 / (i + 1) for i in range(5000)], k=200_000)


_WORDS: list[str] = []


def _text(rng: random.Random, n: int) -> str:
    start = rng.randrange(len(_WORDS) - n)  # runs of real text, not a bag of words
    return " ".join(_WORDS[start : start + n])


def _first_page(rng: random.Random, article: int, published: datetime) -> Page:
    return Page(
        headline=_text(rng, rng.randint(6, 12)).rstrip(".") + f" ({article})",
        byline=(rng.choice(AUTHORS),),
        published=published,
        body=tuple(_text(rng, rng.randint(30, 90)) for _ in range(rng.randint(4, 12))),
        extractor="redline",
        language="en",
    )


def _edit(rng: random.Random, page: Page, at: datetime) -> Page:
    """One editor's pass: mostly a paragraph, often the headline, sometimes the rest."""
    body = list(page.body)
    roll = rng.random()
    if roll < 0.55:
        i = rng.randrange(len(body))
        words = body[i].split()
        j = rng.randrange(len(words))
        words[j : j + rng.randint(1, 4)] = _text(rng, rng.randint(1, 6)).split()
        body[i] = " ".join(words)
    elif roll < 0.75:
        body.insert(rng.randrange(len(body) + 1), _text(rng, rng.randint(20, 60)))
    elif roll < 0.85 and len(body) > 2:
        del body[rng.randrange(len(body))]
    else:
        body[-1] = _text(rng, rng.randint(20, 60))
    new = replace(page, body=tuple(body), updated=at if rng.random() < 0.3 else page.updated)
    if rng.random() < 0.25:
        new = replace(new, headline=_text(rng, rng.randint(6, 12)).rstrip(".") + " (updated)")
    if rng.random() < 0.03:
        new = replace(new, byline=(*new.byline[:1], rng.choice(AUTHORS)))
    return new


# --- rows -------------------------------------------------------------------------------------
def _change_rows(revision_id: int, changes: tuple[Change, ...]) -> list[tuple[Any, ...]]:
    rows = []
    for i, change in enumerate(changes):
        d = codec.change_to_dict(change)
        rows.append(
            (revision_id, i, d["field"], d["kind"], d["class"], d["old"], d["new"],
             d["patch"] or "", d["words_added"], d["words_removed"], d["similarity"],
             json.dumps(d["notes"]), bool(d["stealth"]), bool(d["coarse"]))
        )  # fmt: skip
    return rows


@dataclass(frozen=True)
class Plan:
    """One article to generate: its id, its revisions' ids and its events' ids."""

    article: int
    first_revision: int
    revisions: int
    first_event: int
    seed: int


def article_rows(plan: Plan) -> Rows:
    """Every row of one article, as the write path would have written them."""
    rng = random.Random(plan.seed * 1_000_003 + plan.article)
    out = Rows()
    t = out.tables
    site = SITES[plan.article % len(SITES)]
    url = f"https://www.{site}/news/{plan.article}-{rng.getrandbits(32):x}"
    first_seen = T0 + timedelta(minutes=rng.randrange(60 * 24 * 60))
    at, page, old = first_seen, _first_page(rng, plan.article, first_seen), None
    t["events"].append((plan.first_event, plan.article, first_seen, "first_seen", "", None))
    digest = ""
    # Edited over two weeks at most: a story a few times a day, a live page every few minutes.
    gap = max(10, 2 * 14 * 24 * 60 // plan.revisions)
    for n in range(1, plan.revisions + 1):
        if n > 1:
            at += timedelta(minutes=rng.randint(5, gap))
            page = _edit(rng, page, at)
            for k in range(rng.randint(0, 2)):  # unchanged checks between two revisions
                seen = at - timedelta(minutes=k + 1)
                t["fetches"].append(
                    (f"a{plan.article}-u{n}-{k}", plan.article, seen, 200, "unchanged", None, None)
                )
        changes = compare(old, page) if old is not None else ()
        revision_id = plan.first_revision + n - 1
        digest, blob = codec.hash_and_encode(page)
        fetch_id = f"a{plan.article}-r{n}"
        t["revisions"].append(
            (revision_id, plan.article, n, at, digest, page.headline, page.title, "redline",
             codec.summary_json(changes), fetch_id)
        )  # fmt: skip
        t["revision_content"].append((revision_id, blob, delta.checksum(codec.page_json(page))))
        t["changes"] += _change_rows(revision_id, changes)
        outcome = "new" if n == 1 else "changed"
        t["fetches"].append((fetch_id, plan.article, at, 200, outcome, n, None))
        old = page
    status = _events(rng, plan, at, url, t)
    last_changed = at  # the write path sets it with every revision, the first included
    t["articles"].append(
        (plan.article, url, site, first_seen, status, False, at + timedelta(hours=6), at,
         last_changed, plan.revisions, digest)
    )  # fmt: skip
    t["article_urls"].append((url, plan.article))
    return out


def _events(rng: random.Random, plan: Plan, at: datetime, url: str, t: dict[str, Any]) -> str:
    """Now and then the URL itself: unavailable a while, gone, gone and back."""
    roll = rng.random()
    kinds = (
        ["unavailable", "back"] if roll < 0.03 else ["gone"] if roll < 0.05
        else ["gone", "back"] if roll < 0.06 else []
    )  # fmt: skip
    for i, kind in enumerate(kinds, start=1):
        moment = at + timedelta(hours=i)
        fetch_id = f"a{plan.article}-e{i}"
        t["events"].append((plan.first_event + i, plan.article, moment, kind, "", fetch_id))
        outcome = {"unavailable": "unavailable", "gone": "gone", "back": "unchanged"}[kind]
        status = 410 if kind == "gone" else 200
        t["fetches"].append((fetch_id, plan.article, moment, status, outcome, None, None))
    return "gone" if kinds[-1:] == ["gone"] else "active"


def plans(articles: int, revisions: int, seed: int) -> list[Plan]:
    """How many revisions each article gets (at least one; skewed: a few are edited a lot)."""
    rng = random.Random(seed)
    weights = [rng.paretovariate(1.5) for _ in range(articles)]
    extra = revisions - articles
    counts = [1 + int(extra * w / sum(weights)) for w in weights]
    for i in rng.sample(range(articles), revisions - sum(counts)):
        counts[i] += 1
    out, rev, event = [], 1, 1
    for i, count in enumerate(counts, start=1):
        out.append(Plan(i, rev, count, event, seed))
        rev, event = rev + count, event + 3
    return out


def _init_worker() -> None:
    _WORDS[:] = _words()


# --- writing ----------------------------------------------------------------------------------
def fill(store_url: str, articles: int, revisions: int, seed: int = 1) -> None:
    """Fill an EMPTY store (created at the latest schema) with `articles` articles and
    `revisions` revisions in all."""
    if revisions < articles:
        raise ValueError("every article has at least one revision")
    store = open_store(store_url, create=True)
    try:
        with mp.Pool(initializer=_init_worker) as pool:
            chunks = pool.imap(article_rows, plans(articles, revisions, seed), chunksize=64)
            batch = Rows()
            for i, rows in enumerate(chunks, start=1):
                batch.extend(rows)
                if i % 1000 == 0:
                    _write(store, batch)
                    batch = Rows()
            _write(store, batch)
        _finish(store)
    finally:
        store.close()


def _write(store: Any, rows: Rows) -> None:
    if store.BACKEND == "postgres":
        _copy(store, rows)
        return
    with store._tx(write=True) as tx:
        for name, found in rows.tables.items():
            marks = ", ".join("?" * len(COLUMNS[name].split(",")))
            sql = f"INSERT INTO {name} ({COLUMNS[name]}) VALUES ({marks})"
            tx.executemany(sql, [tuple(_sqlite(v) for v in row) for row in found])


def _sqlite(value: Any) -> Any:
    return codec.format_time(value) if isinstance(value, datetime) else value


def _copy(store: Any, rows: Rows) -> None:
    with store._pool.connection() as conn, conn.transaction():
        for name, found in rows.tables.items():
            with conn.cursor().copy(f"COPY {name} ({COLUMNS[name]}) FROM STDIN") as copy:
                for row in found:
                    copy.write_row(row)


def _finish(store: Any) -> None:
    """The search index written by the store's own code (what `redline db upgrade` runs on
    revisions written without it), serial ids continue after the rows written, and the planner
    knows the tables."""
    with store._tx(write=True) as tx:
        tx.execute("DELETE FROM search_backfill")
        tx.execute("INSERT INTO search_backfill SELECT 0, coalesce(max(id), 0) FROM revisions")
    store.backfill_search()
    if store.BACKEND != "postgres":
        with store._tx(write=True) as tx:
            tx.execute("ANALYZE")
        return
    with store._pool.connection() as conn:
        for table in ("articles", "revisions", "events"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT coalesce(max(id), 1) FROM {table}))"
            )
        conn.execute("VACUUM ANALYZE")


# --- timing -----------------------------------------------------------------------------------
def timed(run: Callable[[], Any], runs: int) -> tuple[float, float]:
    """p50 and p95 of `run`, in milliseconds, after one untimed warm-up."""
    run()
    spent = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        spent.append((time.perf_counter() - start) * 1000)
    spent.sort()
    return statistics.median(spent), spent[min(len(spent) - 1, int(len(spent) * 0.95))]


def cursor_at(read: Callable[..., Any], page: int, **kw: Any) -> str | None:
    """The cursor that opens page `page` (1-based) of a listing."""
    cursor = None
    for _ in range(page - 1):
        cursor = read(cursor=cursor, **kw).cursor
        if cursor is None:
            break
    return cursor


def readings(store: Any) -> Iterator[tuple[str, Callable[[], Any]]]:
    """Each read the web app makes, as (name, call)."""
    headline = ChangeQuery(groups=frozenset({"headline"}))
    site = ChangeQuery(site=SITES[1])
    for name, query in (("all", ChangeQuery()), ("headline", headline), ("site", site)):
        deep = cursor_at(store.recent_changes, 100, query=query, limit=50)
        yield f"recent_changes {name} p1", lambda q=query: store.recent_changes(q, limit=50)
        yield (
            f"recent_changes {name} p100",
            lambda q=query, c=deep: store.recent_changes(q, cursor=c, limit=50),
        )
    deep = cursor_at(store.articles_page, 100, limit=50)
    yield "articles_page p1", lambda: store.articles_page(limit=50)
    yield "articles_page p100", lambda: store.articles_page(cursor=deep, limit=50)
    busiest = max(store.articles_page(limit=1000).rows, key=lambda a: a.revision_count)
    yield "checks busiest", lambda: store.checks(busiest.id, limit=50)
    yield "article_urls", lambda: store.article_urls(busiest.id)
    common, rare = _search_words(store)
    pair = Counter(itertools.pairwise(w.lower() for w in _WORDS)).most_common(1)[0][0]
    phrase, reversed_phrase = '"{} {}"'.format(*pair).lower(), '"{1} {0}"'.format(*pair).lower()
    for text in (
        common,  # in most revisions
        rare,  # in a few
        f"{common} -{rare}",
        f"{rare} OR zebra",
        f'"{common} {rare}"',
        phrase,  # a common phrase: GIN finds its words, each document is then tested
        reversed_phrase,  # common words, rare phrase: the worst case
    ):
        yield f"search {text}", lambda t=text: store.search(t, limit=20)
    for text in (common, phrase):
        deep = cursor_at(store.search, 5, text=text, limit=20)
        yield f"search {text} p5", lambda t=text, c=deep: store.search(t, cursor=c, limit=20)


def _search_words(store: Any) -> tuple[str, str]:
    """A word in a good share of revisions, and one in a few."""
    counts = Counter(w.lower() for w in _WORDS)
    text = search_text(store.revision(1, 1).page).lower().split()
    words = [w for w in text if w.isalpha() and len(w) > 3]
    known = [w for w in words if counts[w]]
    return max(known, key=counts.__getitem__), min(known, key=counts.__getitem__)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a database URL (default: a scratch PostgreSQL schema)")
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--revisions", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the scratch schema")
    parser.add_argument("--time-only", metavar="URL", help="time the reads on a filled database")
    args = parser.parse_args()
    if args.time_only:
        report(args.time_only, args.runs)
        return
    from tests.databases import scratch_schema

    with scratch_schema(prefix="webdata", keep=args.keep) as scratch:
        url = args.url or scratch
        start = time.perf_counter()
        fill(url, args.articles, args.revisions, args.seed)
        print(f"filled {url}: {args.articles:,} articles, {args.revisions:,} revisions"
              f" in {time.perf_counter() - start:.1f} s")  # fmt: skip
        report(url, args.runs)


def report(url: str, runs: int) -> None:
    """Print p50 and p95 of every read on the store at `url`."""
    _init_worker()
    store = open_store(url)
    try:
        print(f"{'read':<44} {'p50 ms':>8} {'p95 ms':>8}")
        for name, run in readings(store):
            p50, p95 = timed(run, runs)
            print(f"{name:<44} {p50:8.1f} {p95:8.1f}")
    finally:
        store.close()


if __name__ == "__main__":
    main()
