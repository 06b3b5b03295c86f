"""Body extraction quality and speed on the 91-page corpus, scored as its README says.

    python bench/extraction.py [--corpus DIR] [--passes 3] [--worst 10] [--no-noise] [--json]

Quality: 4-token `\\w+` shingles, per-page precision and recall averaged over pages, F1 from the
averages; accuracy = share of pages whose token sequence equals the truth. Speed: one untimed
warm-up pass, then timed passes, medians per page; run it pinned (`taskset -c 1`).
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

from crawler.extract import extract  # noqa: E402
from crawler.extract.core import _lxml_tree  # noqa: E402,F401  (warms trafilatura imports)

CORPUS = ROOT.parent / "shared" / "corpus" / "extraction"
_TOKEN = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def shingles(toks: list[str], n: int = 4) -> Counter[tuple[str, ...]]:
    return Counter(tuple(toks[i : i + n]) for i in range(max(len(toks) - n + 1, 1)))


def page_scores(predicted: str, truth: str) -> tuple[float, float]:
    """Per-page precision and recall over shingle multisets (the benchmark's evaluate.py)."""
    pred, true = shingles(tokens(predicted)), shingles(tokens(truth))
    tp = sum((pred & true).values())
    fp = sum((pred - true).values())
    fn = sum((true - pred).values())
    total = tp + fp + fn
    if total == 0:
        return 1.0, 1.0
    tp, fp, fn = tp / total, fp / total, fn / total
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
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
    precision = statistics.fmean(r[2] for r in rows)
    recall = statistics.fmean(r[3] for r in rows)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
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


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timings(pages: list[tuple[str, str, bytes, str]], passes: int) -> dict:
    """Full extraction and fast re-check, each per page, medians of per-pass figures."""
    from bench.noise import apply_noise

    for _, url, raw, _ in pages:  # warm-up
        extract(raw, url)
    full_med, full_p99, rate, re_med, re_p99, reused = [], [], [], [], [], 0
    learnt = {}
    for _, url, raw, _ in pages:
        first = extract(raw, url)
        noisy = apply_noise(raw, "trending", seed=7)
        learnt[url] = (first, noisy)
    for _ in range(passes):
        times = []
        start = time.perf_counter()
        for _, url, raw, _ in pages:
            t0 = time.perf_counter_ns()
            extract(raw, url)
            times.append((time.perf_counter_ns() - t0) / 1e6)
        rate.append(len(pages) / (time.perf_counter() - start))
        full_med.append(statistics.median(times))
        full_p99.append(_percentile(times, 0.99))
        rtimes = []
        reused = 0
        for _, url, _, _ in pages:
            first, noisy = learnt[url]
            t0 = time.perf_counter_ns()
            again = extract(noisy, url, memory=first.memory, previous=first.page)
            rtimes.append((time.perf_counter_ns() - t0) / 1e6)
            reused += again.reused
        re_med.append(statistics.median(rtimes))
        re_p99.append(_percentile(rtimes, 0.99))
    return {
        "pages_per_second": round(statistics.median(rate), 1),
        "full_median_ms": round(statistics.median(full_med), 2),
        "full_p99_ms": round(statistics.median(full_p99), 2),
        "recheck_median_ms": round(statistics.median(re_med), 3),
        "recheck_p99_ms": round(statistics.median(re_p99), 3),
        "recheck_reused": f"{reused}/{len(pages)}",
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
    args = parser.parse_args()
    pages = load_corpus(args.corpus)
    result = score(pages)
    result["worst"] = result["worst"][: args.worst]
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
    for section in ("speed", "noise"):
        if section in result:
            print(f"{section}:")
            for key, value in result[section].items():
                print(f"  {key}: {value}")


if __name__ == "__main__":
    main()
