-- Search indexes what each revision changed, not its whole text (issue 18): the index of
-- schema 6 held every revision's words again, most of them the revision before's. A revision's
-- searchable text is now a set of pieces (headline, title, byline names, body paragraphs,
-- live-feed items' headlines and texts). Each piece a revision added is indexed once, words
-- and positions; each piece it removed is one small row. Search answers from these when a text
-- was present, as before (storage/sqlstore/search.py, docs/search.md).
DROP TABLE revision_search;
-- The added pieces' words (contentless: no copy of the text), rowid = search_added.id.
CREATE VIRTUAL TABLE revision_search USING fts5(
    document, content = '', tokenize = 'unicode61 remove_diacritics 0'
);
-- Which revision added which piece (`piece`: 8 bytes of SHA-256 of its text).
CREATE TABLE search_added (
    id         INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES articles (id),
    number     INTEGER NOT NULL,
    piece      BLOB NOT NULL
);
CREATE INDEX search_added_article ON search_added (article_id, number);
-- Which revision removed which piece: the first one after the piece was added that no
-- longer has it.
CREATE TABLE search_removed (
    article_id INTEGER NOT NULL REFERENCES articles (id),
    piece      BLOB NOT NULL,
    number     INTEGER NOT NULL,
    PRIMARY KEY (article_id, piece, number)
) WITHOUT ROWID;
-- Every revision already written is indexed again by `upgrade()` after this migration, in
-- batches (resumable); new ones are indexed when written, meanwhile too.
DELETE FROM search_backfill;
INSERT INTO search_backfill SELECT 0, coalesce(max(id), 0) FROM revisions;
