"""Article checks per second for one full `redline check --all` pass, on SQLite and PostgreSQL.

    python bench/crawl.py --quick                   # 300 articles, one round, SQLite only
    python bench/crawl.py                           # 2,000 articles, 3 rounds, both backends
    python bench/crawl.py --crawl autothrottle=false --crawl per_host=16   # [crawl] settings
    python bench/crawl.py --workers 2 --pin site    # the default process pool, both cores
    python bench/crawl.py --workers 2 --no-pin      # the same, the site unpinned too
    python bench/crawl.py --urlwatch /tmp/urlwatch-venv/bin/urlwatch   # and urlwatch beside it
    python bench/crawl.py --profile prof.out --profile-pass a   # cProfile of one pass (a, b or c)

The local news site (redline.newsite.NewsSite, in this process's threads, pinned to core 0) serves
the real pages of ../shared/corpus/extraction/ under `--articles` URLs. Each round times three
passes of `redline check --all --json --workers 0` (pinned to core 1; with `--pin site`, redline
and its pool use both cores and only the site stays on core 0; `--no-pin` pins nothing):

  (a) not modified: every article answers 304 to the stored validators;
  (b) noise: every article answers 200 and only per-request noise (ads, tokens, "N minutes ago")
      changed, so the pass must record no revision;
  (c) edits: noise as in (b), and 10% of the articles really edited: a sentence appended to a
      paragraph that the corpus's ground truth marks as article text, so the pass must record
      exactly one new revision for each of them and none for the others.

Checks per second = articles / wall time of the pass, start-up included; "steady" subtracts the
start-up cost (a one-article pass). CPU seconds per check, each separately: the redline process
(user + sys, resource.getrusage(RUSAGE_CHILDREN)); its process pool with --workers N (children
of multiprocessing's forkserver, which nobody waits for: sampled from /proc every 50 ms); and
the news site's threads in this process (RUSAGE_SELF, less the sampler). PostgreSQL's own
server processes are not counted. Medians over --rounds rounds.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from redline.newsite import NewsSite  # noqa: E402
from redline.newsite.content import WORDS  # noqa: E402
from tests.databases import PG_URL, revision_counts, scratch_schema, track  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "extraction" / "html"
PARAGRAPH = re.compile(rb"<p(?:\s[^>]*)?>(?:(?!<p[\s>]).)*?</p>", re.S)


# --- the site ---------------------------------------------------------------------------------
@contextmanager
def news_site(articles: int, corpus: Path, pin: bool) -> Iterator[NewsSite]:
    """The site in this process's threads (this process only waits on `redline check`), so
    that the bench can edit the article text itself: see `edit_bodies`."""
    if pin:
        os.sched_setaffinity(0, {0})
    with NewsSite(articles=articles, live_items=0, corpus=corpus) as site:
        yield site


def body_paragraph_end(raw: bytes, body: str) -> int | None:
    """Where a paragraph from the middle of the ground-truth article body ends in `raw`
    (the middle: first paragraphs are often a standfirst that pages repeat elsewhere)."""
    wanted = " ".join(body.split())
    ends = []
    for match in PARAGRAPH.finditer(raw):
        tagged = match.group().decode("utf-8", "replace")
        text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", tagged)).split())
        if len(text) >= 80 and text in wanted:
            ends.append(match.end() - len(b"</p>"))
    return ends[len(ends) // 2] if ends else None


class BodyEditor:
    """Real edits: a sentence appended to the first paragraph of the article text that the
    corpus's ground truth marks as the body. (The site's /_control/edit appends to the first
    </p> of the page, which on most corpus pages is navigation or a teaser, not the story.)"""

    def __init__(self, site: NewsSite, corpus: Path) -> None:
        truth = json.loads((corpus.parent / "ground-truth.json").read_text())
        names = sorted(p.name for p in corpus.iterdir() if p.name.endswith((".html", ".html.gz")))
        bodies = [truth[n.split(".")[0]]["articleBody"] for n in names]
        self.site = site
        self.body = {
            a.slug: bodies[int(a.slug.rsplit("-", 1)[1]) % len(bodies)] for a in site.articles
        }

    def edit(self, fraction: float, seed: int) -> list[str]:
        rng = random.Random(seed)
        editable = [a for a in self.site.articles if self._end(a.slug) is not None]
        chosen = rng.sample(editable, round(fraction * len(self.site.articles)))
        sentence = f" Correction {seed}: an earlier version misstated the {{}} figures.".format
        for article in chosen:
            raw = self.site.article(article.slug).raw_html or b""
            end = self._end(article.slug)
            assert end is not None
            words = sentence(rng.choice(WORDS)).encode()
            self.site.edit(article.slug, raw_html=raw[:end] + words + raw[end:])
        return [self.site.article_url(a.slug) for a in chosen]

    def _end(self, slug: str) -> int | None:
        return body_paragraph_end(self.site.article(slug).raw_html or b"", self.body[slug])


# --- the database -----------------------------------------------------------------------------
@contextmanager
def database(backend: str, directory: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{directory / f'bench-{uuid.uuid4().hex[:6]}.sqlite'}"
        return
    with scratch_schema(PG_URL, "bench") as url:
        yield url


# --- one pass ---------------------------------------------------------------------------------
@dataclass
class Pass:
    seconds: float
    cpu: float  # the redline process (and the children it waited for)
    outcomes: dict[str, int] = field(default_factory=dict)
    pool_cpu: float = 0.0  # its process pool (and forkserver), sampled
    site_cpu: float = 0.0  # the news site's threads, in this process


class TreeCPU:
    """CPU seconds of the processes below `root` (the process pool and its forkserver, which
    RUSAGE_CHILDREN never sees: nobody waits for them), sampled from /proc every 50 ms; each
    process counts with the last value seen (the last 50 ms before it exits may be missed)."""

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, root: int) -> None:
        self.root, self.seen, self._stop = root, {}, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.own = 0.0  # this sampler's own CPU, left out of the site's

    def __enter__(self) -> TreeCPU:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        return sum(self.seen.values())

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            for pid in self._descendants(self.root):
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                self.seen[pid] = (int(fields[11]) + int(fields[12])) / self.TICK
        self.own = time.thread_time()

    def _descendants(self, pid: int) -> list[int]:
        found: list[int] = []
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            return found
        for task in tasks:
            try:
                children = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                found += [child, *self._descendants(child)]
        return found


def check_pass(db_url: str, args: argparse.Namespace, *targets: str) -> Pass:
    env = {
        **os.environ,
        "REDLINE_DATABASE_URL": db_url,
        "REDLINE_CONFIG": str(args.config),
        "REDLINE_ALLOW_PRIVATE_NETWORKS": "1",
    }
    command = [sys.executable, "-m", "redline", "check", *(targets or ["--all"]), "--json"]
    command += ["--workers", str(args.workers)]
    if not args.pin_cpus:
        command.append("--no-pin-cpus")
    if args.profile_to:
        command = [sys.executable, "-m", "cProfile", "-o", args.profile_to, *command[1:]]
    if args.pin != "none":  # this process is pinned to core 0, and children inherit that
        cores = "1" if args.pin == "both" else f"0-{(os.cpu_count() or 1) - 1}"
        command = ["taskset", "-c", cores, *command]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    site_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    with TreeCPU(process.pid) as pool:
        stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    site_after = resource.getrusage(resource.RUSAGE_SELF)
    if process.returncode != 0:
        raise SystemExit(f"redline check failed ({process.returncode}):\n{stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    site = (site_after.ru_utime - site_before.ru_utime) + (
        site_after.ru_stime - site_before.ru_stime
    )
    outcomes = json.loads(stdout.strip().splitlines()[-1])
    return Pass(seconds, cpu, outcomes, pool.seconds, max(site - pool.own, 0.0))


# --- the rounds -------------------------------------------------------------------------------
def run_backend(backend: str, site: NewsSite, editor: BodyEditor, args: argparse.Namespace) -> dict:
    urls = [site.article_url(a.slug) for a in site.articles]
    results: dict[str, list[Pass]] = {"a_not_modified": [], "b_noise": [], "c_edits": []}
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, database(backend, Path(tmp)) as db_url:
        track(db_url, urls)
        site.set_noise(False)
        initial = check_pass(db_url, args)
        startup = min(
            (check_pass(db_url, args, urls[0]) for _ in range(3)), key=lambda p: p.seconds
        )
        for round_number in range(args.rounds):
            site.set_noise(False)
            check_pass(db_url, args)  # takes in the validators of the noise-free pages
            results["a_not_modified"].append(a := check_pass(db_url, args))
            if a.outcomes != {"not_modified": len(urls)}:
                problems.append(f"(a) round {round_number}: {a.outcomes}")
            site.set_noise(True)
            results["b_noise"].append(b := check_pass(db_url, args))
            if b.outcomes.get("changed") or b.outcomes.get("new") or b.outcomes.get("error"):
                problems.append(f"(b) round {round_number}: noise recorded: {b.outcomes}")
            edited = editor.edit(0.1, seed=round_number + 1)
            before = revision_counts(db_url, edited)
            results["c_edits"].append(c := check_pass(db_url, args))
            after = revision_counts(db_url, edited)
            missed = [u for u in edited if after[u] != before[u] + 1]
            if missed or c.outcomes.get("changed") != len(edited):
                problems.append(
                    f"(c) round {round_number}: {len(edited)} edited, {c.outcomes}, "
                    f"{len(missed)} edits without exactly one new revision: {missed[:3]}"
                )
    return summarise(backend, len(urls), initial, startup, results, problems)


def summarise(
    backend: str,
    count: int,
    initial: Pass,
    startup: Pass,
    results: dict[str, list[Pass]],
    problems: list[str],
) -> dict:
    rows = {"initial": _row(count, [initial], startup)}
    rows |= {name: _row(count, passes, startup) for name, passes in results.items()}
    return {"backend": backend, "startup_seconds": round(startup.seconds, 2),
            "startup_cpu_seconds": round(startup.cpu, 2), "passes": rows,
            "problems": problems}  # fmt: skip


def _row(count: int, passes: list[Pass], startup: Pass) -> dict:
    seconds = statistics.median(p.seconds for p in passes)
    cpu = statistics.median(p.cpu for p in passes)
    pool = statistics.median(p.pool_cpu for p in passes)
    return {
        "checks_per_s": round(count / seconds, 1),
        "steady_checks_per_s": round(count / max(seconds - startup.seconds, 1e-3), 1),
        "cpu_ms_per_check": round(1000 * cpu / count, 2),
        "steady_cpu_ms_per_check": round(1000 * max(cpu - startup.cpu, 0) / count, 2),
        "pool_cpu_ms_per_check": round(1000 * pool / count, 2),
        "site_cpu_ms_per_check": round(
            1000 * statistics.median(p.site_cpu for p in passes) / count, 2
        ),
        "seconds": [round(p.seconds, 2) for p in passes],
        "outcomes": passes[-1].outcomes,
    }


# --- urlwatch, side by side -------------------------------------------------------------------
def run_urlwatch(urlwatch: str, site: NewsSite, urls: list[str], rounds: int, pin: bool) -> dict:
    """urlwatch 2.29 with its html2text filter over the same URLs, noise on: it reports every
    noisy page as changed. Times a full run after a first run that fills its cache."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        jobs = "\n---\n".join(f"url: {u}\nfilter:\n  - html2text" for u in urls)
        (folder / "urls.yaml").write_text(jobs + "\n")
        config = {"display": {"new": True, "error": True, "unchanged": False},
                  "report": {"text": {"details": False}, "stdout": {"enabled": True}}}  # fmt: skip
        (folder / "urlwatch.yaml").write_text(json.dumps(config))
        command = [urlwatch, "--urls", str(folder / "urls.yaml"), "--config",
                   str(folder / "urlwatch.yaml"), "--cache", str(folder / "cache.db")]  # fmt: skip
        if pin:  # the core redline runs on; the site keeps core 0
            command = ["taskset", "-c", "1", *command]
        site.set_noise(True)
        subprocess.run(command, capture_output=True, text=True, check=False)
        times, changed = [], []
        for _ in range(rounds):
            started = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            times.append(time.perf_counter() - started)
            changed.append(done.stdout.count("CHANGED: "))
    seconds = statistics.median(times)
    return {"checks_per_s": round(len(urls) / seconds, 1), "seconds": [round(t, 2) for t in times],
            "reported_changed": changed}  # fmt: skip


