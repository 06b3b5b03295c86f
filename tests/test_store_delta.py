"""Revisions stored against their article's keyframe (schema 8), on both backends: every
revision reads back byte for byte, a damaged one is reported as damaged (naming the article and
revision) and never read as wrong text, and `compact` re-encodes old rows without changing what
any revision says."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from redline.cli import cli
from redline.storage import DamagedRevision, Page, StorageError, open_store
from redline.storage import delta as codecs
from redline.storage.codec import compress_html, content_hash, encode_page, page_json
from redline.web import WebState, create_app
from tests.conftest import NOW
from tests.records import revision

URL = "https://news.example/politics/budget"
# Page furniture that compresses about as real markup does (not to nothing).
FOOTER = "<footer>" + "".join(f"<a href=/s/{i * 7919 % 997}>Item {i}</a>" for i in range(300))
WORDS = st.text(alphabet="abcdefghij klmnopé—\u00a0", min_size=1, max_size=30)
# One revision's edits of the one before: (what, where, text).
EDIT = st.tuples(
    st.sampled_from(["replace", "insert", "delete", "furniture", "headline"]),
    st.integers(0, 40),
    WORDS,
)
CHAIN = st.lists(
    st.tuples(st.lists(EDIT, min_size=1, max_size=3), st.booleans(), st.booleans()),
    min_size=1,
    max_size=12,
)


def apply(state: dict, edits: list) -> None:
    """One revision's edits of the article's sentences, headline and page furniture."""
    sentences = state["sentences"]
    for what, where, text in edits:
        i = where % (len(sentences) + 1)
        if what == "replace" and sentences:
            sentences[i % len(sentences)] = text
        elif what == "insert":
            sentences.insert(i, text)
        elif what == "delete" and len(sentences) > 1:
            del sentences[i % len(sentences)]
        elif what == "furniture":
            state["token"] = text
        else:
            state["headline"] = text


def rendered(state: dict, rewrite: bool) -> tuple[Page, bytes]:
    body = tuple(state["sentences"])
    html = (
        f"<html><head><meta name=csrf content='{state['token']}'></head><body>"
        + "".join(f"<p>{s}</p>" for s in body)
        + FOOTER
        + "</body></html>"
    ).encode()
    if rewrite:  # a page unlike its keyframe: stored as a new keyframe, or a big delta
        html = bytes(reversed(html)) + bytes(range(256))
    return Page(headline=state["headline"], body=body), html


def record_chain(store, url: str, chain: list) -> tuple[int, list[Page], list[bytes | None]]:
    article, _ = store.add_article(url, NOW)
    state = {"sentences": ["First sentence.", "Second one."], "token": "t0", "headline": "H"}
    pages, htmls = [], []
    for number, (edits, rewrite, keep_html) in enumerate(chain, start=1):
        apply(state, edits)
        page, html = rendered(state, rewrite)
        raw = html if keep_html or number == 1 else None
        at = NOW + timedelta(minutes=number)
        store.record(
            revision(article.id, f"{url}#{number}", page, base=number - 1, raw_html=raw, at=at)
        )
        pages.append(page)
        htmls.append(raw)
    return article.id, pages, htmls


def stored_rows(store, article_id: int) -> list:
    with store._tx() as tx:
        return tx.all(
            "SELECT r.id, r.number, c.base_id, c.page_codec, c.raw_codec, c.page_sum, c.raw_sum,"
            " b.number AS base_number FROM revisions r"
            " JOIN revision_content c ON c.revision_id = r.id"
            " LEFT JOIN revisions b ON b.id = c.base_id WHERE r.article_id = ? ORDER BY r.number",
            (article_id,),
        )


# --- every revision reads back exactly ------------------------------------------------------------
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(chain=CHAIN)
def test_any_chain_of_edits_reads_back_byte_for_byte(db_url, chain):
    """Random chains of edits, a keyframe every 3 revisions (so boundaries are everywhere),
    some revisions rewriting the page and some keeping no raw HTML."""
    with open_store(db_url, keyframe_every=3) as store:
        url = f"{URL}/{store.last_revision_id()}"
        article_id, pages, htmls = record_chain(store, url, chain)
        for number, (page, html) in enumerate(zip(pages, htmls, strict=True), start=1):
            assert store.revision(article_id, number).page == page
            assert store.raw_html(article_id, number) == html
        assert store.latest_page(article_id) == pages[-1]
        exported = [r.page for u, r in store.iter_revisions() if u == url]
        assert exported == pages
        for row in stored_rows(store, article_id):  # at most one frame between any revision
            if row["base_id"] is not None:  # and a keyframe fewer than 3 revisions back
                assert 0 < row["number"] - row["base_number"] < 3
                assert row["page_codec"] == codecs.DELTA
            assert row["page_sum"] is not None


def test_revisions_after_the_first_are_stored_against_a_keyframe(store):
    article_id, _, htmls = record_chain(
        store, URL, [([("replace", n, f"Edit number {n}.")], False, True) for n in range(20)]
    )
    rows = stored_rows(store, article_id)
    keyframes = [r["number"] for r in rows if r["base_id"] is None]
    assert keyframes == [1, 17]  # the default: a keyframe every 16 revisions
    assert {r["base_number"] for r in rows if r["base_id"] is not None} == {1, 17}
    assert {r["raw_codec"] for r in rows if r["base_id"] is not None} == {codecs.DELTA}
    with store._tx() as tx:
        sizes = tx.all(
            "SELECT length(c.raw_html) AS n, c.base_id FROM revision_content c"
            " JOIN revisions r ON r.id = c.revision_id WHERE r.article_id = ?",
            (article_id,),
        )
    keyframe = max(r["n"] for r in sizes if r["base_id"] is None)
    assert max(r["n"] for r in sizes if r["base_id"] is not None) < keyframe / 4
    assert store.raw_html(article_id, 20) == htmls[-1]


def test_an_article_that_drifted_from_its_keyframe_starts_a_new_one(store):
    """Rewritten text, or a new page around the same text, is stored as a new keyframe before
    one is due; an edit after it is stored against it."""
    article, _ = store.add_article(URL, NOW)
    text = tuple(f"Sentence {n} of the first telling of the story." for n in range(40))
    rewritten = tuple(f"Wholly new paragraph {n}, written again from the top." for n in range(40))
    html = ("<html>" + "".join(f"<p>{s}</p>" for s in text) + FOOTER).encode()
    other_html = bytes(reversed(html)) + bytes(range(256))  # a new template, same text
    pages = [
        (Page(headline="H", body=text), html),
        (Page(headline="H", body=(*text[:-1], "An edit.")), html + b"<!-- 2 -->"),
        (Page(headline="H", body=rewritten), html + b"<!-- 3 -->"),  # the text rewritten
        (Page(headline="H", body=(*rewritten[:-1], "An edit.")), html + b"<!-- 4 -->"),
        (Page(headline="H2", body=(*rewritten[:-1], "An edit.")), other_html),  # new template
    ]
    for number, (page, raw) in enumerate(pages, start=1):
        at = NOW + timedelta(minutes=number)
        store.record(revision(article.id, f"d{number}", page, base=number - 1, raw_html=raw, at=at))
    bases = [r["base_number"] for r in stored_rows(store, article.id)]
    assert bases == [None, 1, None, 3, None]
    for number, (page, raw) in enumerate(pages, start=1):
        assert store.revision(article.id, number).page == page
        assert store.raw_html(article.id, number) == raw


def test_two_revisions_of_one_article_in_one_batch(store):
    """A batch that writes revisions 2 and 3 of one article: the later builds on the earlier."""
    article, _ = store.add_article(URL, NOW)
    pages = [Page(headline=f"v{n}", body=("Same body.", f"Line {n}.")) for n in range(1, 4)]
    html = [f"<p>page {n}</p>".encode() * 50 for n in range(1, 4)]
    store.record(revision(article.id, "a1", pages[0], raw_html=html[0]))
    store.record_many(
        [
            revision(article.id, f"a{n}", pages[n - 1], base=n - 1, raw_html=html[n - 1])
            for n in (2, 3)
        ]
    )
    assert [store.raw_html(article.id, n) for n in (1, 2, 3)] == html
    assert [store.revision(article.id, n).page for n in (1, 2, 3)] == pages


# --- damage is reported, never read as text ---------------------------------------------------
def overwrite(store, article_id: int, number: int, column: str, blob: bytes) -> None:
    """Replace a stored frame, keeping the row's checksums (the trigger allows a re-encoding:
    it cannot know what bytes decode to; readers can)."""
    with store._tx(write=True) as tx:
        tx.execute(
            f"UPDATE revision_content SET {column} = ? WHERE revision_id ="
            " (SELECT id FROM revisions WHERE article_id = ? AND number = ?)",
            (blob, article_id, number),
        )


def five_revisions(store, url: str = URL) -> tuple[int, list[Page], list[bytes | None]]:
    return record_chain(
        store, url, [([("insert", n, f"Added sentence {n}.")], False, True) for n in range(5)]
    )


def test_a_delta_that_decodes_to_other_bytes_is_reported_not_read(store):
    article_id, pages, htmls = five_revisions(store)
    other_id, _, other_htmls = five_revisions(store, "https://other.example/story")
    wrong = codecs.compress_against(b"<html>something else entirely</html>", htmls[0])
    overwrite(store, article_id, 3, "raw_html", wrong)
    with pytest.raises(DamagedRevision) as caught:
        store.raw_html(article_id, 3)
    message = str(caught.value)
    assert URL in message and "revision 3" in message and "raw HTML" in message
    assert (caught.value.article_id, caught.value.number) == (article_id, 3)
    # its Page, the article's other revisions and the other article read as before
    assert store.revision(article_id, 3).page == pages[2]
    assert [store.raw_html(article_id, n) for n in (1, 2, 4, 5)] == [htmls[i] for i in (0, 1, 3, 4)]
    assert store.raw_html(other_id, 3) == other_htmls[2]


def test_a_damaged_keyframe_is_reported_for_every_revision_built_on_it(store, db_url):
    article_id, _, _ = five_revisions(store)
    other_id, other_pages, _ = five_revisions(store, "https://other.example/story")
    overwrite(store, article_id, 1, "page", b"\x28\xb5\x2f\xfd not a zstd frame")
    for number in range(1, 6):
        with pytest.raises(DamagedRevision, match=f"revision {number}: its stored Page"):
            store.revision(article_id, number)
    with pytest.raises(DamagedRevision):
        store.latest_page(article_id)
    assert store.revision(other_id, 4).page == other_pages[3]
    assert [h.article_id for h in store.search("added").rows] == [other_id, article_id]
    damaged = store.search("added").rows[1]
    assert "damaged" in damaged.snippet and damaged.last == 5  # listed, saying so
    result = CliRunner().invoke(cli, ["--db", db_url, "show", URL, "--rev", "2"])
    assert result.exit_code == 1 and "revision 2: its stored Page is damaged" in result.stderr
    assert "Traceback" not in result.stderr


def test_history_stays_append_only_in_meaning(store):
    """A row's encoding may be replaced; what it says (its checksums, whether it kept raw
    HTML) may not, and nothing may delete it outside a purge."""
    article_id, _, _ = five_revisions(store)
    where = " WHERE revision_id = (SELECT id FROM revisions WHERE article_id = ? AND number = 2)"
    refused = (
        "UPDATE revision_content SET page_sum = ?" + where,
        "UPDATE revision_content SET raw_sum = ?" + where,
        "UPDATE revision_content SET raw_html = NULL, raw_sum = NULL" + where,
        "UPDATE revision_content SET page_sum = NULL" + where,
        "DELETE FROM revision_content" + where,
    )
    for sql in refused:
        params = (b"12345678", article_id) if "?" in sql.split("WHERE")[0] else (article_id,)
        with pytest.raises(StorageError, match="append-only"), store._tx(write=True) as tx:
            tx.execute(sql, params)
    with pytest.raises(StorageError), store._tx(write=True) as tx:  # a base is an earlier one
        tx.execute("UPDATE revision_content SET base_id = revision_id" + where, (article_id,))


# --- compacting rows stored before schema 8 -------------------------------------------------------
def legacy_article(store, url: str, count: int) -> tuple[int, list[Page], list[bytes]]:
    """`count` revisions stored as Redline did before schema 8: each standalone, no checksums."""
    article, _ = store.add_article(url, NOW)
    pages, htmls = [], []
    body = ["Opening paragraph of the story."]
    with store._tx(write=True) as tx:
        for number in range(1, count + 1):
            body.append(f"Paragraph added in revision {number}.")
            page = Page(headline=f"{url} v{number}", body=tuple(body))
            html = ("<html>" + "".join(f"<p>{p}</p>" for p in body) + FOOTER).encode()
            fetch_id = f"{url}#old{number}"
            tx.execute(
                "INSERT INTO revisions (article_id, number, fetched_at, content_hash, headline,"
                " title, extractor, summary, fetch_id)"
                " VALUES (?, ?, ?, ?, ?, '', 'redline', '[]', ?)",
                (article.id, number, store._ts(NOW + timedelta(hours=number)), content_hash(page),
                 page.headline, fetch_id),
            )  # fmt: skip
            tx.execute(
                "INSERT INTO revision_content (revision_id, page, raw_html)"
                " SELECT id, ?, ? FROM revisions WHERE fetch_id = ?",
                (encode_page(page), compress_html(html), fetch_id),
            )
            pages.append(page)
            htmls.append(html)
        tx.execute(
            "UPDATE articles SET revision_count = ?, latest_hash = ? WHERE id = ?",
            (count, content_hash(pages[-1]), article.id),
        )
    return article.id, pages, htmls


def test_compact_reencodes_old_rows_without_changing_what_they_say(db_url):
    with open_store(db_url, keyframe_every=4) as store:
        stories = [legacy_article(store, f"{URL}/{n}", 10) for n in range(3)]
        assert store.legacy_revisions() == 30
        first = store.compact(batch=3, max_revisions=5)  # interrupted after an article
        assert 0 < first.revisions < 30 and store.legacy_revisions() == 30 - first.revisions
        rest = store.compact(batch=3)
        assert first.revisions + rest.revisions == 30 and store.legacy_revisions() == 0
        assert store.compact() == type(rest)()  # nothing left: does nothing
        assert rest.bytes_after < rest.bytes_before / 2
        for article_id, pages, htmls in stories:
            for number in range(1, 11):
                assert store.revision(article_id, number).page == pages[number - 1]
                assert store.raw_html(article_id, number) == htmls[number - 1]
            rows = stored_rows(store, article_id)
            assert all(r["page_sum"] is not None and r["raw_sum"] is not None for r in rows)
            assert [r["number"] for r in rows if r["base_id"] is None] == [1, 5, 9, 10]
            assert page_json(pages[0]) and rows[-1]["base_id"] is None  # the latest stays whole


def test_compact_leaves_a_damaged_old_row_and_ends(store):
    article_id, pages, _ = legacy_article(store, URL, 4)
    with pytest.raises(StorageError, match="append-only"):  # an old row has no checksum yet
        overwrite(store, article_id, 2, "raw_html", b"garbage")
    done = store.compact()
    assert done.revisions == 4 and store.legacy_revisions() == 0
    assert [store.revision(article_id, n).page for n in range(1, 5)] == pages


def test_writes_after_an_upgrade_build_on_the_old_rows_and_compact_keeps_them_readable(store):
    article_id, pages, htmls = legacy_article(store, URL, 3)
    fourth = Page(headline="v4", body=(*pages[-1].body, "Written by this version."))
    html = htmls[-1] + b"<p>Written by this version.</p>"
    store.record(revision(article_id, "new-4", fourth, base=3, raw_html=html))
    rows = stored_rows(store, article_id)
    assert rows[-1]["base_number"] == 3  # the old latest row is its keyframe
    store.compact()
    rows = stored_rows(store, article_id)
    assert rows[2]["base_id"] is None  # still a keyframe: a newer row is built on it
    assert store.raw_html(article_id, 4) == html
    assert [store.revision(article_id, n).page for n in (1, 2, 3, 4)] == [*pages, fourth]


def test_db_compact_command_reports_what_it_did(db_url):
    with open_store(db_url) as store:
        legacy_article(store, URL, 6)
    result = CliRunner().invoke(cli, ["--db", db_url, "db", "compact", "--keyframe-every", "3"])
    assert result.exit_code == 0, result.output
    assert (
        "revisions: 6 of 1 articles given checksums, 3 stored against a keyframe" in result.stdout
    )
    assert "fetch log: 0 checks older than 30 days rolled up" in result.stdout
    again = CliRunner().invoke(cli, ["--db", db_url, "db", "compact"])
    assert "revisions: nothing to re-encode" in again.stdout


def test_an_export_can_go_on_past_a_damaged_revision(store):
    article_id, pages, _ = five_revisions(store)
    _, other_pages, _ = five_revisions(store, "https://other.example/story")
    overwrite(store, article_id, 3, "page", codecs.compress_against(b"{}", page_json(pages[0])))
    with pytest.raises(DamagedRevision, match="revision 3"):
        list(store.iter_revisions())
    reported: list[DamagedRevision] = []
    exported = list(store.iter_revisions(damaged=reported.append))
    assert [(e.article_id, e.number) for e in reported] == [(article_id, 3)]
    assert [r.page for u, r in exported if u == URL] == [pages[i] for i in (0, 1, 3, 4)]
    assert [r.page for u, r in exported if u != URL] == other_pages


def test_compact_while_the_daemon_writes_loses_and_changes_nothing(db_url):
    """`compact` in one connection while another records new revisions of the same articles,
    as a daemon would: every revision, old and new, reads back as it was written."""
    with open_store(db_url, keyframe_every=4) as store:
        stories = [legacy_article(store, f"{URL}/{n}", 12) for n in range(4)]
        failures: list[BaseException] = []

        def compact() -> None:
            try:
                with open_store(db_url, keyframe_every=4) as other:
                    other.compact(batch=2)
            except BaseException as exc:  # reported by the assertion below
                failures.append(exc)

        worker = threading.Thread(target=compact)
        worker.start()
        for extra in range(13, 19):
            for article_id, pages, htmls in stories:
                page = Page(headline=f"v{extra}", body=(*pages[-1].body, f"Later line {extra}."))
                html = htmls[-1] + f"<p>Later line {extra}.</p>".encode()
                fetch_id = f"{article_id}-new-{extra}"
                store.record(revision(article_id, fetch_id, page, base=extra - 1, raw_html=html))
                pages.append(page)
                htmls.append(html)
        worker.join(120)
        assert not worker.is_alive() and failures == []
        store.compact()  # whatever the writes kept it from reaching
        assert store.legacy_revisions() == 0
        for article_id, pages, htmls in stories:
            for number in range(1, 19):
                assert store.revision(article_id, number).page == pages[number - 1]
                assert store.raw_html(article_id, number) == htmls[number - 1]


def test_export_leaves_a_damaged_revision_out_says_so_and_fails(store, db_url):
    article_id, pages, _ = five_revisions(store)
    overwrite(store, article_id, 3, "page", codecs.compress_against(b"{}", page_json(pages[0])))
    result = CliRunner().invoke(cli, ["--db", db_url, "export"])
    assert result.exit_code == 1
    exported = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["revision"] for r in exported if r["type"] == "revision"] == [1, 2, 4, 5]
    assert result.stderr.count("\n") == 1 and "revision 3" in result.stderr
    assert "left out of the export" in result.stderr and "Traceback" not in result.stderr


def test_the_web_app_names_a_damaged_revision_and_serves_the_rest(store):
    article_id, pages, _ = five_revisions(store)
    overwrite(store, article_id, 3, "page", codecs.compress_against(b"{}", page_json(pages[0])))
    app = create_app(WebState(store))
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get(f"/api/v1/articles/{article_id}/revisions/3")
        assert answer.status_code == 500
        assert "revision 3: its stored Page is damaged" in answer.json()["error"]
        page = client.get(f"/articles/{article_id}/revisions/3")
        assert page.status_code == 500 and "is damaged" in page.text
        assert "Content-Security-Policy" in page.headers
        assert client.get(f"/api/v1/articles/{article_id}/revisions/4").status_code == 200
        assert client.get(f"/articles/{article_id}").status_code == 200


def test_verify_names_each_damaged_revision_and_only_those(store, db_url):
    article_id, _, htmls = five_revisions(store)
    legacy_article(store, "https://old.example/story", 3)  # no checksums yet: read, not judged
    clean = CliRunner().invoke(cli, ["--db", db_url, "db", "verify"])
    assert clean.exit_code == 0, clean.output
    assert "8 revisions read back, Page and raw HTML: none damaged" in clean.stdout
    wrong = codecs.compress_against(b"<html>something else entirely</html>", htmls[0])
    overwrite(store, article_id, 3, "raw_html", wrong)
    found: list[DamagedRevision] = []
    done = store.verify(batch=2, damaged=found.append)
    assert (done.revisions, done.damaged) == (8, 1)
    assert [(e.article_id, e.number) for e in found] == [(article_id, 3)]
    assert "raw HTML" in str(found[0]) and URL in str(found[0])
    result = CliRunner().invoke(cli, ["--db", db_url, "db", "verify"])
    assert result.exit_code == 1
    assert "8 revisions read: 1 damaged" in result.stdout
    assert result.stderr.count("\n") == 1 and "revision 3: its stored raw HTML" in result.stderr
