"""What kind of change a diff is: the class, the numbers behind it, and the notes it adds.

Classes, checked in this order (thresholds are module constants, documented in docs/diff.md):
- cosmetic: every edited stretch says the same words once case, quote style, punctuation and
  whitespace are ignored (and nothing moved);
- minor: only paragraphs moved, or at most MINOR_MAX_WORDS words added and at most as many
  removed while at least half the words stayed (similarity >= MINOR_MIN_SIMILARITY);
- rewrite: more than REWRITE_SHARE of the old words were removed AND more than REWRITE_SHARE of
  the new words are new (an article that only grew or only shrank is not a rewrite);
- substantive: everything else.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from redline.crawler.diff.pieces import OLD_SIDE, Op, Piece, TextDiff
from redline.crawler.diff.tokens import count_words, count_words_roughly
from redline.storage.model import ChangeClass

MINOR_MAX_WORDS = 5
MINOR_MIN_SIMILARITY = 0.5
REWRITE_SHARE = 0.5

_QUOTES = str.maketrans({c: '"' for c in "“”„‟«»″〝〞"} | {c: "'" for c in "‘’‚‛‹›′`´"})
_NOT_WORD = re.compile(r"[^\w\s]|_")

_ARTICLE = r"(?:article|story|report|post|piece|page)"
_NOTES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "correction",
        re.compile(
            r"\b(?:corrections?|clarifications?)\b(?:\s*\([^)\n]{0,40}\)|,[^:\n]{0,40})?\s*[:—–-]"
            r"|\bcorrection appended\b|\bwe regret the error\b"
            rf"|\ban earlier version of this {_ARTICLE}\b"
            rf"|\bthis {_ARTICLE} (?:has been|was) (?:corrected|amended)\b",
            re.I,
        ),
    ),
    (
        "editors_note",
        re.compile(
            r"\beditor(?:['’]s|s['’]?)?\s+note\b|\bnote from the editors?\b|\bnote to readers\s*:",
            re.I,
        ),
    ),
    (
        "update_notice",
        re.compile(
            rf"\bthis {_ARTICLE} (?:has been|was|is being|will be) updated\b"
            r"|\bthis is a developing story\b"
            r"|(?:^|\n)[^\S\n]*\(?\s*(?:update|updated)\b\s*(?:[:—–-]|\(|at\b|on\b|\d)",
            re.I,
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class Measures:
    class_: ChangeClass
    words_added: int
    words_removed: int
    similarity: float  # words kept (moved words count as kept) over the mean length, 0..1


def measure(diff: TextDiff) -> Measures:
    """The class of a diff and the numbers behind it.

    Words cut by an edit are counted exactly (runs of letters and digits; "it's", "2.5" and
    "well-known" as one); the long unchanged stretches roughly (whitespace-separated runs),
    which is five times faster and moves the similarity by a fraction of a percent at most.
    """
    added = removed = kept = 0
    for piece in diff.pieces:
        if piece.op is Op.INSERT:
            added += count_words(piece.text)
        elif piece.op is Op.DELETE:
            removed += count_words(piece.text)
        elif piece.op is not Op.MOVED_TO:
            kept += count_words_roughly(piece.text)
    total = 2 * kept + added + removed
    similarity = round(2 * kept / total, 4) if total else 1.0
    return Measures(_classify(diff, added, removed, kept, similarity), added, removed, similarity)


def _classify(
    diff: TextDiff, added: int, removed: int, kept: int, similarity: float
) -> ChangeClass:
    moved = any(p.op is Op.MOVED_FROM for p in diff.pieces)
    # Case, quote and punctuation edits swap words one for one: unequal counts rule it out cheaply.
    if (
        not moved
        and added == removed
        and all(_same_words(o, n) for _, o, n, _ in _edit_windows(diff))
    ):
        return ChangeClass.COSMETIC
    if removed > REWRITE_SHARE * (kept + removed) and added > REWRITE_SHARE * (kept + added):
        return ChangeClass.REWRITE
    small = max(added, removed) <= MINOR_MAX_WORDS and similarity >= MINOR_MIN_SIMILARITY
    return ChangeClass.MINOR if small else ChangeClass.SUBSTANTIVE


def plain_words(text: str) -> list[str]:
    """The words of a text with case, quote style, punctuation and spacing taken out."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
    return _NOT_WORD.sub("", text).split()


def _same_words(old: str, new: str) -> bool:
    return plain_words(old) == plain_words(new)


_WINDOW = 80  # characters of unchanged text on each side of an edit that a note may straddle


def find_notes(diff: TextDiff) -> tuple[str, ...]:
    """Notes that appear more often in the new text than in the old, in a fixed order.

    Only the edits are searched, each with a little unchanged text around it: a note counts
    when an edit makes one more of it (a note that was already there does not count again).
    """
    windows = [w for w in _edit_windows(diff, with_moves=False) if _mentions_a_note(w)]
    return tuple(
        name
        for name, pattern in _NOTES
        if any(
            len(pattern.findall(before + new + after)) > len(pattern.findall(before + old + after))
            for before, old, new, after in windows
        )
    )


# Every wording in _NOTES contains one of these (keep them in step): windows without any are
# skipped, which spares thousands of regex runs on a heavily rewritten article.
_NOTE_STEMS: tuple[str, ...] = ("correct", "clarif", "regret", "earlier version", "amend")
_NOTE_STEMS += ("editor", "note", "updat", "developing")


def _mentions_a_note(window: tuple[str, str, str, str]) -> bool:
    """A cheap test before the regexes: does the new side of the window hold a note's key word?"""
    before, _, new, after = window
    text = (before + new + after).casefold()
    return any(stem in text for stem in _NOTE_STEMS)


def _edit_windows(diff: TextDiff, with_moves: bool = True) -> list[tuple[str, str, str, str]]:
    """(unchanged text before, removed, added, unchanged text after) for each stretch of edits.
    Without `with_moves`, moved text is left out: a correction moved to the top is not new."""
    windows = []
    before = ""
    old: list[str] = []
    new: list[str] = []
    for piece in (*diff.pieces, Piece(Op.EQUAL, "")):
        if piece.move is not None and not with_moves:
            continue
        if piece.op is Op.EQUAL:
            if old or new:
                windows.append((before, "".join(old), "".join(new), piece.text[:_WINDOW]))
            old, new = [], []
            before = piece.text[-_WINDOW:]
        elif piece.op in OLD_SIDE:
            old.append(piece.text)
        else:
            new.append(piece.text)
    return windows
