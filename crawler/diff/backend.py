"""Which diff-match-patch diffs the token sequences: the C++ port when it imports, else Python's.

fast-diff-match-patch (a wheel of the C++ port) is what normally runs; diff-match-patch (Google's
pure-Python port, up to some 20 times slower) is the fallback where that wheel does not install,
and the oracle the tests hold it to. Both get the same settings: no time limit (Diff_Timeout 0,
which also turns off the half-match shortcut, so the diff is never degraded), no line mode;
cleanup "Semantic" is diff_cleanupSemantic (equality elimination, the lossless shift to good
boundaries, overlap splitting), "No" is none beyond the merge diff_main always ends with. Both
return ("=" | "-" | "+", length) runs, and the same runs: which backend ran never changes what is
recorded (tests/test_diff_backend.py compares every stored field on generated and corpus edits).

The two ports differ in one place. The lossless shift scores each possible edit boundary by the
character classes on its two sides: str.isalnum / isspace in Python, iswalnum / iswspace in C++,
which follow the process locale (in the C locale no non-ASCII character is a letter) and disagree
with Python on hundreds of code points. Tokens are therefore handed over as stand-in characters
that are all of one class, letters everywhere or "other" everywhere (`stand_in`): with a single
class every inner boundary scores the same, so neither the port nor the locale changes the diff.
Only a word-level diff with more than 39,821 distinct tokens runs out of them and mixes classes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import Literal

FAST = "fast-diff-match-patch"
PURE = "diff-match-patch"

Cleanup = Literal["Semantic", "No"]
Ops = list[tuple[str, int]]  # ("=" | "-" | "+", length) runs
DiffFunction = Callable[[str, str, Cleanup], Ops]

# CJK ideographs, CJK Extension A, Yi syllables, Hangul syllables: letters since Unicode 3.0, so
# in every Unicode table a libc or Python has; whitespace in none. Half-open, in stand-in order.
_UNIFORM = ((0x4E00, 0x9FA6), (0x3400, 0x4DB6), (0xA000, 0xA48D), (0xAC00, 0xD7A4))
UNIFORM_STAND_INS = sum(end - start for start, end in _UNIFORM)  # 39,821
# Past them: every other code point from U+0100 up, so as many distinct tokens fit as before
# (the differ's limit); the ranges above and the surrogates are skipped.
_SKIPPED = (*sorted(_UNIFORM), (0xD800, 0xE000))
_FIRST, _FIRST_END = _UNIFORM[0]


@dataclass(frozen=True, slots=True)
class Backend:
    name: str  # FAST or PURE: the distribution's name
    label: str  # name and version, as `redline --version` shows them
    diff: DiffFunction


@cache
def load_backend(name: str) -> Backend:
    """One library as a backend (FAST or PURE); ImportError when it is not installed."""
    if name == FAST:
        diff = _fast_diff()
    elif name == PURE:
        diff = _pure_diff()
    else:
        raise ValueError(f"unknown diff backend {name!r}: {FAST!r} or {PURE!r}")
    suffix = " (pure Python)" if name == PURE else ""
    return Backend(name, f"{name} {metadata.version(name)}{suffix}", diff)


def _fast_diff() -> DiffFunction:
    import fast_diff_match_patch as fdmp

    def diff(a: str, b: str, cleanup: Cleanup) -> Ops:
        ops: Ops = fdmp.diff(a, b, timelimit=0, checklines=False, cleanup=cleanup)
        return ops

    return diff


def _pure_diff() -> DiffFunction:
    from diff_match_patch import diff_match_patch

    dmp = diff_match_patch()
    dmp.Diff_Timeout = 0  # what timelimit=0 is to the C++ port: no deadline, no half-match
    symbols = {dmp.DIFF_EQUAL: "=", dmp.DIFF_DELETE: "-", dmp.DIFF_INSERT: "+"}

    def diff(a: str, b: str, cleanup: Cleanup) -> Ops:
        diffs = dmp.diff_main(a, b, False)
        if cleanup == "Semantic":
            dmp.diff_cleanupSemantic(diffs)
        return [(symbols[op], len(text)) for op, text in diffs]

    return diff


def _default_backend() -> Backend:
    try:
        return load_backend(FAST)
    except ImportError:
        return load_backend(PURE)


_active = _default_backend()
BACKEND = _active.label  # the backend this process diffs with, e.g. "fast-diff-match-patch 2.1.0"


def use_backend(name: str) -> Backend:
    """Diff on `name` from now on and return the backend used until now. For the tests, which run
    both on the same edits: the process otherwise keeps the choice made at import (BACKEND)."""
    global _active
    previous, _active = _active, load_backend(name)
    return previous


def token_diff(a: list[str], b: list[str], cleanup: Cleanup) -> Ops:
    """diff-match-patch over two token lists, each distinct token handed over as one character."""
    unique = dict.fromkeys(a)
    unique.update(dict.fromkeys(b))
    count = len(unique)
    chars = (
        map(chr, range(_FIRST, _FIRST + count))
        if count <= _FIRST_END - _FIRST
        else map(stand_in, range(count))
    )
    code = dict(zip(unique, chars, strict=False)).__getitem__
    return _active.diff("".join(map(code, a)), "".join(map(code, b)), cleanup)


def stand_in(index: int) -> str:
    """The character that stands for the index-th distinct token of a diff."""
    for start, end in _UNIFORM:
        if index < end - start:
            return chr(start + index)
        index -= end - start
    code = 0x100 + index
    for start, end in _SKIPPED:
        if code >= start:
            code += end - start
    return chr(code)
