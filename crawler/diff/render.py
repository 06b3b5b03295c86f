"""Renderings of one TextDiff: inline HTML, side-by-side HTML rows, terminal, unified patch.

Scraped text is hostile. The HTML renderings pass every piece of text through html.escape; the
terminal and unified renderings show control characters (ESC, BEL, C1 codes...) and bidi
overrides escaped as \\xNN or \\uNNNN, so a page cannot drive or spoof the reader's terminal.
"""

from __future__ import annotations

import difflib
import html
import re
from itertools import zip_longest
from typing import Literal

from redline.crawler.diff.pieces import NEW_SIDE, OLD_SIDE, Op, Piece, TextDiff
from redline.crawler.diff.text import token_ops

_LINE = re.compile(r"[^\n]*\n|[^\n]+$")
_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
# Control characters, and the bidirectional overrides that can make text read differently
# from what it is ("Trojan Source"); tab, newline and CRLF stay.
_CONTROL = re.compile("\r(?!\n)|[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_TAGS = {
    Op.DELETE: ("<del>", "</del>"),
    Op.INSERT: ("<ins>", "</ins>"),
    Op.MOVED_FROM: ('<del class="moved" data-move="{n}">', "</del>"),
    Op.MOVED_TO: ('<ins class="moved" data-move="{n}">', "</ins>"),
}
_COLOURS = {Op.DELETE: "\x1b[31m", Op.INSERT: "\x1b[32m", Op.MOVED_FROM: "\x1b[2;33m"}
_COLOURS[Op.MOVED_TO] = "\x1b[33m"
# difflib's opcodes: (tag, old from, old to, new from, new to)
_Opcode = tuple[Literal["replace", "delete", "insert", "equal"], int, int, int, int]
_OPCODE_TAGS: dict[str, Literal["delete", "insert", "equal"]] = {
    "=": "equal",
    "-": "delete",
    "+": "insert",
}
_MARKERS = {Op.DELETE: ("[-", "-]"), Op.INSERT: ("{+", "+}")}
_MARKERS |= {Op.MOVED_FROM: ("[~", "~]"), Op.MOVED_TO: ("{~", "~}")}
_RESET = "\x1b[0m"


def _html(piece: Piece, text: str) -> str:
    escaped = html.escape(text, quote=True)
    if piece.op is Op.EQUAL:
        return escaped
    start, end = _TAGS[piece.op]
    return start.format(n=piece.move) + escaped + end


def render_inline_html(diff: TextDiff) -> str:
    """The new text with <del>/<ins> marks (moves carry class="moved" and data-move="N").
    Line breaks are kept as they are: show it in an element styled white-space: pre-wrap."""
    return "".join(_html(piece, piece.text) for piece in diff.pieces)


def render_side_by_side_html(diff: TextDiff) -> str:
    """Table rows, one per aligned paragraph (or group of paragraphs):
    <tr class="equal|changed"><td class="old">...</td><td class="new">...</td></tr>."""
    old: list[list[str]] = [[]]
    new: list[list[str]] = [[]]
    links: list[tuple[int, int]] = []
    for piece in diff.pieces:
        for number, part in enumerate(_BREAK.split(piece.text)):
            sides = [s for s, ops in ((old, OLD_SIDE), (new, NEW_SIDE)) if piece.op in ops]
            for side in sides:
                if number:
                    side.append([])
                if part:
                    side[-1].append(_html(piece, part).replace("\n", "<br>"))
            if piece.op is Op.EQUAL and part.strip():
                links.append((len(old) - 1, len(new) - 1))
    return "\n".join(_rows(old, new, links))


def _groups(links: list[tuple[int, int]]) -> list[tuple[int, int, int, int]]:
    """Linked paragraphs merged into (old_from, old_to, new_from, new_to) groups, inclusive."""
    groups: list[tuple[int, int, int, int]] = []
    for i, j in links:
        if groups and (i <= groups[-1][1] or j <= groups[-1][3]):
            a, _, c, _ = groups[-1]
            groups[-1] = (a, i, c, j)
        else:
            groups.append((i, i, j, j))
    return groups


def _rows(old: list[list[str]], new: list[list[str]], links: list[tuple[int, int]]) -> list[str]:
    rows: list[str] = []
    oi = nj = 0

    def row(old_paras: list[list[str]], new_paras: list[list[str]]) -> None:
        left = "<br><br>".join("".join(p) for p in old_paras if p)
        right = "<br><br>".join("".join(p) for p in new_paras if p)
        if left or right:
            kind = "changed" if "<ins" in right or "<del" in left or left != right else "equal"
            cells = f'<td class="old">{left}</td><td class="new">{right}</td>'
            rows.append(f'<tr class="{kind}">{cells}</tr>')

    no_paragraph: list[str] = []
    for a, b, c, d in [*_groups(links), (len(old), len(old) - 1, len(new), len(new) - 1)]:
        for left, right in zip_longest(old[oi:a], new[nj:c], fillvalue=no_paragraph):
            row([left], [right])
        row(old[a : b + 1], new[c : d + 1])
        oi, nj = b + 1, d + 1
    return rows


