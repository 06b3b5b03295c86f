"""Extraction time against nesting depth and page size: a regression shows as a curve.

    python bench/hostile.py [--depths 1000,10000,...] [--sizes 100,250,...] [--repeat 1]

For each depth, one article page nested that deep (nested <div>s around it), and a flat page of
the same size (as many empty sibling <div>s). Prints, per row, the page's size, the extraction
time of the deep and of the flat page, their ratio and microseconds per kilobyte, and what was
extracted. Then wide pages: the same article among many small blocks, padded to each size in KB,
in four shapes: `tiny` (`<div><p>x</p></div>` repeated), `varied` (blocks of varied words and a
link each, no two alike in a row), `inline` (one paragraph of thousands of `<b>` words, the
worst case of trafilatura's `//p//text()`) and `cut` (one paragraph of words between thousands
of `<input>`s, which extraction cuts: a run of as many text nodes). Per size and shape:
milliseconds, microseconds per kilobyte, and what was extracted. Near-linear extraction keeps
the ratio small and us/KB about constant down each table; run it pinned (`taskset -c 1`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redline.crawler.extract import extract_page  # noqa: E402
from redline.crawler.extract.core import _lxml_tree  # noqa: E402,F401  (warms trafilatura imports)

URL = "https://news.example.com/2024/05/council-bridge"
PARAGRAPHS = "".join(
    f"<p>On item {i} the members turned to the budget and spent {i + 3} minutes on it, "
    f"before the chair called the vote on report {i * 7}.</p>"
    for i in range(10)
)


def page(before: str = "", after: str = "") -> bytes:
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Council approves the bridge"
        "</title></head><body><nav><a href='/'>Home</a></nav><main>"
        f"{before}<article><h1>Council approves the bridge</h1>{PARAGRAPHS}</article>{after}"
        "</main><footer>Example News</footer></body></html>"
    ).encode()


WORDS = ("bridge", "budget", "vote", "river", "council", "school", "road", "park", "tax", "plan")


def _varied(i: int) -> str:
    words = " ".join(WORDS[(i * k + k) % len(WORDS)] for k in range(1 + i % 4))
    return f"<div><p>{words} {i} <a href='/t/{i % 101}'>{WORDS[i % 7]}</a></p></div>"


SHAPES = {
    "tiny": lambda i: "<div><p>x</p></div>",
    "varied": _varied,
    "inline": lambda i: f"<b>{WORDS[i % 10]}</b> ",
    "cut": lambda i: f"<input>{WORDS[i % 10]} ",
}


def wide(shape: str, size: int) -> bytes:
    """The article page padded with `shape`'s blocks to about `size` bytes."""
    make = SHAPES[shape]
    blocks: list[str] = []
    total = i = 0
    while total < size:
        blocks.append(make(i))
        total += len(blocks[-1])
        i += 1
    padding = "".join(blocks)
    return page(f"<p>{padding}</p>" if shape in ("inline", "cut") else padding)


def timed(html: bytes, repeat: int) -> tuple[float, str]:
    best = float("inf")
    kind = ""
    for _ in range(repeat):
        start = time.perf_counter()
        found = extract_page(html, URL)
        best = min(best, time.perf_counter() - start)
        kind = f"{found.kind.value}/{len(found.body)}p"
    return best, kind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", default="1000,10000,25000,50000,100000,200000")
    parser.add_argument(
        "--sizes", default="100,250,500,1000,2000", help="KB, for the wide pages' table"
    )
    parser.add_argument("--shapes", default=",".join(SHAPES), help="of the wide pages")
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs per page")
    args = parser.parse_args()
    depths = [int(d) for d in args.depths.split(",")]
    timed(page(), 2)  # warm-up

    print("nesting depth (deep page vs a flat page of the same size)")
    print(
        f"{'depth':>8} {'size KB':>8} {'deep ms':>9} {'flat ms':>9} {'ratio':>6} "
        f"{'deep us/KB':>10}  extracted"
    )
    for depth in depths:
        deep = page("<div>" * depth + "<section>", "</section>" + "</div>" * depth)
        flat = page("<div></div>" * depth + "<section>", "</section>")
        deep_s, kind = timed(deep, args.repeat)
        flat_s, _ = timed(flat, args.repeat)
        size = len(deep) / 1024
        print(
            f"{depth:>8} {size:>8.0f} {deep_s * 1e3:>9.1f} {flat_s * 1e3:>9.1f} "
            f"{deep_s / flat_s:>6.2f} {deep_s * 1e6 / size:>10.1f}  {kind}"
        )

    shapes = args.shapes.split(",")
    print("\nwide pages (the same article among many small blocks), ms and us/KB per shape")
    print(f"{'size KB':>8} " + " ".join(f"{name + ' ms':>11} {'us/KB':>7}" for name in shapes))
    for kb in (int(k) for k in args.sizes.split(",")):
        cells, kinds = [], []
        for name in shapes:
            html = wide(name, kb * 1024)
            took, kind = timed(html, args.repeat)
            cells.append(f"{took * 1e3:>11.1f} {took * 1e6 / (len(html) / 1024):>7.0f}")
            kinds.append(kind)
        print(f"{kb:>8} " + " ".join(cells) + "  " + " ".join(kinds))


if __name__ == "__main__":
    main()
