"""Word-level diffs of article text: paragraphs, then sentences, then words, in bounded work.

The C++ diff-match-patch (fast-diff-match-patch) runs on token sequences mapped to one character
per distinct token, never on raw characters: that keeps diffs readable (whole words), fast, and
immune to whatever code points scraped text contains.

Bounded time without the silent-degradation trap: diff-match-patch's own `timelimit` gives up by
reporting the whole sub-problem as deleted and re-inserted, without saying so. We never pass a time
limit. Instead each diff call is charged its worst-case cost, estimated from the token counts
before it runs, against a fixed work budget for the whole text. A call the budget cannot pay for is
not made: that stretch stays at the coarser level already computed (changed sentences or changed
paragraphs shown whole) and the result is marked `coarse`. The bound is deterministic: the same
two texts always give the same diff, on any machine, under any load.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

import fast_diff_match_patch as fdmp

from crawler.diff.tokens import count_words, split_paragraphs, split_sentences, split_words

# Cost units are (n + m) * (min(n, m) + 100) for token counts n, m: measured on this machine at
# about 10 ns per unit in the worst case (random, unrelated token strings). 5e6 units keep the
# diff-match-patch time of one whole text under ~50 ms; real prose costs a fraction of that.
WORK_BUDGET = 5_000_000
MIN_MOVE_WORDS = 3  # a paragraph shorter than this that reappears elsewhere is not called a move


class Op(StrEnum):
    EQUAL = "="
    DELETE = "-"
    INSERT = "+"
    MOVED_FROM = "<"  # old text that now appears elsewhere (its MOVED_TO has the same `move`)
    MOVED_TO = ">"


OLD_SIDE = frozenset({Op.EQUAL, Op.DELETE, Op.MOVED_FROM})
NEW_SIDE = frozenset({Op.EQUAL, Op.INSERT, Op.MOVED_TO})


@dataclass(frozen=True, slots=True)
class Piece:
    op: Op
    text: str
    move: int | None = None  # pairs a MOVED_FROM with its MOVED_TO: 1, 2, ... in old order


@dataclass(frozen=True, slots=True)
class TextDiff:
    """A diff as pieces in reading order; the old text is the EQUAL, DELETE and MOVED_FROM
    pieces joined, the new text the EQUAL, INSERT and MOVED_TO pieces joined."""

    pieces: tuple[Piece, ...]
    coarse: bool = False  # the work bound was hit: some stretches are shown whole, not word by word

    @property
    def old(self) -> str:
        return "".join(p.text for p in self.pieces if p.op in OLD_SIDE)

    @property
    def new(self) -> str:
        return "".join(p.text for p in self.pieces if p.op in NEW_SIDE)

    @property
    def changed(self) -> bool:
        return any(p.op is not Op.EQUAL for p in self.pieces)


def diff_texts(old: str, new: str) -> TextDiff:
    """The word-level diff of two texts; `coarse` when the work bound kept part of it coarser."""
    if old == new:
        return TextDiff((Piece(Op.EQUAL, old),) if old else ())
    differ = _Differ()
    pieces = differ.paragraphs(old, new)
    moved = any(p.move is not None for p in pieces)
    return TextDiff(_number_moves(_normalise(pieces, trim=moved)), coarse=differ.coarse)


def token_ops(a: list[str], b: list[str]) -> list[tuple[str, int]] | None:
    """A plain diff of two token lists as ("=" | "-" | "+", count) runs; None when it would
    cost more than the work budget."""
    return _Differ().ops(a, b, "No")


def _code_char(index: int) -> str:
    """The index-th token's stand-in character, skipping the surrogate block."""
    code = index + 0x100
    return chr(code if code < 0xD800 else code + 0x800)


def _token_diff(a: list[str], b: list[str], cleanup: str) -> list[tuple[str, int]]:
    unique = dict.fromkeys(a)
    unique.update(dict.fromkeys(b))
    count = len(unique)
    first = 0x100
    chars = (
        map(chr, range(first, first + count))
        if first + count < 0xD800
        else map(_code_char, range(count))
    )
    code = dict(zip(unique, chars, strict=False)).__getitem__
    encoded_a, encoded_b = "".join(map(code, a)), "".join(map(code, b))
    return fdmp.diff(encoded_a, encoded_b, timelimit=0, checklines=False, cleanup=cleanup)


