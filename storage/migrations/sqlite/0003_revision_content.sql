-- A revision's Page and raw HTML move to their own table, so that the revisions table holds
-- only small rows (what a history listing reads) and one article's rows sit close together.
CREATE TABLE revision_content (
    revision_id INTEGER PRIMARY KEY REFERENCES revisions (id),
    page        BLOB NOT NULL,
    raw_html    BLOB,
    raw_codec   TEXT NOT NULL DEFAULT 'zstd'
);
INSERT INTO revision_content (revision_id, page, raw_html, raw_codec)
    SELECT id, page, raw_html, raw_codec FROM revisions ORDER BY id;
ALTER TABLE revisions DROP COLUMN page;
ALTER TABLE revisions DROP COLUMN raw_html;
ALTER TABLE revisions DROP COLUMN raw_codec;

CREATE TRIGGER revision_content_no_update BEFORE UPDATE ON revision_content
BEGIN SELECT RAISE(ABORT, 'revisions are append-only'); END;
CREATE TRIGGER revision_content_no_delete BEFORE DELETE ON revision_content
BEGIN SELECT RAISE(ABORT, 'revisions are append-only'); END;

-- `history(article)` reads only this index (a covering index: no table rows at all).
CREATE INDEX revisions_history
    ON revisions (article_id, number, fetched_at, content_hash, headline, summary);
