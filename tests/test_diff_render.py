"""What people see: the renderings, stored patches read back, and the coarse fallback."""

from __future__ import annotations

import random
import subprocess

import pytest

import redline.crawler.diff.text
from redline.crawler.diff import (
    Op,
    PatchError,
    Piece,
    TextDiff,
    apply_patch,
    compare,
    diff_change,
    diff_texts,
    render_inline_html,
    render_side_by_side_html,
    render_terminal,
    render_unified,
    to_patch,
)
from redline.storage.model import Page

OLD = (
    "Council approves budget.\n\nThe vote was 5 to 4 on Tuesday.\n\n"
    "Mayor Tom Leland said the budget protects core services.\n\nIt takes effect in July."
)
NEW = (
    "Council approves budget.\n\nMayor Tom Leland said the budget protects core services.\n\n"
    "The vote was 5 to 4 on Tuesday.\n\nIt takes effect on July 1."
)


def test_one_word_edit_in_a_long_article_is_just_that_word():
    paragraphs = [f"Paragraph {n} says something about the budget vote." for n in range(300)]
    edited = list(paragraphs)
    edited[150] = edited[150].replace("budget", "spending")
    diff = diff_texts("\n\n".join(paragraphs), "\n\n".join(edited))
    assert [(p.op, p.text) for p in diff.pieces if p.op is not Op.EQUAL] == [
        (Op.DELETE, " budget"),
        (Op.INSERT, " spending"),
    ]
    assert len(to_patch(diff)) < 60


def test_a_moved_paragraph_is_a_move_not_a_delete_and_insert():
    diff = diff_texts(OLD, NEW)
    moves = [(p.op, p.text, p.move) for p in diff.pieces if p.move is not None]
    assert moves == [
        (Op.MOVED_FROM, "The vote was 5 to 4 on Tuesday.\n\n", 1),
        (Op.MOVED_TO, "The vote was 5 to 4 on Tuesday.\n\n", 1),
    ]


def test_inline_html_marks_changes_and_moves():
    html = render_inline_html(diff_texts(OLD, NEW))
    assert html == (
        "Council approves budget.\n\n"
        '<del class="moved" data-move="1">The vote was 5 to 4 on Tuesday.\n\n</del>'
        "Mayor Tom Leland said the budget protects core services.\n\n"
        '<ins class="moved" data-move="1">The vote was 5 to 4 on Tuesday.\n\n</ins>'
        "It takes effect<del> in July</del><ins> on July 1</ins>."
    )


def test_side_by_side_has_one_row_per_aligned_paragraph():
    rows = render_side_by_side_html(diff_texts(OLD, NEW)).splitlines()
    assert [r.split('"')[1] for r in rows] == ["equal", "changed", "equal", "changed", "changed"]
    assert rows[0] == (
        '<tr class="equal"><td class="old">Council approves budget.</td>'
        '<td class="new">Council approves budget.</td></tr>'
    )
    assert rows[-1] == (
        '<tr class="changed"><td class="old">It takes effect<del> in July</del>.</td>'
        '<td class="new">It takes effect<ins> on July 1</ins>.</td></tr>'
    )


def test_terminal_rendering_with_and_without_colour():
    diff = diff_texts("It takes effect in July.", "It takes effect on July 1.")
    assert render_terminal(diff, color=False) == "It takes effect[- in July-]{+ on July 1+}."
    assert render_terminal(diff) == (
        "It takes effect\x1b[31m in July\x1b[0m\x1b[32m on July 1\x1b[0m."
    )
    moved = render_terminal(diff_texts(OLD, NEW), color=False)
    assert "[~The vote was 5 to 4 on Tuesday.\n\n~]" in moved
    assert "{~The vote was 5 to 4 on Tuesday.\n\n~}" in moved


def test_terminal_and_unified_renderings_cannot_drive_the_terminal():
    diff = diff_texts("Safe text.", "Safe text.\x1b]0;pwned\x07\x1b[2J \u202egnp.exe")
    for text in (render_terminal(diff, color=False), render_unified(diff)):
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
        assert "\\x1b]0;pwned\\x07" in text
        assert "\\u202egnp.exe" in text