def _cost(n: int, m: int) -> int:
    return (n + m) * (min(n, m) + 100)


Refine = Callable[[str, str], list[Piece]]


class _Differ:
    """One diff_texts call: the remaining work budget and whether it ran out somewhere."""

    def __init__(self) -> None:
        self.budget = WORK_BUDGET
        self.coarse = False

    def align(self, a: list[str], b: list[str], cleanup: str, refine: Refine | None) -> list[Piece]:
        """Diff two token lists; hand each changed stretch to `refine` for a finer look."""
        ops = self.ops(a, b, cleanup)
        if ops is None:
            return self.whole(a, b)
        return self.pieces(a, b, ops, refine)

    def ops(self, a: list[str], b: list[str], cleanup: str) -> list[tuple[str, int]] | None:
        """The token diff, or None (and `coarse`) when the budget cannot pay for it."""
        cost = _cost(len(a), len(b))
        if cost > self.budget or len(a) + len(b) > 0x10FFFF - 0x900:
            self.coarse = True
            return None
        self.budget -= cost
        return _token_diff(a, b, cleanup)

    def whole(self, a: list[str], b: list[str]) -> list[Piece]:
        return self._changed("".join(a), "".join(b), None)

    def pieces(
        self, a: list[str], b: list[str], ops: list[tuple[str, int]], refine: Refine | None
    ) -> list[Piece]:
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
        ops = self.ops([_core(t)[1] for t in a], [_core(t)[1] for t in b], "No")
        if ops is None:
            return self.whole(a, b)
        moves = _find_moves(a, b, ops)
        if not moves:
            return self.pieces(a, b, ops, self.sentences)
        return _with_moves(a, b, moves, self)


@dataclass(frozen=True, slots=True)
class _Move:
    old_index: int  # paragraph index in the old text
    new_index: int
    start: int  # where the moved text starts inside the paragraph token
    text: str  # the moved text: the whole token, or its core when the blank lines around differ


def _core(token: str) -> tuple[int, str]:
    stripped = token.strip()
    return (token.find(stripped) if stripped else 0), stripped


def _find_moves(a: list[str], b: list[str], ops: list[tuple[str, int]]) -> list[_Move]:
    """Paragraphs deleted in one place and inserted unchanged in another."""
    deleted: list[int] = []
    inserted: dict[str, list[int]] = {}
    i = j = 0
    for op, count in ops:
        if op == "-":
            deleted.extend(range(i, i + count))
        elif op == "+":
            for k in range(j, j + count):
                inserted.setdefault(_core(b[k])[1], []).append(k)
        i += count if op != "+" else 0
        j += count if op != "-" else 0
    moves = []
    for i in deleted:
        start, core = _core(a[i])
        candidates = inserted.get(core)
        if candidates and count_words(core) >= MIN_MOVE_WORDS:
            k = candidates.pop(0)
            if a[i] == b[k]:
                moves.append(_Move(i, k, 0, a[i]))
            else:
                moves.append(_Move(i, k, start, core))
    return moves


def _with_moves(a: list[str], b: list[str], moves: list[_Move], differ: _Differ) -> list[Piece]:
    """Diff the texts with the moved paragraphs cut out, then put them back as move pieces."""
    old_cut, old_at = _cut(a, {m.old_index: m for m in moves}, Op.MOVED_FROM)
    new_cut, new_at = _cut(b, {m.new_index: m for m in moves}, Op.MOVED_TO)
    a, b = split_paragraphs(old_cut), split_paragraphs(new_cut)
    ops = differ.ops([_core(t)[1] for t in a], [_core(t)[1] for t in b], "No")
    pieces = differ.whole(a, b) if ops is None else differ.pieces(a, b, ops, differ.sentences)
    return _splice(_splice(pieces, old_at, OLD_SIDE), new_at, NEW_SIDE)