def _visible(text: str) -> str:
    return _CONTROL.sub(lambda m: _escape_code(ord(m.group())), text)


def _escape_code(code: int) -> str:
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def render_terminal(diff: TextDiff, color: bool = True, *, context: int | None = None) -> str:
    """The text with changes marked: ANSI colours (red removed, green added, yellow moved), or
    without colour git's word-diff markers [-removed-]{+added+}, and [~from~]{~to~} for moves.

    With `context`, only that many unchanged paragraphs are kept on each side of a change; the
    others are replaced by a line saying how many were left out.
    """
    out = []
    last = len(diff.pieces) - 1
    for index, piece in enumerate(diff.pieces):
        text = _visible(piece.text)
        if piece.op is Op.EQUAL:
            if context is not None:
                text = _elide(text, context, head=index > 0, tail=index < last)
            out.append(text)
        elif color:
            out.append(_COLOURS[piece.op] + text + _RESET)
        else:
            start, end = _MARKERS[piece.op]
            out.append(start + text + end)
    return "".join(out)


def _elide(text: str, context: int, *, head: bool, tail: bool) -> str:
    """Keep `context` whole paragraphs after a change before it (head) and before a change
    after it (tail); the partial paragraphs touching the changes always stay."""
    parts = re.split(r"(\n[^\S\n]*\n\s*)", text)
    paragraphs = ["".join(parts[i : i + 2]) for i in range(0, len(parts), 2)]
    keep_head = context + 1 if head else 0
    keep_tail = context + 1 if tail else 0
    left_out = len(paragraphs) - keep_head - keep_tail
    if left_out <= 0:
        return text
    note = f"[… {left_out} unchanged paragraph{'s' if left_out > 1 else ''} …]"
    note += "\n\n" if tail else ""
    kept_tail = paragraphs[len(paragraphs) - keep_tail :] if keep_tail else []
    return "".join(paragraphs[:keep_head]) + note + "".join(kept_tail)


class _Grouper(difflib.SequenceMatcher[str]):
    """difflib's hunk grouping over opcodes we computed ourselves."""

    def __init__(self, opcodes: list[_Opcode]) -> None:
        self._opcodes = opcodes

    def get_opcodes(self) -> list[_Opcode]:
        return self._opcodes


def _line_opcodes(a: list[str], b: list[str]) -> list[_Opcode]:
    ops, _ = token_ops(a, b)  # over the work budget: every line between common ends replaced
    codes: list[_Opcode] = []
    i = j = 0
    for op, count in ops:
        di, dj = (count if op != "+" else 0), (count if op != "-" else 0)
        if not count:
            continue
        if op != "=" and codes and codes[-1][0] != "equal":
            _, i1, _, j1, _ = codes.pop()
            codes.append(("replace", i1, i + di, j1, j + dj))
        else:
            codes.append((_OPCODE_TAGS[op], i, i + di, j, j + dj))
        i, j = i + di, j + dj
    return codes or [("equal", 0, 0, 0, 0)]


def _range(start: int, length: int) -> str:
    if length == 1:
        return str(start + 1)
    return f"{start + 1 if length else start},{length}"


def _lines(text: str) -> list[str]:
    """Lines as `diff` and `patch` see them: split after "\n" only (str.splitlines would also
    split at form feeds, U+2028 and other separators that patch treats as ordinary text)."""
    return _LINE.findall(text)


def _line(mark: str, line: str) -> str:
    ending = "\r\n" if line.endswith("\r\n") else "\n" if line.endswith("\n") else ""
    text = _visible(line[: len(line) - len(ending)])
    if not ending:
        ending = "\n\\ No newline at end of file\n"
    return f"{mark}{text}{ending}"


def render_unified(diff: TextDiff, *, old_label: str = "old", new_label: str = "new") -> str:
    """A unified diff of the two texts, line by line with three lines of context, as `diff -u`
    and `patch` know it. Empty when nothing changed."""
    a, b = _lines(diff.old), _lines(diff.new)
    if a == b:
        return ""
    out = [f"--- {_visible(old_label)}\n", f"+++ {_visible(new_label)}\n"]
    for group in _Grouper(_line_opcodes(a, b)).get_grouped_opcodes(3):
        first, last = group[0], group[-1]
        old_range = _range(first[1], last[2] - first[1])
        new_range = _range(first[3], last[4] - first[3])
        out.append(f"@@ -{old_range} +{new_range} @@\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(_line(" ", line) for line in a[i1:i2])
                continue
            out.extend(_line("-", line) for line in a[i1:i2])
            out.extend(_line("+", line) for line in b[j1:j2])
    return "".join(out)


def render_ops(diff: TextDiff) -> list[list[str | int]]:
    """The diff as JSON-ready operations in reading order: ["=", text] kept, ["-", text]
    removed, ["+", text] added, and for a move ["<", text, n] where the text was and
    [">", text, n] where it is now (n pairs them: 1, 2, ... in old order). The old text is the
    "=", "-" and "<" texts joined, the new text the "=", "+" and ">" texts joined."""
    return [
        [str(p.op), p.text] if p.move is None else [str(p.op), p.text, p.move] for p in diff.pieces
    ]
