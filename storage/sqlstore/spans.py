"""Which revisions of an article held a text: runs of revision numbers, and a search query
evaluated over them.

The search index records, per revision, the pieces of text it added and removed. A piece is
then present from the revision that added it up to (not including) the one that removed it; a
query term is present wherever any piece holding it is; and a query holds wherever its terms
combine as it says. Pure functions over half-open runs `(start, end)` of revision numbers,
sorted and disjoint; `OPEN` ends a run that reaches the latest revision.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from redline.storage.sqlstore.searchquery import SearchQuery, Term

OPEN = 2**62
Span = tuple[int, int]


def normalise(spans: Iterable[Span]) -> list[Span]:
    """Sorted, with overlapping and touching runs merged, empty ones dropped."""
    merged: list[Span] = []
    for start, end in sorted(s for s in spans if s[0] < s[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def union(a: Sequence[Span], b: Sequence[Span]) -> list[Span]:
    return normalise([*a, *b])


def intersect(a: Sequence[Span], b: Sequence[Span]) -> list[Span]:
    found, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            found.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return found


def subtract(a: Sequence[Span], b: Sequence[Span]) -> list[Span]:
    found = []
    for start, end in a:
        for cut_start, cut_end in b:
            if cut_end <= start or cut_start >= end:
                continue
            if cut_start > start:
                found.append((start, cut_start))
            start = max(start, cut_end)
            if start >= end:
                break
        if start < end:
            found.append((start, end))
    return found


def presence(added: Iterable[int], removed: Iterable[int]) -> list[Span]:
    """Where one piece was present: from each revision that added it to the first later one
    that removed it. Added twice without a removal between (a previous revision that could
    not be read) reads as present throughout."""
    ends = sorted(set(removed))
    spans = []
    for start in sorted(set(added)):
        end = next((e for e in ends if e > start), OPEN)
        spans.append((start, end))
    return normalise(spans)


def matching(query: SearchQuery, terms: Mapping[Term, Sequence[Span]]) -> list[Span]:
    """Where every group of the query has a term present, and no excluded term is."""
    found: list[Span] | None = None
    for group in query.groups:
        either: list[Span] = []
        for term in group:
            either = union(either, terms.get(term, ()))
        found = either if found is None else intersect(found, either)
    for term in query.excluded:
        found = subtract(found or [], terms.get(term, ()))
    return found or []


def first_and_last(spans: Sequence[Span], latest: int) -> tuple[int, int] | None:
    """The first and last matching revision, within 1..latest (None: none matches)."""
    spans = intersect(spans, [(1, latest + 1)])
    return (spans[0][0], spans[-1][1] - 1) if spans else None
