"""Bytes to text, for pages whose charset declarations cannot be trusted.

Order of belief: a byte-order mark; valid UTF-8 (legacy 8-bit text such as windows-1251 almost never
decodes as valid UTF-8, so a page that does is UTF-8 whatever it claims); the HTTP charset; the
page's own <meta charset>; the first of those that decodes with only a few bad bytes (they become
U+FFFD); then a statistical guess. Binary data served as text/html is recognised
by its magic number or its share of control bytes and reported, never decoded into noise.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

import charset_normalizer

_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_\-:.]+)""", re.IGNORECASE
)
_MAGIC = (
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",
    b"%PDF",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"\x28\xb5\x2f\xfd",
    b"RIFF",
    b"\x00\x00\x01\x00",
    b"OggS",
    b"ID3",
    b"\x7fELF",
    b"BZh",
    b"7z\xbc\xaf",
)
_CONTROL_BYTES = bytes(range(0, 9)) + bytes(range(14, 32))
# A declared encoding that decodes with at most this many bad bytes (or one per _BYTES_PER_ERROR
# bytes, on a long page) is believed, the bad bytes becoming U+FFFD.
_FEW_ERRORS = 8
_BYTES_PER_ERROR = 1000
# What browsers read for these labels (WHATWG Encoding): windows-1252, whose C1 bytes are letters.
_BROWSER_NAMES = {"latin-1": "cp1252", "iso8859-1": "cp1252", "ascii": "cp1252"}


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    encoding: str


def looks_binary(data: bytes) -> bool:
    """True for images, archives and other non-text served as HTML."""
    head = data[:4096]
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return False
    if any(head.startswith(magic) for magic in _MAGIC):
        return True
    if not head:
        return False
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return controls / len(head) > 0.05


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        found = codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None
    return _BROWSER_NAMES.get(found, found)


def _try(data: bytes, encoding: str | None) -> str | None:
    if encoding is None:
        return None
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_html(data: bytes, http_charset: str | None = None) -> Decoded:
    """Decode a page; never raises (undecodable bytes become U+FFFD)."""
    for bom, name in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            return Decoded(data[len(bom) :].decode(name, errors="replace"), name)
    text = _try(data, "utf-8")
    if text is not None:
        return Decoded(text, "utf-8")
    meta = _META_CHARSET.search(data[:4096])
    for declared in (_codec(http_charset), _codec(meta.group(1).decode("ascii")) if meta else None):
        if declared and declared not in ("utf-8", "utf-16", "utf-16-le", "utf-16-be"):
            text = _try(data, declared)
            if text is not None:
                return Decoded(text, declared)
    # No declaration decodes cleanly: one that decodes with a handful of bad bytes (a truncated
    # character, a stray byte pasted in) is still believed over a statistical guess, which a few
    # bad bytes throw off completely; only those bytes become U+FFFD. A page in another encoding
    # altogether fails nearly every non-ASCII byte and is guessed.
    allowed = max(_FEW_ERRORS, len(data) // _BYTES_PER_ERROR)
    declared_names = (_codec(http_charset), _codec(meta.group(1).decode("ascii")) if meta else None)
    for declared in declared_names:
        if declared and declared not in ("utf-16", "utf-16-le", "utf-16-be"):
            text = data.decode(declared, errors="replace")
            if text.count("\ufffd") <= allowed:
                return Decoded(text, declared)
    guess = charset_normalizer.from_bytes(data[:65536]).best()
    guessed = _codec(guess.encoding) if guess is not None else None
    if guessed and guessed not in ("utf-16", "utf-16-le", "utf-16-be", "utf-32"):
        return Decoded(data.decode(guessed, errors="replace"), guessed)
    return Decoded(data.decode("utf-8", errors="replace"), "utf-8")
