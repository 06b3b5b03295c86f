"""Revision content stored against an earlier revision of the same article: the codecs, the
checksums, and the choice of which revision a new one is stored against.

A revision's Page (canonical JSON) and raw HTML are kept in one of two codecs, recorded per
row and per part (`page_codec`, `raw_codec`):

- `zstd`: a standalone zstd frame. Every row written before schema 8 is one, and so is every
  keyframe.
- `zstd-delta`: a zstd frame compressed with the decoded bytes of the row's base revision
  (`base_id`, the same part) as a raw-content dictionary. Most of a revision is the revision
  it follows, so the frame holds little more than what changed.

New revisions are stored against their article's latest keyframe (a star, not a chain): reading
any revision decodes at most two frames, and writing one decodes one. A new keyframe is written
every `keyframe_every` revisions, and sooner when a delta grows past half its keyframe's size
(the article drifted far from it). Each row also keeps a checksum of each part's decoded bytes
(`page_sum`, `raw_sum`): what the row says, fixed when it is written, checked on every read, so
a damaged frame or base is reported, never read as wrong text.

Pure functions: bytes in, bytes out. The SQL that stores and reads rows is in
storage/sqlstore/content.py.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

import zstandard

STANDALONE = "zstd"
DELTA = "zstd-delta"
CODECS = (STANDALONE, DELTA)
KEYFRAME_EVERY = 16  # a keyframe every 16 revisions: see docs/storage.md for the measurements
MAX_KEYFRAME_EVERY = 1024
_LEVEL = 3  # whose hash tables find matches in a large raw-content dictionary (1 and 2: few)
_MAX_WINDOW_LOG = 27  # what a default zstd decoder accepts (128 MiB)
_local = threading.local()


class DamagedContent(Exception):
    """Stored bytes that do not decode to what their row says they hold."""


def checksum(data: bytes) -> bytes:
    """8 bytes of SHA-256 (the CPU's SHA extensions make it the fastest strong hash here, twice
    BLAKE2b's speed): enough to tell a damaged frame or a wrong base from the real text."""
    return hashlib.sha256(data).digest()[:8]


def compress_against(data: bytes, base: bytes) -> bytes:
    """`data` as a zstd frame whose dictionary is `base` (raw content, not a trained dict).

    Most of the cost is indexing the dictionary, so the search is zstd's fastest strategy, over
    the hash tables zstd sizes for level 3 at these sizes (level 1's are too small to find
    matches in a large dictionary): a sixth faster than level 3 for the same size, measured on
    the edit model. The window covers the dictionary and the data, so that a match anywhere in
    a large page is found."""
    window = min(_MAX_WINDOW_LOG, max(17, (len(base) + len(data)).bit_length()))
    sized = zstandard.ZstdCompressionParameters.from_level(
        _LEVEL, source_size=len(data), dict_size=len(base), window_log=window
    )
    params = zstandard.ZstdCompressionParameters(
        window_log=window,
        hash_log=sized.hash_log,
        chain_log=sized.chain_log,
        search_log=1,
        min_match=6,
        target_length=0,
        strategy=zstandard.STRATEGY_FAST,
    )
    dictionary = zstandard.ZstdCompressionDict(base, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    return zstandard.ZstdCompressor(compression_params=params, dict_data=dictionary).compress(data)


def decompress_against(blob: bytes, base: bytes) -> bytes:
    dictionary = zstandard.ZstdCompressionDict(base, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    return bytes(zstandard.ZstdDecompressor(dict_data=dictionary).decompress(bytes(blob)))


def decompress(blob: bytes) -> bytes:
    """A standalone frame (one decompressor per thread: creating one costs more than a page)."""
    decompressor = _local.__dict__.get("decompressor")
    if decompressor is None:
        decompressor = _local.decompressor = zstandard.ZstdDecompressor()
    return bytes(decompressor.decompress(bytes(blob)))


def decode(codec: str, blob: bytes, base: bytes | None, expected: bytes | None) -> bytes:
    """The decoded bytes of one stored part, checked against its checksum when it has one
    (rows written before schema 8 have none until `compact` gives them one).

    Raises DamagedContent, with the reason, for anything that does not decode to them."""
    try:
        if codec == STANDALONE:
            data = decompress(blob)
        elif codec == DELTA:
            if base is None:
                raise DamagedContent("its base revision cannot be read")
            data = decompress_against(blob, base)
        else:
            raise DamagedContent(f"unknown codec {codec!r}")
    except zstandard.ZstdError as exc:
        raise DamagedContent(f"the {codec} frame does not decode ({exc})") from exc
    if expected is not None and checksum(data) != bytes(expected):
        raise DamagedContent("the decoded bytes do not match their checksum")
    return data


@dataclass(frozen=True, slots=True)
class Stored:
    """One part (Page or raw HTML) as a row keeps it: codec, frame, checksum of the bytes."""

    codec: str
    blob: bytes
    sum: bytes


def against(data: bytes, base: bytes, data_sum: bytes | None = None) -> Stored:
    """`data` stored against `base` (`data_sum`: its checksum, when already computed)."""
    return Stored(DELTA, compress_against(data, base), data_sum or checksum(data))


# --- which revision a new one is stored against ----------------------------------------------
def keyframe_due(number: int, keyframe_number: int | None, every: int) -> bool:
    """Whether revision `number` starts a new keyframe: the article has none to build on, or
    its keyframe is `every` revisions back (1: every revision is standalone)."""
    return keyframe_number is None or every <= 1 or number - keyframe_number >= every


def drifted(delta_size: int, keyframe_size: int) -> bool:
    """A delta (Page and raw HTML) more than half its keyframe's size: the article has moved
    far from its keyframe, and a new one costs little more than this delta while making the
    next ones small again."""
    return 2 * delta_size > keyframe_size


def check_keyframe_every(every: int) -> int:
    if not 1 <= every <= MAX_KEYFRAME_EVERY:
        raise ValueError(f"keyframe_every must be 1 to {MAX_KEYFRAME_EVERY}, not {every}")
    return every
