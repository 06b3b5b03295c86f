"""How model values become bytes and back: canonical JSON, content hashes, compressed HTML.

Text from the web is hostile. Both backends store exactly what `clean_text` leaves: NUL bytes are
dropped (PostgreSQL cannot store them in text) and lone surrogates become U+FFFD (they cannot be
encoded as UTF-8). Everything else, including every real punctuation mark, is kept as it is, so
the same input gives the same stored value on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import zstandard

from redline.storage.delta import checksum
from redline.storage.model import (
    Change,
    ChangeClass,
    ChangeKind,
    EncodedPage,
    FeedItem,
    Page,
    PageKind,
)

_HOSTILE = re.compile("[\x00\ud800-\udfff]")
_ZSTD_LEVEL = 3
_HTML_LEVEL = 1
_local = threading.local()


def clean_text(text: str) -> str:
    """Drop NUL and replace lone surrogates: the only code points a database cannot hold."""
    if not _HOSTILE.search(text):
        return text
    return _HOSTILE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", text)


def clean_optional(text: str | None) -> str | None:
    return None if text is None else clean_text(text)


def to_utc(value: datetime) -> datetime:
    """Refuse naive datetimes: a time without a zone is a bug upstream, not something to guess."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} (times must be timezone-aware)")
    return value.astimezone(UTC)


def format_time(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with microseconds: sorts as text, round-trips exactly."""
    if value is None:
        return None
    try:
        return to_utc(value).isoformat(timespec="microseconds")  # years always four digits
    except OverflowError:  # 0001-01-01 east of UTC, a "null date" some sites emit: no such time
        return None


def parse_time(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return None if value is None else to_utc(value)
    return datetime.fromisoformat(value)


def _item_dict(item: FeedItem) -> dict[str, Any]:
    return {
        "key": clean_text(item.key),
        "headline": clean_text(item.headline),
        "text": clean_text(item.text),
        "time": format_time(item.time),
        "updated": clean_optional(item.updated),
    }


def page_to_dict(page: Page) -> dict[str, Any]:
    """The canonical, cleaned dict form of a Page (what is stored, exported and hashed)."""
    return {
        "kind": str(page.kind),
        "headline": clean_text(page.headline),
        "title": clean_text(page.title),
        "byline": [clean_text(a) for a in page.byline],
        "published": format_time(page.published),
        "updated": format_time(page.updated),
        "body": [clean_text(p) for p in page.body],
        "items": [_item_dict(i) for i in page.items],
        "language": clean_optional(page.language),
        "canonical_url": clean_optional(page.canonical_url),
        "extractor": clean_text(page.extractor),
        "extractor_version": clean_text(page.extractor_version),
        "reason": clean_optional(page.reason),
    }


def page_from_dict(data: dict[str, Any]) -> Page:
    return Page(
        kind=PageKind(data.get("kind", "article")),
        headline=data.get("headline", ""),
        title=data.get("title") or "",
        byline=tuple(data.get("byline", ())),
        published=parse_time(data.get("published")),
        updated=parse_time(data.get("updated")),
        body=tuple(data.get("body", ())),
        items=tuple(
            FeedItem(
                key=i["key"],
                headline=i.get("headline", ""),
                text=i.get("text", ""),
                time=parse_time(i.get("time")),
                updated=i.get("updated"),
            )
            for i in data.get("items", ())
        ),
        language=data.get("language"),
        canonical_url=data.get("canonical_url"),
        extractor=data.get("extractor", ""),
        extractor_version=data.get("extractor_version", ""),
        reason=data.get("reason"),
    )


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


_SEEN = ("headline", "byline", "published", "updated", "body", "items")
_SEEN_IF_SET = ("title",)  # fields added later: hashed only when set


def content_hash(page: Page) -> str:
    """Hash of what a reader sees: headline, title, byline, dates, body and feed items.

    The extractor's name and version, the language and the canonical URL are deliberately left
    out: upgrading the extractor must not, by itself, look like an edit to every article. A
    field added later (the title) counts only when it is set, so every page without one keeps
    the hash it had before the field existed: stored revisions keep theirs.
    """
    return _hash_of(page_to_dict(page))


def _hash_of(data: dict[str, Any]) -> str:
    seen = {k: data[k] for k in _SEEN}
    seen.update({k: data[k] for k in _SEEN_IF_SET if data.get(k)})
    return hashlib.blake2b(_dumps(seen).encode(), digest_size=16).hexdigest()


def encode_page(page: Page) -> bytes:
    return compress(_dumps(page_to_dict(page)).encode())


def hash_and_encode(page: Page) -> tuple[str, bytes]:
    """`content_hash` and `encode_page` together, building the canonical form once."""
    data = page_to_dict(page)
    return _hash_of(data), compress(_dumps(data).encode())


def encode_fetch(
    page: Page, raw_html: bytes | None, latest_hash: str | None = None
) -> tuple[str, EncodedPage | None]:
    """A fetched page's content hash, and, when it differs from `latest_hash` (a revision is
    expected), its stored forms: the work a writer would otherwise do inside its batch."""
    data = page_to_dict(page)
    digest = _hash_of(data)
    if digest == latest_hash:
        return digest, None
    text = _dumps(data).encode()
    html, html_sum = None, None
    if raw_html is not None:
        html, html_sum = compress_html(raw_html), checksum(raw_html)
    return digest, EncodedPage(digest, compress(text), html, checksum(text), html_sum)


def page_json(page: Page) -> bytes:
    """The canonical JSON bytes a revision stores (compressed) for its Page."""
    return _dumps(page_to_dict(page)).encode()


def page_from_json(data: bytes) -> Page:
    return page_from_dict(json.loads(data))


def decode_page(blob: bytes) -> Page:
    return page_from_json(decompress(blob))


def compress(data: bytes, level: int = _ZSTD_LEVEL) -> bytes:
    """zstd, with one compressor per thread and level (creating one costs more than a page)."""
    compressors: dict[int, zstandard.ZstdCompressor] = _local.__dict__.setdefault("compressors", {})
    if level not in compressors:
        compressors[level] = zstandard.ZstdCompressor(level=level)
    return compressors[level].compress(data)


def compress_html(data: bytes) -> bytes:
    """Raw HTML is large and read rarely: the fastest level (zstd-1 is about a third faster
    than zstd-3 on these pages, for files about a tenth larger)."""
    return compress(data, _HTML_LEVEL)


def decompress(blob: bytes) -> bytes:
    return bytes(zstandard.ZstdDecompressor().decompress(bytes(blob)))


def change_to_dict(change: Change) -> dict[str, Any]:
    data = asdict(change)
    data["class"] = str(data.pop("class_"))
    data["kind"] = str(change.kind)
    data["notes"] = [clean_text(note) for note in change.notes]
    for key in ("field", "old", "new", "patch"):
        data[key] = clean_optional(data[key])
    return data


def change_from_dict(data: dict[str, Any]) -> Change:
    return Change(
        field=data["field"],
        kind=ChangeKind(data["kind"]),
        class_=ChangeClass(data["class"]),
        old=data.get("old"),
        new=data.get("new"),
        patch=data.get("patch", ""),
        words_added=int(data.get("words_added", 0)),
        words_removed=int(data.get("words_removed", 0)),
        similarity=float(data.get("similarity", 1.0)),
        notes=tuple(data.get("notes", ())),
        stealth=bool(data.get("stealth", False)),
        coarse=bool(data.get("coarse", False)),
    )


def summary_json(changes: Iterable[Change]) -> str:
    return _dumps([[clean_text(c.field), str(c.kind), str(c.class_)] for c in changes])
