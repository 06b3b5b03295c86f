-- A revision's Page and raw HTML move to their own table, so that the revisions table holds
-- only small rows (what a history listing reads) and one article's rows sit close together.
CREATE TABLE revision_content (
    revision_id BIGINT PRIMARY KEY REFERENCES revisions (id),
    page        BYTEA NOT NULL,
    raw_html    BYTEA,
    raw_codec   TEXT NOT NULL DEFAULT 'zstd'
);
-- Already-compressed columns: keep PostgreSQL from trying to compress them again.
ALTER TABLE revision_content ALTER COLUMN page SET STORAGE EXTERNAL;
ALTER TABLE revision_content ALTER COLUMN raw_html SET STORAGE EXTERNAL;
INSERT INTO revision_content (revision_id, page, raw_html, raw_codec)
    SELECT id, page, raw_html, raw_codec FROM revisions ORDER BY id;
ALTER TABLE revisions DROP COLUMN page, DROP COLUMN raw_html, DROP COLUMN raw_codec;

CREATE TRIGGER revision_content_append_only BEFORE UPDATE OR DELETE ON revision_content
    FOR EACH ROW EXECUTE FUNCTION redline_append_only();

-- No covering index for `history(article)` here: a B-tree entry cannot exceed about 2.7 KB,
-- and a headline from the web can be longer. The (article_id, number) index and a heap that
-- now holds only small rows serve it.
