"""Paragraph moves: a paragraph deleted in one place and inserted unchanged in another.

The differ finds them on the paragraph alignment, cuts them out of both texts, diffs what is
left, and splices them back as MOVED_FROM / MOVED_TO pieces at the places they were cut from.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from redline.crawler.diff.pieces import OLD_SIDE, Op, Piece
from redline.crawler.diff.tokens import count_words

MIN_MOVE_WORDS = 3  # a paragraph shorter than this that reappears elsewhere is not called a move


@dataclass(frozen=True, slots=True)
class Move:
    old_index: int  # paragraph index in the old text
    new_index: int
    start: int  # where the moved text starts inside the paragraph token
    text: str  # the moved text: the whole token, or its core when the blank lines around differ


def core(token: str) -> tuple[int, str]:
    stripped = token.strip()
    return (token.find(stripped) if stripped else 0), stripped


def find_moves(a: list[str], b: list[str], ops: list[tuple[str, int]]) -> list[Move]:
    """Paragraphs deleted in one place and inserted unchanged in another."""
    deleted: list[int] = []
    inserted: dict[str, list[int]] = {}
    i = j = 0
    for op, count in ops:
        if op == "-":
            deleted.extend(range(i, i + count))
        elif op == "+":
            for k in range(j, j + count):
                inserted.setdefault(core(b[k])[1], []).append(k)
        i += count if op != "+" else 0
        j += count if op != "-" else 0
    moves = []
    for i in deleted:
        start, text = core(a[i])
        candidates = inserted.get(text)
        if candidates and count_words(text) >= MIN_MOVE_WORDS:
            k = candidates.pop(0)
            if a[i] == b[k]:
                moves.append(Move(i, k, 0, a[i]))
            else:
                moves.append(Move(i, k, start, text))
    return moves


Spot = tuple[int, Piece, str]  # offset in the cut text, the move piece, blank lines after it


def cut(tokens: list[str], moved: dict[int, Move], op: Op) -> tuple[str, list[Spot]]:
    """The text without the moved paragraphs, and where each one was (offsets in that text).

    A paragraph moved without the blank lines after it (it was, or became, the last one) takes
    them out too; they come back as a plain delete or insert right after the move piece.
    """
    kept: list[str] = []
    spots: list[Spot] = []
    length = 0
    for index, token in enumerate(tokens):
        move = moved.get(index)
        if move is None:
            kept.append(token)
            length += len(token)
            continue
        start = 0 if move.text == token else core(token)[0]
        before, after = token[:start], token[start + len(move.text) :]
        spots.append((length + len(before), Piece(op, move.text, move.old_index), after))
        kept.append(before)
        length += len(before)
    return "".join(kept), spots


def splice(pieces: list[Piece], spots: list[Spot], side: frozenset[Op]) -> list[Piece]:
    """Insert move pieces at offsets counted on one side (old or new) of the diff."""
    tail_op = Op.DELETE if side is OLD_SIDE else Op.INSERT
    out: list[Piece] = []
    pos = 0
    k = 0

    def put(spot: Spot) -> None:
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
