"""A batch's new revisions in the forms the store keeps: each Page and raw HTML standalone (a
keyframe) or against its article's keyframe (storage/delta.py). Made before the write's
transaction opens, so that no lock is held while compressing; pure, given the keyframes the
batch's base revisions are stored against."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from redline.storage import codec, delta
from redline.storage.checks import CheckRecord, NewRevision


@dataclass(frozen=True, slots=True)
class Keyframe:
    """The revision a new one is stored against, decoded, with its stored sizes."""

    number: int
    page: bytes
    page_size: int
    raw: bytes | None
    raw_size: int
    revision_id: int | None = None  # its row, where the caller knows it (`compact`)


@dataclass(frozen=True, slots=True)
class Base:
    """What a new revision builds on: the revision it follows, read before the write."""

    keyframe: Keyframe | None  # the keyframe that revision is stored against (or is)
    page: bytes | None  # its Page's canonical JSON, for the search index's changes


@dataclass(frozen=True, slots=True)
class Encoded:
    """A new revision's stored parts; `base` is the number of the article's revision they are
    stored against (None: a keyframe); `previous` the Page JSON of the revision it follows
    (None: a first revision, or one that cannot be read)."""

    page: delta.Stored
    raw: delta.Stored | None = None
    base: int | None = None
    previous: bytes | None = None


def encode_batch(
    checks: Sequence[CheckRecord], bases: Mapping[tuple[int, int], Base], every: int
) -> dict[int, Encoded]:
    """The stored forms of the batch's new revisions, by index in `checks`.

    `bases` maps (article id, base revision) to what the check's new revision builds on. A
    batch may hold two revisions of one article: the later builds on the earlier one (stored
    against the keyframe the earlier ends up with: itself, when it is one)."""
    found: dict[tuple[int, int], Base] = dict(bases)
    encoded = {}
    for i in sorted(range(len(checks)), key=lambda i: _order(checks[i])):
        outcome = checks[i].decision.outcome
        if not isinstance(outcome, NewRevision):
            continue
        article, number = checks[i].article_id, outcome.base_revision + 1
        base = found.get((article, outcome.base_revision), Base(None, None))
        stored, keyframe = encode(outcome, base.keyframe, every)
        encoded[i] = Encoded(stored.page, stored.raw, stored.base, base.page)
        found[(article, number)] = Base(keyframe, _page_json(outcome))
    return encoded


def _order(check: CheckRecord) -> tuple[int, int]:
    outcome = check.decision.outcome
    return check.article_id, outcome.base_revision if isinstance(outcome, NewRevision) else -1


def encode(outcome: NewRevision, keyframe: Keyframe | None, every: int) -> tuple[Encoded, Keyframe]:
    """One new revision stored against `keyframe` when one is due and it pays, else as a new
    keyframe; and the keyframe the article's next revision would be stored against."""
    number = outcome.base_revision + 1
    page = _page_json(outcome)
    raw = _raw_html(outcome)
    if keyframe is not None and not delta.keyframe_due(number, keyframe.number, every):
        against = _against(outcome, page, raw, keyframe)
        if against is not None:
            return against, keyframe
    stored = Encoded(_standalone_page(outcome, page), _standalone_raw(outcome, raw))
    raw_size = 0 if stored.raw is None else len(stored.raw.blob)
    return stored, Keyframe(number, page, len(stored.page.blob), raw, raw_size)


def _against(
    outcome: NewRevision, page: bytes, raw: bytes | None, keyframe: Keyframe
) -> Encoded | None:
    """Stored against the keyframe; None when that would not pay."""
    done = outcome.encoded  # its checksums, when the pool made them
    page_sum, raw_sum = (None, None) if done is None else (done.page_sum, done.raw_sum)
    parts = parts_against(
        keyframe, page, raw, lambda: _standalone_raw(outcome, raw), page_sum, raw_sum
    )
    return None if parts is None else Encoded(*parts, keyframe.number)


def parts_against(
    keyframe: Keyframe,
    page: bytes,
    raw: bytes | None,
    standalone_raw: Callable[[], delta.Stored | None],
    page_sum: bytes | None = None,
    raw_sum: bytes | None = None,
) -> tuple[delta.Stored, delta.Stored | None] | None:
    """A revision's Page and raw HTML stored against `keyframe` (raw HTML standalone when the
    keyframe kept none); None when that would not pay (`delta.drifted`): the article moved far
    from its keyframe and should start a new one. The Page is tried first: a text rewritten
    from its keyframe's makes a new keyframe without the raw HTML's delta, ten times the
    Page's work, being made and thrown away. The writer and `compact` both decide here."""
    page_part = delta.against(page, keyframe.page, page_sum)
    if delta.drifted(len(page_part.blob), keyframe.page_size):
        return None
    raw_part = None
    if raw is not None:
        raw_part = (
            standalone_raw() if keyframe.raw is None else delta.against(raw, keyframe.raw, raw_sum)
        )
    size = len(page_part.blob) + (0 if raw_part is None else len(raw_part.blob))
    if delta.drifted(size, keyframe.page_size + keyframe.raw_size):
        return None
    return page_part, raw_part


def _page_json(outcome: NewRevision) -> bytes:
    if outcome.encoded is not None:  # encoded by the caller (its process pool)
        return codec.decompress(outcome.encoded.page)
    return codec.page_json(outcome.page)


def _raw_html(outcome: NewRevision) -> bytes | None:
    if outcome.raw_html is not None:
        return outcome.raw_html
    if outcome.encoded is not None and outcome.encoded.raw_html is not None:
        return codec.decompress(outcome.encoded.raw_html)
    return None


def _standalone_page(outcome: NewRevision, data: bytes) -> delta.Stored:
    done = outcome.encoded
    if done is None:
        return delta.Stored(delta.STANDALONE, codec.compress(data), delta.checksum(data))
    return delta.Stored(delta.STANDALONE, done.page, done.page_sum or delta.checksum(data))


def _standalone_raw(outcome: NewRevision, data: bytes | None) -> delta.Stored | None:
    if data is None:
        return None
    done = outcome.encoded
    if done is None or done.raw_html is None:
        return delta.Stored(delta.STANDALONE, codec.compress_html(data), delta.checksum(data))
    return delta.Stored(delta.STANDALONE, done.raw_html, done.raw_sum or delta.checksum(data))
