"""Scraped text on a terminal: what the CLI prints and what the console alert channel writes."""

from __future__ import annotations

_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def terminal_safe(text: str) -> str:
    """Scraped text must not drive the terminal: control and bidi-override characters become
    visible escapes (an ESC in a headline could otherwise rewrite what the user sees)."""
    return "".join(_safe_char(ch) for ch in text)


def _safe_char(ch: str) -> str:
    code = ord(ch)
    if ch in "\n\t" or (code >= 0x20 and not 0x7F <= code < 0xA0 and ch not in _BIDI):
        return ch
    return f"\\u{code:04x}" if code > 0xFF else f"\\x{code:02x}"
