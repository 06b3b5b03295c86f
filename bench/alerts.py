"""Alert delivery: latency from a revision to the receiver's answer, and a burst of 1,000.

    python bench/alerts.py              # both backends: 40 edits, a burst of 1,000, a digest
    python bench/alerts.py --quick      # SQLite only: 15 edits, a burst of 300

Everything runs on loopback: the local news site (redline.newsite) and a webhook receiver
(tests.receivers) in this process's threads, `redline run` and `redline alerts deliver` as
subprocesses with a configuration file like a user's (one rule, one signed webhook channel).

1. Latency. `redline run` watches --articles articles re-checked every 1-2 s ([policy]); the
   bench rewrites one headline every 0.25 s. For each rewrite: the time from the check that
   found it (the payload's `fetched_at`, taken before extraction, so the figure includes
   extracting, diffing and the commit) to the moment the receiver answered. p50 and p95.
2. Burst. A site-wide headline rewrite already recorded: --burst articles, each with revision 2
   and its outbox row (written through the Store API, as a check pass would). Then `redline run`
   starts, and the bench times from its start, and from the first message to the last, until
   the receiver has every message; duplicates (the same idempotency key twice) are counted.
3. Digest. The same burst for a digest rule: `redline alerts deliver` must send one message
   for the rule, whatever the burst's size.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redline.newsite import NewsSite  # noqa: E402
from redline.storage import Change, ChangeClass, ChangeKind, Page, PlannedAlert, open_store  # noqa: E402
from tests.databases import PG_URL, scratch_schema  # noqa: E402
from tests.receivers import WebhookReceiver  # noqa: E402
from tests.records import revision  # noqa: E402
from tests.waiting import wait_until  # noqa: E402

SECRET = "bench-secret"


@contextmanager
def database(backend: str, directory: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{directory / f'alerts-{time.monotonic_ns()}.sqlite'}"
        return
    with scratch_schema(PG_URL, prefix="bench") as url:
        yield url


def write_config(path: Path, hook: WebhookReceiver, *, mode: str = "immediate") -> Path:
    digest = 'mode = "digest"\nevery = "1h"\n' if mode == "digest" else ""
    path.write_text(
        "allow_private_networks = true\n"
        '[policy]\nmin_interval = "1s"\nmax_interval = "2s"\njitter = 0\n'
        "[crawl]\nautothrottle = false\nper_host = 8\n"
        f'[alerts.channels.desk]\nurl = "{hook.url()}"\nsecret_env = "DESK_SECRET"\n'
        f'[[alerts.rules]]\nname = "headlines"\nwhen = ["headline_changed"]\n'
        f'channels = ["desk"]\n{digest}'
    )
    return path


def environment(db_url: str, config: Path) -> dict[str, str]:
    return {
        **os.environ,
        "REDLINE_DATABASE_URL": db_url,
        "REDLINE_CONFIG": str(config),
        "DESK_SECRET": SECRET,
        "PYTHONPATH": str(ROOT),
    }


def redline(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "redline", *args], env=env, cwd=ROOT, capture_output=True,
        text=True, timeout=600, check=True,
    )  # fmt: skip


@contextmanager
def daemon(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "redline", "run"], env=env, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=sink,
        )  # fmt: skip
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


# --- 1. latency ---------------------------------------------------------------------------------
def latency(backend: str, articles: int, edits: int, directory: Path) -> dict:
    with (
        NewsSite(articles=articles, live_items=0) as site,
        WebhookReceiver() as hook,
        database(backend, directory) as db,
    ):
        env = environment(db, write_config(directory / "latency.toml", hook))
        urls = [site.article_url(a.slug) for a in site.articles]
        redline(env, "add", *urls)
        with open_store(db) as store, daemon(env, directory / f"latency-{backend}.log"):
            wait_until(
                lambda: all(a.revision_count for a in store.list_articles()), 120, "first checks"
            )
            headlines = {}
            for n in range(edits):
                article = site.articles[n % len(site.articles)]
                headlines[f"Rewritten headline number {n}"] = article.slug
                site.edit(article.slug, headline=f"Rewritten headline number {n}")
                time.sleep(0.25)
            wait_until(lambda: _seen(hook, headlines) == set(headlines), 120, "every rewrite")
    delays = []
    for received in hook.delivered():
        payload = received.json
        if payload["new_headline"] in headlines:
            fetched = datetime.fromisoformat(payload["fetched_at"]).timestamp()
            delays.append(received.wall - fetched)
    delays.sort()
    return {
        "edits": edits,
        "messages": len(delays),
        "p50_s": round(statistics.median(delays), 3),
        "p95_s": round(delays[max(0, int(len(delays) * 0.95) - 1)], 3),
        "max_s": round(delays[-1], 3),
        "signed": all(r.signed_by(SECRET) for r in hook.requests),
    }


def _seen(hook: WebhookReceiver, headlines: dict[str, str]) -> set[str]:
    return {r.json["new_headline"] for r in hook.delivered()} & set(headlines)


# --- 2 and 3. a burst ---------------------------------------------------------------------------
def record_burst(db: str, site: NewsSite, count: int, *, digest: bool) -> None:
    """`count` articles, each with a first version and a headline rewrite carrying its alert,
    not due for a day (the daemon only sends)."""
    now = datetime.now(UTC)
    later = now + timedelta(days=1)
    group = "d|headlines|desk" if digest else None
    with open_store(db) as store:
        for n, article in enumerate(site.articles[:count]):
            aid, _ = store.add_article(site.article_url(article.slug), now)
            old = Page(headline=article.headline, body=tuple(article.body))
            new = Page(headline=f"Site-wide rewrite {n}", body=tuple(article.body))
            change = Change(
                "headline",
                ChangeKind.CHANGED,
                ChangeClass.REWRITE,
                old.headline,
                new.headline,
                words_added=3,
                words_removed=3,
            )
            alert = PlannedAlert("headlines", "desk", ("headline_changed",), now, group_key=group)
            store.record_many([
                revision(aid.id, f"b{n}-1", old, next_at=later),
                revision(aid.id, f"b{n}-2", new, base=1, changes=[change], alerts=[alert],
                         next_at=later),
            ])  # fmt: skip


def burst(backend: str, count: int, directory: Path) -> dict:
    with (
        NewsSite(articles=count, live_items=0) as site,
        WebhookReceiver() as hook,
        database(backend, directory) as db,
    ):
        env = environment(db, write_config(directory / "burst.toml", hook))
        record_burst(db, site, count, digest=False)
        started = time.monotonic()
        with daemon(env, directory / f"burst-{backend}.log"):
            wait_until(lambda: len(hook.delivered()) >= count, 120, "the whole burst")
            done = time.monotonic()
        keys = Counter(r.key for r in hook.requests)
        arrivals = [r.at for r in hook.requests]
    return {
        "alerts": count,
        "received": len(hook.requests),
        "duplicates": sum(n - 1 for n in keys.values()),
        "from_start_s": round(done - started, 2),
        "first_to_last_s": round(max(arrivals) - min(arrivals), 2),
    }


def digest(backend: str, count: int, directory: Path) -> dict:
    with (
        NewsSite(articles=count, live_items=0) as site,
        WebhookReceiver() as hook,
        database(backend, directory) as db,
    ):
        env = environment(db, write_config(directory / "digest.toml", hook, mode="digest"))
        record_burst(db, site, count, digest=True)
        started = time.monotonic()
        out = redline(env, "alerts", "deliver", "--json")
        elapsed = time.monotonic() - started
        payloads = [r.json for r in hook.requests]
    return {
        "alerts": count,
        "messages": len(payloads),
        "count_in_message": payloads[0]["count"] if payloads else 0,
        "deliver_s": round(elapsed, 2),
        "report": json.loads(out.stdout),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--articles", type=int, default=20, help="watched in the latency run")
    parser.add_argument("--edits", type=int, default=40)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="SQLite, 15 edits, a burst of 300")
    parser.add_argument("--json", dest="json_to", type=Path, help="also write results here")
    args = parser.parse_args(argv)
    if args.quick:
        args.backend, args.edits, args.burst = "sqlite", 15, 300
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="redline-bench-alerts-") as tmp:
        for backend in backends:
            directory = Path(tmp)
            results[backend] = {
                "latency": latency(backend, args.articles, args.edits, directory),
                "burst": burst(backend, args.burst, directory),
                "digest": digest(backend, args.burst, directory),
            }
            print(json.dumps({backend: results[backend]}, indent=2), flush=True)
    if args.json_to:
        args.json_to.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