# --- main -------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both", "none"], default="both")
    parser.add_argument("--workers", type=int, default=0, help="redline check --workers")
    parser.add_argument(
        "--pin",
        choices=["both", "site", "none"],
        default="both",
        help="both: the site on core 0, redline on core 1; site: only the site on core 0 "
        "(redline and its pool use both cores); none: nothing pinned",
    )
    parser.add_argument("--no-pin", dest="pin", action="store_const", const="none")
    parser.add_argument(
        "--no-pin-cpus",
        dest="pin_cpus",
        action="store_false",
        help="redline check --no-pin-cpus: its pool shares the checking process's CPU",
    )
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--crawl", action="append", default=[], metavar="KEY=VALUE",
                        help="a [crawl] setting, e.g. per_host=16 autothrottle=false")  # fmt: skip
    parser.add_argument("--urlwatch", help="path of a urlwatch 2.29 executable")
    parser.add_argument("--profile", dest="profile_to", help="cProfile one pass to FILE")
    parser.add_argument("--profile-pass", choices=["a", "b", "c"], default="b")
    parser.add_argument("--quick", action="store_true", help="300 articles, 1 round, SQLite")
    parser.add_argument("--json", dest="json_to", type=Path, help="also write results here")
    args = parser.parse_args(argv)
    if args.quick:
        args.articles, args.rounds, args.backend = 300, 1, "sqlite"
    backends = {"both": ["sqlite", "postgres"], "none": []}.get(args.backend, [args.backend])
    report: dict = {"articles": args.articles, "workers": args.workers, "pinned": args.pin,
                    "crawl": args.crawl, "backends": []}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        args.config = Path(tmp) / "redline.toml"
        args.config.write_text("[crawl]\n" + "".join(f"{kv}\n" for kv in args.crawl))
        with news_site(args.articles, args.corpus, args.pin != "none") as site:
            urls = [site.article_url(a.slug) for a in site.articles]
            editor = BodyEditor(site, args.corpus)
            if args.profile_to:
                report["profile"] = profile_pass(site, editor, urls, args)
            else:
                for backend in backends:
                    report["backends"].append(run_backend(backend, site, editor, args))
                    print(json.dumps(report["backends"][-1], indent=1), flush=True)
            if args.urlwatch:
                report["urlwatch"] = run_urlwatch(
                    args.urlwatch, site, urls, args.rounds, args.pin == "both"
                )
                print(json.dumps(report["urlwatch"]), flush=True)
    if args.json_to:
        args.json_to.write_text(json.dumps(report, indent=1))
    return 1 if any(b["problems"] for b in report["backends"]) else 0


def profile_pass(
    site: NewsSite, editor: BodyEditor, urls: list[str], args: argparse.Namespace
) -> str:
    """Fill a database (--backend, SQLite by default), then profile one pass
    (--profile-pass a, b or c): where does a check go?"""
    out, args.profile_to = args.profile_to, None
    backend = args.backend if args.backend in ("sqlite", "postgres") else "sqlite"
    with tempfile.TemporaryDirectory() as tmp, database(backend, Path(tmp)) as db_url:
        track(db_url, urls)
        site.set_noise(False)
        check_pass(db_url, args)
        if args.profile_pass == "a":
            check_pass(db_url, args)  # takes in the validators
        else:
            site.set_noise(True)
            check_pass(db_url, args)
        if args.profile_pass == "c":
            editor.edit(0.1, seed=1)
        args.profile_to = out
        done = check_pass(db_url, args)
    per_check = 1000 * done.cpu / len(urls)
    return f"{out}: {done.outcomes} in {done.seconds:.1f} s, {per_check:.2f} ms CPU per check"


if __name__ == "__main__":
    sys.exit(main())
