"""Word-level diffs of article text: paragraphs, then sentences, then words, in bounded work.

diff-match-patch (the C++ port, or the pure-Python one where it does not install: see backend.py)
runs on token sequences mapped to one character per distinct token, never on raw characters: that
keeps diffs readable (whole words), fast, and immune to whatever code points scraped text contains.

Bounded time without the silent-degradation trap: diff-match-patch's own `timelimit` gives up by
reporting the whole sub-problem as deleted and re-inserted, without saying so. We never pass a time
limit (so it never degrades on its own). Instead each diff call is charged its worst-case cost,
estimated from the token counts before it runs, against a fixed work budget for the whole text.
A call the budget cannot pay for is not made: that stretch keeps its common start and end, the
rest stays at the coarser level already computed (changed paragraphs or sentences shown whole,
deleted and inserted), and the result is marked `coarse`. The bound is deterministic: the same
two texts always give the same diff, on any machine, under any load.
"""

from __future__ import annotations

from collections.abc import Callable

from redline.crawler.diff.backend import Cleanup, Ops, token_diff
from redline.crawler.diff.moves import Move, core, cut, find_moves, splice
from redline.crawler.diff.pieces import (
    NEW_SIDE,
    OLD_SIDE,
    Op,
    Piece,
    TextDiff,
    normalise,
    number_moves,
)
from redline.crawler.diff.tokens import split_paragraphs, split_sentences, split_words

# Cost units are (n + m) * (min(n, m) + 100) for the token counts n, m left after the common start
# and end: an upper bound of diff-match-patch's work on them. The budget lets a heavily rewritten
# long article be diffed word by word, while two unrelated texts come back coarse (which for
# unrelated texts loses nothing); docs/diff.md has what it costs in time.
WORK_BUDGET = 2_500_000


def diff_texts(old: str, new: str) -> TextDiff:
    """The word-level diff of two texts; `coarse` when the work bound kept part of it coarser."""
    if old == new:
        return TextDiff((Piece(Op.EQUAL, old),) if old else ())
    differ = _Differ()
    pieces = differ.paragraphs(old, new)
    moved = any(p.move is not None for p in pieces)
    return TextDiff(number_moves(normalise(pieces, trim=moved)), coarse=differ.coarse)


def token_ops(a: list[str], b: list[str]) -> tuple[list[tuple[str, int]], bool]:
    """A plain diff of two token lists as ("=" | "-" | "+", count) runs, and whether it is
    exact: over the work budget, everything between the common start and end is replaced."""
    return _Differ().ops(a, b, "No")


def _cost(n: int, m: int) -> int:
    return (n + m) * (min(n, m) + 100)


Refine = Callable[[str, str], list[Piece]]  # a finer look at one changed stretch


def _common_ends(a: list[str], b: list[str]) -> tuple[int, int]:
    """How many tokens two lists share at their start, and then at their end."""
    head = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        head += 1
    tail = 0
    for x, y in zip(reversed(a[head:]), reversed(b[head:]), strict=False):
        if x != y:
            break
        tail += 1
    return head, tail


class _Differ:
    """One diff_texts call: the remaining work budget and whether it ran out somewhere."""

    def __init__(self) -> None:
        self.budget = WORK_BUDGET
        self.coarse = False

    def ops(self, a: list[str], b: list[str], cleanup: Cleanup) -> tuple[Ops, bool]:
        """The token diff and True; or, when the budget cannot pay for it, the common start and
        end kept and everything between replaced, and False (the diff is then `coarse`)."""
        head, tail = _common_ends(a, b)
        n, m = len(a) - head - tail, len(b) - head - tail
        cost = _cost(n, m) if n and m else 0
        if cost <= self.budget and len(a) + len(b) < 0x10FFFF - 0x900:
            self.budget -= cost
            return token_diff(a, b, cleanup), True
        self.coarse = True
        return [(op, k) for op, k in (("=", head), ("-", n), ("+", m), ("=", tail)) if k], False

    def align(
        self, a: list[str], b: list[str], cleanup: Cleanup, refine: Refine | None
    ) -> list[Piece]:
        """Diff two token lists; hand each changed stretch to `refine` for a finer look."""
        ops, exact = self.ops(a, b, cleanup)
        return self.pieces(a, b, ops, refine if exact else None)

    def pieces(self, a: list[str], b: list[str], ops: Ops, refine: Refine | None) -> list[Piece]:
        """Turn token ops into pieces. Tokens may have been compared by a key (a paragraph's
        core): an "equal" run whose raw text differs is refined like a change."""
        out: list[Piece] = []
        i = j = 0
        gone: list[str] = []
        came: list[str] = []
        for op, count in ops:
            if op == "=":
                out.extend(self._changed("".join(gone), "".join(came), refine))
                gone, came = [], []
                old, new = "".join(a[i : i + count]), "".join(b[j : j + count])
                if old == new:
                    out.append(Piece(Op.EQUAL, old))
                else:
                    out.extend(self._changed(old, new, refine))
                i += count
                j += count
            elif op == "-":
                gone.extend(a[i : i + count])
                i += count
            else:
                came.extend(b[j : j + count])
                j += count
        out.extend(self._changed("".join(gone), "".join(came), refine))
        return out

    def _changed(self, old: str, new: str, refine: Refine | None) -> list[Piece]:
        if old and new and refine is not None:
            return refine(old, new)
        return [Piece(op, text) for op, text in ((Op.DELETE, old), (Op.INSERT, new)) if text]

    def words(self, old: str, new: str) -> list[Piece]:
        return self.align(split_words(old), split_words(new), "Semantic", None)

    def sentences(self, old: str, new: str) -> list[Piece]:
        return self.align(split_sentences(old), split_sentences(new), "No", self.words)

    def paragraphs(self, old: str, new: str) -> list[Piece]:
        """Paragraphs are compared by their core (without the blank lines around them), so a
        paragraph that only gained or lost a line break is not a different paragraph."""
        a, b = split_paragraphs(old), split_paragraphs(new)
        ops, exact = self.ops([core(t)[1] for t in a], [core(t)[1] for t in b], "No")
        moves = find_moves(a, b, ops) if exact else []
        if not moves:
            return self.pieces(a, b, ops, self.sentences if exact else None)
        return self._with_moves(a, b, moves)

    def _with_moves(self, a: list[str], b: list[str], moves: list[Move]) -> list[Piece]:
        """Diff the texts with the moved paragraphs cut out, then put them back as moves."""
        old_cut, old_at = cut(a, {m.old_index: m for m in moves}, Op.MOVED_FROM)
        new_cut, new_at = cut(b, {m.new_index: m for m in moves}, Op.MOVED_TO)
        a, b = split_paragraphs(old_cut), split_paragraphs(new_cut)
        ops, exact = self.ops([core(t)[1] for t in a], [core(t)[1] for t in b], "No")
        pieces = self.pieces(a, b, ops, self.sentences if exact else None)
        return splice(splice(pieces, old_at, OLD_SIDE), new_at, NEW_SIDE)