LINES = "\n".join(f"Line {n} of the article." for n in range(1, 30)) + "\n"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (OLD + "\n", NEW + "\n"),
        (LINES, "A new first line.\n" + LINES.replace("Line 15 ", "Line fifteen ")),
        (LINES, LINES.replace("Line 3 of the article.\n", "") + "A last line.\n"),
        (LINES.replace("\n", "\r\n"), LINES.replace("\n", "\r\n").replace("Line 9", "Line IX")),
        (LINES, LINES[:-1]),
    ],
    ids=["moved paragraph", "insert at the top", "delete and append", "CRLF", "last newline"],
)
def test_unified_patch_applies_with_the_patch_tool(tmp_path, old, new):
    article = tmp_path / "article.txt"
    article.write_bytes(old.encode())
    unified = render_unified(diff_texts(old, new), old_label="a", new_label="b")
    assert unified.startswith("--- a\n+++ b\n@@ -")
    done = subprocess.run(
        ["patch", "--quiet", "--binary", str(article)], input=unified.encode(), capture_output=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert article.read_bytes() == new.encode()


def test_unified_patch_says_when_the_last_line_has_no_newline():
    unified = render_unified(diff_texts("one\ntwo", "one\nthree"))
    assert unified == (
        "--- old\n+++ new\n@@ -1,2 +1,2 @@\n one\n-two\n\\ No newline at end of file\n"
        "+three\n\\ No newline at end of file\n"
    )
    assert render_unified(diff_texts("same", "same")) == ""


def test_a_stored_change_renders_again_from_the_old_text():
    old = Page(headline="Budget passes", body=tuple(OLD.split("\n\n")))
    new = Page(headline="Budget passes 5-4", body=tuple(NEW.split("\n\n")))
    headline, body = compare(old, new)
    assert diff_change(headline) == diff_texts("Budget passes", "Budget passes 5-4")
    assert diff_change(body, old.text) == diff_texts(OLD, NEW)
    assert render_inline_html(diff_change(body, old.text)) == render_inline_html(
        diff_texts(OLD, NEW)
    )


def test_a_patch_refuses_the_wrong_old_text():
    patch = to_patch(diff_texts(OLD, NEW))
    assert apply_patch(OLD, patch) == NEW
    with pytest.raises(PatchError):
        apply_patch(OLD.replace("Tuesday", "Monday"), patch)
    with pytest.raises(PatchError):
        apply_patch(OLD, "not a patch")
    with pytest.raises(PatchError):
        apply_patch(OLD, patch.replace("\t>1", "\t>7"))


def _unrelated_article(seed: int, words: int) -> str:
    rnd = random.Random(seed)
    vocabulary = [f"w{n}" for n in range(3000)]
    sentences = [" ".join(rnd.choices(vocabulary, k=15)) + "." for _ in range(words // 15)]
    return "\n\n".join(" ".join(sentences[i : i + 5]) for i in range(0, len(sentences), 5))


def test_two_unrelated_long_texts_fall_back_to_a_coarse_but_exact_diff():
    old, new = _unrelated_article(1, 8000), _unrelated_article(2, 8000)
    diff = diff_texts(old, new)
    assert diff.coarse
    assert (diff.old, diff.new) == (old, new)
    assert apply_patch(old, to_patch(diff)) == new
    (change,) = compare(Page(body=(old,)), Page(body=(new,)))
    assert change.coarse and change.class_ == "rewrite"


def test_when_the_budget_runs_out_the_diff_is_coarser_but_exact(monkeypatch):
    # Enough budget to align the paragraphs and diff the first changed one word by word; the
    # second changed one is shown whole, and the diff says it is coarse.
    monkeypatch.setattr(redline.crawler.diff.text, "WORK_BUDGET", 1_800)
    paragraphs = [f"Paragraph {n} has a few words in it." for n in range(12)]
    old = "\n\n".join(paragraphs)
    new = old.replace("Paragraph 3 has", "Paragraph 3 had").replace("Paragraph 9 has a", "No")
    diff = diff_texts(old, new)
    assert diff.coarse
    assert apply_patch(old, to_patch(diff)) == new
    deleted = [p.text for p in diff.pieces if p.op is Op.DELETE]
    assert deleted == [" has", "Paragraph 9 has a few words in it.\n\n"]
    assert diff.pieces[0].op is Op.EQUAL and diff.pieces[0].text.startswith("Paragraph 0")


def test_without_the_budget_the_same_edit_is_word_level():
    old = "\n\n".join(f"Paragraph {n} has a few words in it." for n in range(12))
    new = old.replace("Paragraph 3 has", "Paragraph 3 had")
    diff = diff_texts(old, new)
    assert not diff.coarse
    assert [p.text for p in diff.pieces if p.op is Op.DELETE] == [" has"]


def test_an_unchanged_text_is_one_equal_piece():
    assert diff_texts("same", "same") == TextDiff((Piece(Op.EQUAL, "same"),))
    assert diff_texts("", "") == TextDiff(())


def test_terminal_context_leaves_out_far_unchanged_paragraphs():
    old = "\n\n".join(f"Paragraph {n} text." for n in range(20))
    new = old.replace("Paragraph 10 text", "Paragraph 10 changed text")
    assert render_terminal(diff_texts(old, new), color=False, context=1) == (
        "[… 9 unchanged paragraphs …]\n\nParagraph 9 text.\n\n"
        "Paragraph 10{+ changed+} text.\n\nParagraph 11 text.\n\n[… 8 unchanged paragraphs …]"
    )
    assert render_terminal(diff_texts(old, new), color=False, context=30).count("Paragraph") == 20
