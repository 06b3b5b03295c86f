"""Search over an index of what each revision changed (schema 9), on both backends: for random
chains of edits and random queries, the first and last revision that said it, and the revision
that removed it, are what reading every revision's whole text says."""

from __future__ import annotations

import re
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redline.storage import Page
from redline.storage.sqlstore import spans
from redline.storage.sqlstore.search import search_pieces
from redline.storage.sqlstore.searchquery import SearchQuery, parse_query
from tests.conftest import NOW
from tests.records import revision

WORDS = ("alpha", "beta", "gamma", "delta", "omega")
PARAGRAPH = st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join)
PAGE = st.tuples(PARAGRAPH, st.lists(PARAGRAPH, min_size=0, max_size=4))
WORD = st.sampled_from(WORDS)
QUERY = st.one_of(
    WORD,
    st.tuples(WORD, WORD).map(" ".join),
    st.tuples(WORD, WORD).map(lambda w: f"{w[0]} -{w[1]}"),
    st.tuples(WORD, WORD).map(lambda w: f"{w[0]} OR {w[1]}"),
    st.tuples(WORD, WORD).map(lambda w: f'"{w[0]} {w[1]}"'),
    st.tuples(WORD, WORD, WORD).map(lambda w: f'{w[0]} OR "{w[1]} {w[2]}" -{w[0]}'),
)


def holds(query: SearchQuery, page: Page) -> bool:
    """Whether the whole page says it: every group has a term in one of its pieces (a phrase:
    its words in a row within one piece), and no excluded term is in any."""
    pieces = [re.findall(r"[^\W_]+", t.lower()) for t in search_pieces(page).values()]

    def said(term: tuple[str, ...]) -> bool:
        n = len(term)
        return any(tuple(p[i : i + n]) == term for p in pieces for i in range(len(p) - n + 1))

    return all(any(said(t) for t in group) for group in query.groups) and not any(
        said(t) for t in query.excluded
    )


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(chain=st.lists(PAGE, min_size=1, max_size=8), queries=st.lists(QUERY, max_size=4))
def test_search_over_changes_answers_as_the_whole_texts_do(store, chain, queries):
    site = f"s{store.last_revision_id()}.example"
    article, _ = store.add_article(f"https://{site}/story", NOW)
    pages = [Page(headline=h, body=tuple(body)) for h, body in chain]
    for number, page in enumerate(pages, start=1):
        at = NOW + timedelta(minutes=number)
        store.record(revision(article.id, f"{site}#{number}", page, base=number - 1, at=at))
    for text in queries:
        query = parse_query(text)
        matching = [n for n, page in enumerate(pages, start=1) if holds(query, page)]
        hits = store.search(text, site=site).rows
        store.SEARCH_RARE = 1  # every term common: candidates read down the articles' index
        assert store.search(text, site=site).rows == hits, text
        del store.SEARCH_RARE
        if not matching:
            assert hits == (), text
            continue
        (hit,) = hits
        last = matching[-1]
        removed = last + 1 if last < len(pages) else None
        assert (hit.first, hit.last, hit.removed_in) == (matching[0], last, removed), text
        assert hit.last_at == NOW + timedelta(minutes=last)


def test_a_phrase_does_not_match_across_a_paragraph_break(store):
    article, _ = store.add_article("https://one.example/a", NOW)
    store.record(revision(article.id, "a1", Page(headline="Votes", body=("secret", "ballot"))))
    assert store.search('"secret ballot"').rows == ()
    assert len(store.search("secret ballot").rows) == 1


def test_spans_combine_as_sets_of_revisions():
    assert spans.normalise([(3, 5), (1, 2), (2, 3), (7, 7)]) == [(1, 5)]
    assert spans.intersect([(1, 5), (8, 10)], [(4, 9)]) == [(4, 5), (8, 9)]
    assert spans.subtract([(1, spans.OPEN)], [(3, 4), (6, 8)]) == [(1, 3), (4, 6), (8, spans.OPEN)]
    assert spans.presence([1, 5], [3]) == [(1, 3), (5, spans.OPEN)]
    assert spans.presence([1, 2], [4]) == [(1, 4)]  # added twice: a predecessor unread
    assert spans.first_and_last([(2, spans.OPEN)], latest=6) == (2, 6)
    assert spans.first_and_last([(7, spans.OPEN)], latest=6) is None
