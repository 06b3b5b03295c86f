"""Byline quality on the 91-page corpus, per fold, beside trafilatura's metadata.

    python bench/bylines.py [--folds 5] [--misses] [--json]

Labels: tests/fixtures/bylines.json, written by hand from what each page shows a reader (see
tests/fixtures/bylines.README.md). Two bylines match when their name sets are equal after
Unicode, case, whitespace and full-stop normalisation ("Sarah E. Needleman" = "sarah e
needleman"); "partial" means they share a name but are not equal. Per fold (a site's pages
always share a fold, `bench.extraction.fold_of`): pages that show a byline, exact and partial
matches among them, misses (nothing reported), and wrong bylines on pages that show none.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.extraction import CORPUS, fold_of, load_corpus  # noqa: E402
from redline.crawler.extract import extract  # noqa: E402

LABELS = ROOT / "tests" / "fixtures" / "bylines.json"


def name_key(name: str) -> str:
    text = unicodedata.normalize("NFKC", name).replace(".", " ")
    return " ".join(text.split()).casefold()


def name_set(names: Iterable[str]) -> frozenset[str]:
    return frozenset(key for key in map(name_key, names) if key)


def redline_byline(raw: bytes, url: str) -> tuple[str, ...]:
    return extract(raw, url).page.byline


def trafilatura_byline(raw: bytes, url: str) -> tuple[str, ...]:
    import trafilatura

    found = trafilatura.extract_metadata(raw.decode("utf-8", "replace"), default_url=url)
    author = found.author if found is not None else None
    return tuple(a.strip() for a in (author or "").split(";") if a.strip())


def outcome(found: tuple[str, ...], label: list[str]) -> str:
    """One of: exact, partial, missed, wrong (shows one); none, spurious (shows none)."""
    got, want = name_set(found), name_set(label)
    if not want:
        return "spurious" if got else "none"
    if got == want:
        return "exact"
    if got & want:
        return "partial"
    return "wrong" if got else "missed"


def tally(outcomes: list[str]) -> dict[str, int]:
    shows = [o for o in outcomes if o not in ("none", "spurious")]
    return {
        "shows": len(shows),
        "exact": outcomes.count("exact"),
        "partial": outcomes.count("partial"),
        "missed": outcomes.count("missed"),
        "wrong": outcomes.count("wrong"),
        "spurious": outcomes.count("spurious"),
    }


def evaluate(
    folds: int, readers: dict[str, Callable[[bytes, str], tuple[str, ...]]]
) -> tuple[list[dict], list[dict]]:
    labels = json.loads(LABELS.read_text("utf-8"))
    rows: list[dict] = []
    for key, url, raw, _ in load_corpus(CORPUS):
        label = labels[key]["byline"]
        row = {"id": key[:10], "url": url, "fold": fold_of(url, folds), "label": label}
        for name, read in readers.items():
            found = read(raw, url)
            row[name] = {"found": list(found), "outcome": outcome(found, label)}
        rows.append(row)
    table = []
    for fold in [*range(folds), None]:
        chosen = [r for r in rows if fold is None or r["fold"] == fold]
        entry: dict = {"fold": "all" if fold is None else fold, "pages": len(chosen)}
        for name in readers:
            entry[name] = tally([r[name]["outcome"] for r in chosen])
        table.append(entry)
    return table, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--misses", action="store_true", help="list every page not exact")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    readers = {"redline": redline_byline, "trafilatura": trafilatura_byline}
    table, rows = evaluate(args.folds, readers)
    if args.json:
        print(json.dumps({"folds": table, "pages": rows}, indent=2, ensure_ascii=False))
        return
    print("fold pages shows |  redline exact partial missed wrong spurious"
          " | trafilatura exact partial missed wrong spurious")  # fmt: skip
    for entry in table:
        cells = [f"{entry['fold']!s:>4} {entry['pages']:>5} {entry['redline']['shows']:>5}"]
        for name in readers:
            t = entry[name]
            share = t["exact"] / t["shows"] if t["shows"] else 0.0
            cells.append(
                f"{t['exact']:>3} ({share:4.0%}) {t['partial']:>7} {t['missed']:>6}"
                f" {t['wrong']:>5} {t['spurious']:>8}"
            )
        print(" |        ".join(cells))
    if args.misses:
        for row in rows:
            if row["redline"]["outcome"] not in ("exact", "none"):
                print(f"{row['fold']} {row['id']} {row['redline']['outcome']:<8} "
                      f"label={row['label']} redline={row['redline']['found']} "
                      f"trafilatura={row['trafilatura']['found']}")  # fmt: skip


if __name__ == "__main__":
    main()
