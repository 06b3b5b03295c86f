"""Body extraction quality and speed on the 91-page corpus, scored as its README says.

    python bench/extraction.py [--corpus DIR] [--passes 3] [--worst 10] [--no-noise] [--json]
    python bench/extraction.py --folds 5 --no-speed --no-noise   # per fold, beside trafilatura
    python bench/extraction.py --folds 5 --tune --no-speed --no-noise   # constants held out

Quality: 4-token `\\w+` shingles, per-page precision and recall averaged over pages, F1 from the
averages; accuracy = share of pages whose token sequence equals the truth. `--folds K` also
scores K folds of the pages, split by site (a site's pages always share a fold), each beside
plain trafilatura on the same pages: what a change does to pages it was not tuned on (with
noise figures per fold unless --no-noise). `--tune` chooses each tunable constant of extraction
on K-1 folds and scores the fold left out (bench/folds.py).
Speed: one untimed warm-up pass, then timed passes, medians per page; run it pinned
(`taskset -c 1`).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.folds import fold_of, held_out, verdict  # noqa: E402
from redline.crawler.extract import extract  # noqa: E402
from redline.crawler.extract.core import _lxml_tree  # noqa: E402,F401  (warms trafilatura imports)
from redline.crawler.urls import registrable_domain  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "extraction"
_TOKEN = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def shingles(toks: list[str], n: int = 4) -> Counter[tuple[str, ...]]:
    """Runs of n tokens; a text shorter than n is one shorter shingle, an empty one none."""
    grams = (tuple(toks[i : i + n]) for i in range(max(len(toks) - n + 1, 1)))
    return Counter(g for g in grams if g)


def page_counts(predicted: str, truth: str) -> tuple[float, float, float]:
    """tp, fp, fn over the two shingle multisets, normalised to sum to 1 (when not all 0)."""
    pred, true = shingles(tokens(predicted)), shingles(tokens(truth))
    tp = sum((pred & true).values())
    fp = sum((pred - true).values())
    fn = sum((true - pred).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def page_scores(predicted: str, truth: str) -> tuple[float | None, float | None]:
    """Per-page precision and recall, as the benchmark's evaluate.py defines them.

    Precision is None (left out of the average) when nothing was predicted, recall when the
    truth is empty; a page with neither false positives nor false negatives scores 1.
    """
    tp, fp, fn = page_counts(predicted, truth)
    perfect = fp == fn == 0
    precision = None if tp + fp == 0 else (1.0 if perfect else tp / (tp + fp))
    recall = None if tp + fn == 0 else (1.0 if perfect else tp / (tp + fn))
    return precision, recall


def load_corpus(folder: Path = CORPUS) -> list[tuple[str, str, bytes, str]]:
    truth = json.loads((folder / "ground-truth.json").read_text("utf-8"))
    pages = []
    for key in sorted(truth):
        raw = gzip.decompress((folder / "html" / f"{key}.html.gz").read_bytes())
        pages.append((key, truth[key]["url"], raw, truth[key]["articleBody"]))
    return pages


def score(pages: list[tuple[str, str, bytes, str]]) -> dict:
    rows = []
    for key, url, raw, truth in pages:
        page = extract(raw, url).page
        p, r = page_scores(page.text, truth)
        rows.append((key, url, p, r, tokens(page.text) == tokens(truth), str(page.kind)))
    precision = statistics.fmean(r[2] for r in rows if r[2] is not None)
    recall = statistics.fmean(r[3] for r in rows if r[3] is not None)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    rows = [(k, u, p or 0.0, r or 0.0, acc, kind) for k, u, p, r, acc, kind in rows]
    worst = sorted(rows, key=lambda r: 2 * r[2] * r[3] / ((r[2] + r[3]) or 1))
    return {
        "pages": len(rows),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "accuracy": round(sum(r[4] for r in rows) / len(rows), 4),
        "worst": [
            {"id": k[:12], "url": u, "precision": round(p, 3), "recall": round(r, 3), "kind": kd}
            for k, u, p, r, _, kd in worst
        ],
    }


def by_fold(pages: list[tuple[str, str, bytes, str]], folds: int, noise: bool) -> list[dict]:
    """Every quality figure per fold, for Redline and for plain trafilatura on the same pages."""
    import trafilatura

    rows = []
    for fold in range(folds):
        chosen = [p for p in pages if fold_of(p[1], folds) == fold]
        plain = [trafilatura.extract(raw, url=url) or "" for _, url, raw, _ in chosen]
        ours = [extract(raw, url).page.text for _, url, raw, _ in chosen]
        truths = [truth for _, _, _, truth in chosen]
        row = {
            "fold": fold,
            "pages": len(chosen),
            "sites": len({registrable_domain(p[1]) for p in chosen}),
            "redline": _fold_scores(ours, truths),
            "trafilatura": _fold_scores(plain, truths),
        }
        row["redline"]["accuracy"] = _exact(ours, truths)
        row["trafilatura"]["accuracy"] = _exact(plain, truths)
        row["redline"]["bylines"] = _bylines(chosen, "redline")
        row["trafilatura"]["bylines"] = _bylines(chosen, "trafilatura")
        if noise:
            from bench.noise import stability

            row["noise"] = stability(chosen)
        rows.append(row)
    return rows


def _fold_scores(texts: list[str], truths: list[str]) -> dict:
    pairs = list(zip(texts, truths, strict=True))
    return _averages([page_scores(text, truth) for text, truth in pairs])


def _bylines(pages: list[tuple[str, str, bytes, str]], reader: str) -> str:
    """Bylines equal to the hand labels, of the pages that show one (and any reported where
    the page shows none)."""
    from bench.bylines import LABELS, outcome, redline_byline, tally, trafilatura_byline

    read = redline_byline if reader == "redline" else trafilatura_byline
    labels = json.loads(LABELS.read_text("utf-8"))
    found = [outcome(read(raw, url), labels[key]["byline"]) for key, url, raw, _ in pages]
    counts = tally(found)
    return f"{counts['exact']}/{counts['shows']}, {counts['spurious']} spurious"


def _exact(texts: list[str], truths: list[str]) -> str:
    pairs = zip(texts, truths, strict=True)
    return f"{sum(tokens(text) == tokens(truth) for text, truth in pairs)}/{len(texts)}"


def _page_score(url: str, raw: bytes, truth: str) -> tuple[float | None, float | None]:
    return page_scores(extract(raw, url).page.text, truth)


def _averages(scores: list[tuple[float | None, float | None]]) -> dict:
    precision = statistics.fmean(p for p, _ in scores if p is not None)
    recall = statistics.fmean(r for _, r in scores if r is not None)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"P": round(precision, 4), "R": round(recall, 4), "F1": round(f1, 4)}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _timed(call, *args, **kwargs) -> tuple[float, float, object]:
    """Wall and CPU milliseconds one call took, and what it returned.

    CPU time (this thread's) is the figure to trust on a shared machine: wall time also counts
    the moments another process held the core.
    """
    c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
    result = call(*args, **kwargs)
    return (time.perf_counter_ns() - t0) / 1e6, (time.thread_time_ns() - c0) / 1e6, result


def timings(pages: list[tuple[str, str, bytes, str]], passes: int) -> dict:
    """Full extraction, trafilatura alone (for scale) and the fast re-check, per page.

    Each pass times every page; the figures are medians over passes of per-pass medians and
    p99s. The re-check learns on one load of the page and re-checks another load in which only
    the furniture around the article changed (a rotated trending list).
    """
    import trafilatura

    from bench.noise import apply_noise
    from redline.crawler.extract.body import TRAFILATURA_OPTIONS

    loads = []
    for _, url, raw, _ in pages:
        first = extract(apply_noise(raw, "none"), url)
        loads.append((url, raw, raw.decode("utf-8"), first, apply_noise(raw, "trending", seed=7)))
    for url, raw, _, _, _ in loads:  # warm-up
        extract(raw, url)
    figures: dict[str, list[float]] = {}
    reused = 0
    for n in range(passes):
        full, alone, recheck = [], [], []
        cpu: dict[str, list[float]] = {"full": [], "alone": [], "recheck": []}
        spent = 0.0
        reused = 0
        # Interleaved page by page, in rotating order, so that load from other work on the
        # machine hits all three alike (shared/reference/extraction-speed.md, m6).
        for url, raw, text, first, noisy in loads:
            for step in (0, 1, 2)[n % 3 :] + (0, 1, 2)[: n % 3]:
                if step == 0:
                    took, used, _ = _timed(extract, raw, url)
                    full.append(took)
                    cpu["full"].append(used)
                    spent += took
                elif step == 1:
                    took, used, _ = _timed(trafilatura.extract, text, **TRAFILATURA_OPTIONS)
                    alone.append(took)
                    cpu["alone"].append(used)
                else:
                    took, used, again = _timed(
                        extract, noisy, url, memory=first.memory, previous=first.page
                    )
                    recheck.append(took)
                    cpu["recheck"].append(used)
                    reused += again.reused  # type: ignore[attr-defined]
        figures.setdefault("rate", []).append(len(loads) / (spent / 1000))
        for name, values in (("full", full), ("alone", alone), ("recheck", recheck)):
            figures.setdefault(f"{name}_median", []).append(statistics.median(values))
            figures.setdefault(f"{name}_p99", []).append(_percentile(values, 0.99))
            figures.setdefault(f"{name}_cpu_median", []).append(statistics.median(cpu[name]))
            figures.setdefault(f"{name}_cpu_p99", []).append(_percentile(cpu[name], 0.99))
    med = {k: statistics.median(v) for k, v in figures.items()}
    return {
        "pages_per_second": round(med["rate"], 1),
        "full_median_ms": round(med["full_median"], 2),
        "full_p99_ms": round(med["full_p99"], 2),
        "trafilatura_alone_median_ms": round(med["alone_median"], 2),
        "trafilatura_alone_p99_ms": round(med["alone_p99"], 2),
        "recheck_median_ms": round(med["recheck_median"], 3),
        "recheck_p99_ms": round(med["recheck_p99"], 3),
        "recheck_reused": f"{reused}/{len(loads)}",
        "cpu_full_median_ms": round(med["full_cpu_median"], 2),
        "cpu_full_p99_ms": round(med["full_cpu_p99"], 2),
        "cpu_trafilatura_alone_median_ms": round(med["alone_cpu_median"], 2),
        "cpu_recheck_median_ms": round(med["recheck_cpu_median"], 3),
        "cpu_recheck_p99_ms": round(med["recheck_cpu_p99"], 3),
        "passes": passes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--worst", type=int, default=10)
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--no-noise", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--folds", type=int, default=0, help="also score K folds by site")
    parser.add_argument(
        "--tune", action="store_true", help="with --folds: choose each constant on K-1 folds"
    )
    args = parser.parse_args()
    pages = load_corpus(args.corpus)
    result = score(pages)
    result["worst"] = result["worst"][: args.worst]
    if args.folds:
        result["folds"] = by_fold(pages, args.folds, noise=not args.no_noise)
        if args.tune:
            result["tuning"] = held_out(pages, args.folds, _page_score)
    if not args.no_speed:
        result["speed"] = timings(pages, args.passes)
    if not args.no_noise:
        from bench.noise import stability

        result["noise"] = stability(pages)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"pages {result['pages']}  P {result['precision']}  R {result['recall']}  "
        f"F1 {result['f1']}  accuracy {result['accuracy']}"
    )
    print("worst pages (id, P, R, url):")
    for row in result["worst"]:
        p, r = row["precision"], row["recall"]
        print(f"  {row['id']}  {p:.3f}  {r:.3f}  {row['kind']}  {row['url']}")
    for row in result.get("folds", []):
        print(f"fold {row['fold']}: {row['pages']} pages, {row['sites']} sites  "
              f"redline {row['redline']}  trafilatura {row['trafilatura']}")  # fmt: skip
        for key, value in row.get("noise", {}).items():
            if key != "per_kind":
                print(f"    {key}: {value}")
    for row in result.get("tuning", []):
        print(f"tuned {row['tunable']} (shipped {row['shipped']}): {verdict(row)}")
        for r in row["folds"]:
            print(f"    fold {r['fold']}: others choose {r['chosen']}, held-out F1 "
                  f"{r['held_out_f1']} (shipped value {r['shipped_f1']})")  # fmt: skip
    for section in ("speed", "noise"):
        if section in result:
            print(f"{section}:")
            for key, value in result[section].items():
                print(f"  {key}: {value}")


if __name__ == "__main__":
    main()
