-- Managing what is tracked: pausing an article, where a source came from, and purging one
-- article's whole history.
-- A paused article keeps its status (active, gone...) and is not checked until resumed.
ALTER TABLE articles ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
-- 'cli': added with `redline sources add`; 'config': declared in the config file ([[sources]]).
ALTER TABLE sources ADD COLUMN origin TEXT NOT NULL DEFAULT 'cli'
    CHECK (origin IN ('cli', 'config'));
-- Revisions stay append-only, with one exception: `redline remove --purge`. The purge inserts
-- the article's id here, deletes its rows and deletes this row again, all in one transaction:
-- the triggers let a revision be deleted only while its article's marker exists, so outside
-- a purge (and for every other article during one) they refuse as before. UPDATE is always
-- refused.
CREATE TABLE purges (
    article_id INTEGER PRIMARY KEY
);
DROP TRIGGER revisions_no_delete;
CREATE TRIGGER revisions_no_delete BEFORE DELETE ON revisions
WHEN NOT EXISTS (SELECT 1 FROM purges WHERE article_id = OLD.article_id)
BEGIN SELECT RAISE(ABORT, 'revisions are append-only'); END;
DROP TRIGGER revision_content_no_delete;
CREATE TRIGGER revision_content_no_delete BEFORE DELETE ON revision_content
WHEN NOT EXISTS (
    SELECT 1 FROM purges p JOIN revisions r ON r.article_id = p.article_id
    WHERE r.id = OLD.revision_id
)
BEGIN SELECT RAISE(ABORT, 'revisions are append-only'); END;
