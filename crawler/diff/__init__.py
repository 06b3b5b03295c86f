"""The differ: what changed between two versions of an article, word by word, classified.

Pure functions, no I/O, no clock. `compare(old, new)` gives one Change per changed field:
"headline", "title", "byline", "published", "updated", "body" and "item:<key>" for each live-feed
item.

What a Change holds, per field:

- headline, title, byline, published, updated: `old` and `new` are the full values as text (None
  when empty). A byline is its names joined by "; "; times are ISO 8601 in UTC
  ("2026-03-10T22:15:00+00:00").
- title: the SEO or social title, classified like the headline. A page whose title reads as its
  headline stores none (Page.title == ""); it is compared as its headline then, so an edit of
  the visible headline alone is a headline change only, and an edit of og:title alone a title
  change ("changed", old value the headline). Where neither page has a title of its own, no
  title change is reported: a new headline is one change, not two.
- body: `old` and `new` are None: the stored revisions already hold both bodies. The diff is
  against `Page.text` (paragraphs joined by a blank line).
- item:<key>: `old` and `new` are the item as text: its time (ISO, UTC), headline, text and
  "(Updated ...)" marker, one per paragraph, empty ones left out (see `item_text`).
- `patch` (every field) is `to_patch(diff_texts(old_text, new_text))`: applying it to the old
  text gives the new text exactly, including for ADDED (old text "") and REMOVED (new text "").
  `diff_change(change, old_text)` turns a stored Change back into a TextDiff to render.

All field texts are cleaned as the store cleans text (NUL dropped, lone surrogates replaced), so
a stored patch applies to the stored old value.

`compare(None, page)` is a new article: one ADDED change (class substantive) per non-empty field
and per feed item, in the same order as any other comparison. `compare(p, p) == ()`.

`BACKEND` names the diff-match-patch that computes the diffs ("fast-diff-match-patch 2.1.0", or
"diff-match-patch 20241021 (pure Python)" where the C++ wheel does not install); both give the
same changes (see backend.py).
"""

from redline.crawler.diff.backend import BACKEND
from redline.crawler.diff.classify import (
    MINOR_MAX_WORDS,
    MINOR_MIN_SIMILARITY,
    REWRITE_SHARE,
    Measures,
    find_notes,
    measure,
)
from redline.crawler.diff.compare import (
    PAGE_FIELDS,
    compare,
    diff_change,
    field_texts,
    item_text,
    keyed_items,
)
from redline.crawler.diff.patch import PatchError, apply_patch, patch_to_diff, to_patch
from redline.crawler.diff.pieces import Op, Piece, TextDiff
from redline.crawler.diff.render import (
    render_inline_html,
    render_side_by_side_html,
    render_terminal,
    render_unified,
)
from redline.crawler.diff.text import WORK_BUDGET, diff_texts

__all__ = [
    "BACKEND",
    "MINOR_MAX_WORDS",
    "MINOR_MIN_SIMILARITY",
    "PAGE_FIELDS",
    "REWRITE_SHARE",
    "WORK_BUDGET",
    "Measures",
    "Op",
    "PatchError",
    "Piece",
    "TextDiff",
    "apply_patch",
    "compare",
    "diff_change",
    "diff_texts",
    "field_texts",
    "find_notes",
    "item_text",
    "keyed_items",
    "measure",
    "patch_to_diff",
    "render_inline_html",
    "render_side_by_side_html",
    "render_terminal",
    "render_unified",
    "to_patch",
]
