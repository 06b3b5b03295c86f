-- Search indexes what each revision changed, not its whole text (issue 18): the index of
-- schema 6 held every revision's words again, most of them the revision before's (about 7 KB
-- a revision). A revision's searchable text is now a set of pieces (headline, title, byline
-- names, body paragraphs, live-feed items' headlines and texts). Each piece a revision added
-- is indexed once, words and positions; each piece it removed is one small row. Search
-- answers from these when a text was present, as before (storage/sqlstore/search.py).
DROP TABLE revision_search;
-- One row per piece a revision added (`piece`: 8 bytes of SHA-256 of its text): its words as
-- a tsvector of the 'simple' configuration, no copy of the text.
CREATE TABLE revision_search (
    id         BIGSERIAL PRIMARY KEY,
    article_id BIGINT NOT NULL REFERENCES articles (id),
    number     INTEGER NOT NULL,
    piece      BYTEA NOT NULL,
    document   TSVECTOR NOT NULL
);
CREATE INDEX revision_search_document ON revision_search USING gin (document);
CREATE INDEX revision_search_article ON revision_search (article_id, number);
-- Which revision removed which piece: the first one after the piece was added that no
-- longer has it.
CREATE TABLE search_removed (
    article_id BIGINT NOT NULL REFERENCES articles (id),
    piece      BYTEA NOT NULL,
    number     INTEGER NOT NULL,
    PRIMARY KEY (article_id, piece, number)
);
-- Every revision already written is indexed again by `upgrade()` after this migration, in
-- batches (resumable); new ones are indexed when written, meanwhile too.
DELETE FROM search_backfill;
INSERT INTO search_backfill SELECT 0, coalesce(max(id), 0) FROM revisions;
