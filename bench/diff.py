"""Speed and output size of the differ on generated articles, beside pure-Python diff-match-patch.

    taskset -c 1 python bench/diff.py [--runs 7] [--dmp-runs 3] [--no-dmp] [--json]

Articles of 1,000 and 8,000 words are generated deterministically by an order-2 word Markov chain
trained on the extraction corpus' ground-truth bodies (read-only), in paragraphs of 2-6 sentences.
Edits: one sentence changed, a paragraph inserted, a paragraph moved, 30% of sentences
rewritten, and two unrelated texts. Each figure is the median ms of several runs after one
warm-up. Columns:
- diff_texts: crawler.diff.diff_texts (what is stored and rendered), wall time, and in brackets
  the process CPU time, which other work on a shared machine disturbs much less;
- compare: the whole body Change (diff, classification, notes, patch) via crawler.diff.compare,
  wall (and CPU) time;
- dmp: pure-Python diff_match_patch().diff_main(old, new) with its defaults (Diff_Timeout=1.0,
  character level); "degraded" when it ran into its timeout (the whole stretch replaced).
Every diff is checked to rebuild both texts, and every stored patch to rebuild the new text.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from diff_match_patch import diff_match_patch  # noqa: E402

from redline.crawler.diff import apply_patch, compare, diff_texts, to_patch  # noqa: E402
from redline.storage.model import Page  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "extraction" / "ground-truth.json"
_SENTENCE_END = re.compile(r"[.!?][\"'”’]?$")


class Prose:
    """An order-2 word Markov chain over the corpus bodies: fluent-looking, deterministic."""

    def __init__(self, corpus: Path = CORPUS) -> None:
        truth = json.loads(corpus.read_text("utf-8"))
        self.chain: dict[tuple[str, str], list[str]] = {}
        self.starts: list[tuple[str, str]] = []
        for key in sorted(truth):
            words = truth[key]["articleBody"].split()
            for a, b, c in zip(words, words[1:], words[2:], strict=False):
                self.chain.setdefault((a, b), []).append(c)
                if _SENTENCE_END.search(a) and b[:1].isupper():
                    self.starts.append((b, c))

    def sentence(self, rnd: random.Random) -> str:
        a, b = rnd.choice(self.starts)
        words = [a, b]
        while not _SENTENCE_END.search(words[-1]) or len(words) < 6:
            nexts = self.chain.get((a, b))
            if not nexts or len(words) > 45:
                words[-1] = words[-1].rstrip(",;:") + "."
                break
            a, b = b, rnd.choice(nexts)
            words.append(b)
        return " ".join(words)

    def article(self, words: int, seed: int) -> list[list[str]]:
        """Paragraphs as lists of sentences, about `words` words in all."""
        rnd = random.Random(seed)
        paragraphs: list[list[str]] = []
        count = 0
        while count < words:
            paragraph = [self.sentence(rnd) for _ in range(rnd.randint(2, 6))]
            count += sum(len(s.split()) for s in paragraph)
            paragraphs.append(paragraph)
        return paragraphs


def join(paragraphs: list[list[str]]) -> str:
    return "\n\n".join(" ".join(p) for p in paragraphs)


def cases(prose: Prose, words: int) -> dict[str, tuple[str, str]]:
    base = prose.article(words, seed=words)
    rnd = random.Random(words + 1)
    middle = len(base) // 2

    one = [list(p) for p in base]
    one[middle][len(one[middle]) // 2] = prose.sentence(rnd)

    inserted = [list(p) for p in base]
    inserted.insert(middle, [prose.sentence(rnd) for _ in range(4)])

    moved = [list(p) for p in base]
    moved.insert(len(moved) - 2, moved.pop(len(moved) // 3))

    rewritten = [[prose.sentence(rnd) if rnd.random() < 0.3 else s for s in p] for p in base]

    other = join(prose.article(words, seed=words + 99))
    old = join(base)
    return {
        "one sentence changed": (old, join(one)),
        "paragraph inserted": (old, join(inserted)),
        "paragraph moved": (old, join(moved)),
        "30% of sentences rewritten": (old, join(rewritten)),
        "two unrelated texts": (old, other),
    }


def median_ms(fn: Callable[[], object], runs: int, clock: Callable[[], float]) -> float:
    fn()
    times = []
    for _ in range(runs):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times) * 1000


def body_page(text: str) -> Page:
    return Page(headline="x", body=tuple(text.split("\n\n")))


def measure(old: str, new: str, runs: int, dmp_runs: int) -> dict[str, object]:
    diff = diff_texts(old, new)
    assert diff.old == old and diff.new == new
    assert apply_patch(old, to_patch(diff)) == new
    before, after = body_page(old), body_page(new)
    (change,) = compare(before, after)
    wall, cpu = time.perf_counter, time.process_time
    row: dict[str, object] = {
        "diff_texts_ms": median_ms(lambda: diff_texts(old, new), runs, wall),
        "diff_texts_cpu_ms": median_ms(lambda: diff_texts(old, new), runs, cpu),
        "compare_ms": median_ms(lambda: compare(before, after), runs, wall),
        "compare_cpu_ms": median_ms(lambda: compare(before, after), runs, cpu),
        "coarse": diff.coarse,
        "pieces": len(diff.pieces),
        "class": str(change.class_),
        "kind": str(change.kind),
        "words_added": change.words_added,
        "words_removed": change.words_removed,
        "similarity": change.similarity,
        "patch_bytes": len(change.patch.encode()),
    }
    if dmp_runs:
        dmp = diff_match_patch()
        ops = dmp.diff_main(old, new)
        row["dmp_ms"] = median_ms(lambda: dmp.diff_main(old, new), dmp_runs, wall)
        row["dmp_degraded"] = row["dmp_ms"] >= dmp.Diff_Timeout * 1000 * 0.95
        row["dmp_ops"] = len(ops)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--dmp-runs", type=int, default=3)
    parser.add_argument("--no-dmp", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    prose = Prose()
    results = []
    for words in (1000, 8000):
        for name, (old, new) in cases(prose, words).items():
            row = measure(old, new, args.runs, 0 if args.no_dmp else args.dmp_runs)
            results.append({"words": len(old.split()), "case": name, **row})
    if args.json:
        print(json.dumps(results, indent=2))
        return
    header = (
        "| words | case | diff_texts ms (cpu) | compare ms (cpu) | coarse | class | +words/-words"
    )
    header += " | sim | dmp ms (defaults) |"
    print(header)
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        dmp = "" if "dmp_ms" not in r else f"{r['dmp_ms']:.1f}"
        if r.get("dmp_degraded"):
            dmp += " (degraded)"
        print(
            f"| {r['words']:,} | {r['case']}"
            f" | {r['diff_texts_ms']:.2f} ({r['diff_texts_cpu_ms']:.2f})"
            f" | {r['compare_ms']:.2f} ({r['compare_cpu_ms']:.2f})"
            f" | {'yes' if r['coarse'] else 'no'} | {r['class']} ({r['kind']})"
            f" | +{r['words_added']}/-{r['words_removed']} | {r['similarity']:.2f} | {dmp} |"
        )


if __name__ == "__main__":
    main()
