"""The compact serialised form of a TextDiff: what Change.patch stores.

Format (tab-separated fields, one line unless inserted text holds line breaks):

    R1 <old length> <old hash> <op> <op> ...

with ops `=N` (keep N characters of the old text), `-N` (delete N), `<N` (N characters that move
elsewhere: the k-th `<` is move k), `>k` (move k lands here) and `+text` (insert text). Lengths
count Python characters (code points). Unchanged and deleted text is never repeated, so a
one-word edit of a long article stores a few dozen bytes. Inserted text escapes `%`, tab, NUL
and lone surrogates as `%25`, `%09`, `%00`, `%uD800`: the stored patch survives the store's text
cleaning (which drops NUL and replaces lone surrogates) and still rebuilds the exact text.

The old text's length and a short hash are checked before applying, so a patch applied to the
wrong revision fails loudly (PatchError) instead of producing a plausible wrong text.
"""

from __future__ import annotations

import hashlib
import re

from redline.crawler.diff.pieces import Op, Piece, TextDiff

VERSION = "R1"
_ESCAPE = re.compile("[%\t\x00\ud800-\udfff]")
_UNESCAPE = re.compile(r"%(?:u([0-9A-F]{4})|([0-9A-F]{2}))")
_COUNTED = {Op.EQUAL: "=", Op.DELETE: "-", Op.MOVED_FROM: "<"}


class PatchError(ValueError):
    """A patch that is malformed or does not belong to the text it is applied to."""


def _escape(text: str) -> str:
    def code(match: re.Match[str]) -> str:
        char = ord(match.group())
        return f"%u{char:04X}" if char > 0xFF else f"%{char:02X}"

    return _ESCAPE.sub(code, text)


def _unescape(text: str) -> str:
    return _UNESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)


def text_hash(text: str) -> str:
    data = text.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=4).hexdigest()


def to_patch(diff: TextDiff) -> str:
    """Serialise a diff; apply_patch(diff.old, to_patch(diff)) == diff.new."""
    old = diff.old
    fields = [VERSION, str(len(old)), text_hash(old)]
    for piece in diff.pieces:
        if piece.op in _COUNTED:
            fields.append(f"{_COUNTED[piece.op]}{len(piece.text)}")
        elif piece.op is Op.INSERT:
            fields.append("+" + _escape(piece.text))
        else:
            fields.append(f">{piece.move}")
    return "\t".join(fields)


def patch_to_diff(old: str, patch: str, *, coarse: bool = False) -> TextDiff:
    """Rebuild the TextDiff a patch was made from, given the old text it applies to."""
    fields = patch.split("\t")
    if len(fields) < 3 or fields[0] != VERSION:
        raise PatchError(f"not a {VERSION} patch")
    if fields[1] != str(len(old)) or fields[2] != text_hash(old):
        raise PatchError("patch does not apply to this text (length or hash differ)")
    pieces: list[Piece] = []
    moved: dict[int, str] = {}
    pos = 0
    for field in fields[3:]:
        tag, value = field[:1], field[1:]
        if tag == "+":
            pieces.append(Piece(Op.INSERT, _unescape(value)))
        elif tag and tag in "=-<" and value.isdigit():
            text = old[pos : pos + int(value)]
            pos += len(text)
            op = {"=": Op.EQUAL, "-": Op.DELETE, "<": Op.MOVED_FROM}[tag]
            move = None
            if op is Op.MOVED_FROM:
                move = len(moved) + 1
                moved[move] = text
            pieces.append(Piece(op, text, move))
        elif tag == ">" and value.isdigit():
            pieces.append(Piece(Op.MOVED_TO, "", int(value)))
        else:
            raise PatchError(f"bad patch field {field[:20]!r}")
    if pos != len(old):
        raise PatchError("patch does not cover the old text")
    return TextDiff(tuple(_fill_moves(pieces, moved)), coarse=coarse)


def _fill_moves(pieces: list[Piece], moved: dict[int, str]) -> list[Piece]:
    out = []
    for piece in pieces:
        if piece.op is Op.MOVED_TO:
            if piece.move not in moved:
                raise PatchError(f"move {piece.move} has no origin")
            piece = Piece(Op.MOVED_TO, moved[piece.move], piece.move)
        out.append(piece)
    return out


def apply_patch(old: str, patch: str) -> str:
    """The new text, rebuilt exactly from the old text and a stored patch."""
    return patch_to_diff(old, patch).new
