"""Scraped text made safe to show: what the pages and the feeds both apply before escaping."""

from __future__ import annotations

import re

# Bidi embeddings, overrides and isolates ("Trojan Source"), and control characters but tab,
# newline and carriage return: what crawler.diff.render escapes for terminals. The marks that
# right-to-left text uses every day (U+200E, U+200F, U+061C) stay.
HIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _code(match: re.Match[str]) -> str:
    return f"[U+{ord(match.group()):04X}]"


def shown(text: str) -> str:
    """Hidden characters as their code point ("[U+202E]"), so that a headline can neither
    reorder what is around it nor hide what it holds; plain text, safe inside attributes."""
    return HIDDEN.sub(_code, text)
