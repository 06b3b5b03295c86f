"""A user's search query: parsed into words, phrases, exclusions and ORs, and rendered in each
backend's full-text syntax from those parts only.

Only runs of letters and digits survive parsing, so nothing a user types reaches SQL or a
full-text parser as syntax: a query is a match, an empty listing, or InvalidInput.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from redline.storage.errors import InvalidInput

MAX_TERMS = 32

_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_WORD = re.compile(r"[^\W_]+")

Term = tuple[str, ...]  # the words of one word or phrase


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A parsed query: every group must match (a group is one term or several ORed), and no
    excluded term may."""

    groups: tuple[tuple[Term, ...], ...]
    excluded: tuple[Term, ...] = ()

    @property
    def first_word(self) -> str:
        return self.groups[0][0][0]

    @property
    def has_phrase(self) -> bool:
        return any(len(t) > 1 for g in self.groups for t in g) or any(
            len(t) > 1 for t in self.excluded
        )


def parse_query(text: str) -> SearchQuery:
    """Words (all must match), "a phrase", -excluded, and OR between two terms.

    Only runs of letters and digits survive: punctuation, quotes left open and operators of
    any full-text dialect are plain separators. A query with nothing left to find is refused."""
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    either = False
    for match in _TOKEN.finditer(text):
        negated, phrase, bare = match.groups()
        if bare == "OR":
            either = bool(groups)
            continue
        if bare is not None and bare.startswith("-") and len(bare) > 1:
            negated, bare = "-", bare[1:]
        words = tuple(w.lower() for w in _WORD.findall(phrase if bare is None else bare))
        if not words:
            continue
        if negated:
            excluded.append(words)
        elif either:
            groups[-1].append(words)
        else:
            groups.append([words])
        either = False
    if not groups:
        raise InvalidInput(f"nothing to search for in {text[:80]!r}: give at least one word")
    if len(groups) + len(excluded) > MAX_TERMS:
        raise InvalidInput(f"a search takes at most {MAX_TERMS} words or phrases")
    return SearchQuery(tuple(tuple(g) for g in groups), tuple(excluded))


def fts5_query(query: SearchQuery) -> str:
    """The query in FTS5 syntax: every term a quoted string (words hold no quote)."""

    def term(words: Term) -> str:
        return '"' + " ".join(words) + '"'

    found = " AND ".join("(" + " OR ".join(term(t) for t in g) + ")" for g in query.groups)
    if not query.excluded:
        return found
    return f"({found}) NOT (" + " OR ".join(term(t) for t in query.excluded) + ")"


def tsquery(query: SearchQuery, *, loose: bool = False) -> str:
    """The query as `to_tsquery` text: every word quoted (words are letters and digits).

    `loose` reads a phrase as its words in any order, and drops excluded phrases: a query
    the GIN index answers without reading any document, that matches at least what the
    exact one does."""

    def term(words: Term) -> str:
        return "(" + (" & " if loose else " <-> ").join(f"'{w}'" for w in words) + ")"

    found = " & ".join("(" + " | ".join(term(t) for t in g) + ")" for g in query.groups)
    excluded = [t for t in query.excluded if not loose or len(t) == 1]
    if not excluded:
        return found
    return f"({found}) & !(" + " | ".join(term(t) for t in excluded) + ")"
