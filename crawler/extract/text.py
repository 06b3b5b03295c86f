"""Text normalisation: what counts as "the same text" for change tracking.

Invisible differences (NFC vs NFD, runs of whitespace, no-break spaces, soft hyphens, zero-width
characters, NUL, lone surrogates) must never look like edits. Visible ones (a straight quote turned
curly, a dash, a comma) are edits, however cosmetic, so punctuation is kept exactly.
"""

from __future__ import annotations

import re
import unicodedata

# Control characters become spaces, NUL goes; zero-width and format characters a reader never
# sees (soft hyphen, BOM, word joiner...) and lone surrogates go. Searched before substituted:
# almost all text has none, and a search is cheaper than a rewrite.
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060-\u2064\ufeff\u180e\ud800-\udfff]")


# C0 controls a page's text can carry but no reader sees, tab and line ends apart: cut from the
# page before extraction (lxml, and so trafilatura, refuse text holding them). A form feed is
# HTML white space and becomes a space; the others go, so a word they split stays one word.
_C0 = "".join(map(chr, range(32))).translate({9: None, 10: None, 13: None})
_C0_BYTES = _C0.encode("ascii")
_C0_TABLE = {i: (" " if i == 12 else None) for i in map(ord, _C0)}
_C0_BYTES_TABLE = bytes(range(256)).replace(b"\x0c", b" ")
_C0_DELETE = _C0_BYTES.replace(b"\x0c", b"")


def has_controls(data: bytes) -> bool:
    """Does this page hold a C0 control other than tab and line ends (see strip_controls)?"""
    return len(data.translate(None, _C0_BYTES)) != len(data)


def strip_controls(text: str) -> str:
    """The page without C0 controls other than tab and line ends; a form feed becomes a space."""
    return text.translate(_C0_TABLE)


def strip_control_bytes(data: bytes) -> bytes:
    """strip_controls on bytes of an ASCII-compatible encoding such as UTF-8 (no C0 byte is ever
    part of a multi-byte character there)."""
    return data.translate(_C0_BYTES_TABLE, _C0_DELETE)


def _control(match: re.Match[str]) -> str:
    return "" if match.group() == "\x00" else " "


def normalise_text(text: str) -> str:
    """One line of reader-visible text: NFC, single spaces, no invisible characters."""
    if not text:
        return ""
    if _CONTROL.search(text):
        text = _CONTROL.sub(_control, text)
    if not text.isascii():
        if _INVISIBLE.search(text):
            text = _INVISIBLE.sub("", text)
        text = unicodedata.normalize("NFC", text)
    # str.split() splits on every Unicode space separator, NBSP and line separators included.
    return " ".join(text.split())


def normalise_paragraphs(lines: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Normalise each paragraph and drop the ones left empty."""
    out = []
    for line in lines:
        clean = normalise_text(line)
        if clean:
            out.append(clean)
    return tuple(out)


_WORD = re.compile(r"\w+")


def word_count(text: str) -> int:
    return len(_WORD.findall(text))
