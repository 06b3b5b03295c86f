-- Managing what is tracked: pausing an article, where a source came from, and purging one
-- article's whole history.
-- A paused article keeps its status (active, gone...) and is not checked until resumed.
ALTER TABLE articles ADD COLUMN paused BOOLEAN NOT NULL DEFAULT FALSE;
-- 'cli': added with `redline sources add`; 'config': declared in the config file ([[sources]]).
ALTER TABLE sources ADD COLUMN origin TEXT NOT NULL DEFAULT 'cli'
    CHECK (origin IN ('cli', 'config'));
-- Revisions stay append-only, with one exception: `redline remove --purge`. The purge inserts
-- the article's id here, deletes its rows and deletes this row again, all in one transaction:
-- the triggers let a revision be deleted only while its article's marker exists, so outside
-- a purge (and for every other article during one) they refuse as before. UPDATE is always
-- refused.
CREATE TABLE purges (
    article_id BIGINT PRIMARY KEY
);
CREATE FUNCTION redline_revision_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM purges WHERE article_id = OLD.article_id) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'revisions are append-only';
END;
$$;
CREATE FUNCTION redline_revision_content_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (
        SELECT 1 FROM purges p JOIN revisions r ON r.article_id = p.article_id
        WHERE r.id = OLD.revision_id
    ) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'revisions are append-only';
END;
$$;
DROP TRIGGER revisions_append_only ON revisions;
CREATE TRIGGER revisions_append_only BEFORE UPDATE OR DELETE ON revisions
    FOR EACH ROW EXECUTE FUNCTION redline_revision_guard();
DROP TRIGGER revision_content_append_only ON revision_content;
CREATE TRIGGER revision_content_append_only BEFORE UPDATE OR DELETE ON revision_content
    FOR EACH ROW EXECUTE FUNCTION redline_revision_content_guard();