_Spot = tuple[int, Piece, str]  # offset in the cut text, the move piece, blank lines after it


def _cut(tokens: list[str], moved: dict[int, _Move], op: Op) -> tuple[str, list[_Spot]]:
    """The text without the moved paragraphs, and where each one was (offsets in that text).

    A paragraph moved without the blank lines after it (it was, or became, the last one) takes
    them out too; they come back as a plain delete or insert right after the move piece.
    """
    kept: list[str] = []
    spots: list[_Spot] = []
    length = 0
    for index, token in enumerate(tokens):
        move = moved.get(index)
        if move is None:
            kept.append(token)
            length += len(token)
            continue
        start = 0 if move.text == token else _core(token)[0]
        before, after = token[:start], token[start + len(move.text) :]
        spots.append((length + len(before), Piece(op, move.text, move.old_index), after))
        kept.append(before)
        length += len(before)
    return "".join(kept), spots


def _splice(pieces: list[Piece], spots: list[_Spot], side: frozenset[Op]) -> list[Piece]:
    """Insert move pieces at offsets counted on one side (old or new) of the diff."""
    tail_op = Op.DELETE if side is OLD_SIDE else Op.INSERT
    out: list[Piece] = []
    pos = 0
    k = 0

    def put(spot: _Spot) -> None:
        out.append(spot[1])
        if spot[2]:
            out.append(Piece(tail_op, spot[2]))

    for piece in pieces:
        if piece.op not in side:
            out.append(piece)
            continue
        text = piece.text
        while k < len(spots) and spots[k][0] < pos + len(text):
            cut = spots[k][0] - pos
            if cut > 0:
                out.append(replace(piece, text=text[:cut]))
                text, pos = text[cut:], pos + cut
            put(spots[k])
            k += 1
        if text:
            out.append(replace(piece, text=text))
        pos += len(text)
    for spot in spots[k:]:
        put(spot)
    return out


def _normalise(pieces: list[Piece], trim: bool = False) -> list[Piece]:
    """Merge neighbours: equal with equal, and each run of edits into one delete + one insert.

    With `trim`, words common to the start or end of both halves of an edit become equal again:
    cutting a moved paragraph out can leave its blank lines as such a pair.
    """
    out: list[Piece] = []
    gone: list[str] = []
    came: list[str] = []

    def add(piece: Piece) -> None:
        if out and piece.op is Op.EQUAL and out[-1].op is Op.EQUAL:
            out[-1] = Piece(Op.EQUAL, out[-1].text + piece.text)
        elif piece.text:
            out.append(piece)

    def flush() -> None:
        old, new = "".join(gone), "".join(came)
        gone.clear()
        came.clear()
        head = tail = ""
        if trim and old and new:
            head, old, new, tail = _common_ends(old, new)
        add(Piece(Op.EQUAL, head))
        add(Piece(Op.DELETE, old))
        add(Piece(Op.INSERT, new))
        add(Piece(Op.EQUAL, tail))

    for piece in pieces:
        if piece.op is Op.DELETE:
            gone.append(piece.text)
        elif piece.op is Op.INSERT:
            came.append(piece.text)
        else:
            flush()
            add(piece)
    flush()
    return out


def _common_ends(old: str, new: str) -> tuple[str, str, str, str]:
    """Split off the word tokens two texts share at their start and end."""
    a, b = split_words(old), split_words(new)
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    k = 0
    while k < min(len(a), len(b)) - i and a[-1 - k] == b[-1 - k]:
        k += 1
    head = "".join(a[:i])
    tail = "".join(a[len(a) - k :])
    return head, "".join(a[i : len(a) - k]), "".join(b[i : len(b) - k]), tail


def _number_moves(pieces: list[Piece]) -> tuple[Piece, ...]:
    """Number moves 1, 2, ... in the order their MOVED_FROM pieces appear."""
    numbers: dict[int, int] = {}
    for piece in pieces:
        if piece.op is Op.MOVED_FROM and piece.move is not None:
            numbers[piece.move] = len(numbers) + 1
    return tuple(
        piece if piece.move is None else replace(piece, move=numbers[piece.move])
        for piece in pieces
    )
