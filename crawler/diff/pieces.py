"""The value a diff is: pieces of text in reading order, each kept, deleted, inserted or moved.

Any sequence of pieces is a valid diff of the text its old-side pieces make into the text its
new-side pieces make; the functions here tidy a sequence without changing either text.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from redline.crawler.diff.tokens import split_words


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


def normalise(pieces: list[Piece], trim: bool = False) -> list[Piece]:
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
            head, old, new, tail = common_ends(old, new)
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


def common_ends(old: str, new: str) -> tuple[str, str, str, str]:
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


def number_moves(pieces: list[Piece]) -> tuple[Piece, ...]:
    """Number moves 1, 2, ... in the order their MOVED_FROM pieces appear."""
    numbers: dict[int, int] = {}
    for piece in pieces:
        if piece.op is Op.MOVED_FROM and piece.move is not None:
            numbers[piece.move] = len(numbers) + 1
    return tuple(
        piece if piece.move is None else replace(piece, move=numbers[piece.move])
        for piece in pieces
    )
