-- What the crawler remembers between checks of an article.
ALTER TABLE articles ADD COLUMN raw_hash TEXT;
ALTER TABLE articles ADD COLUMN memory TEXT;
ALTER TABLE articles ADD COLUMN missing_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE articles ADD COLUMN flip_hash TEXT;
ALTER TABLE articles ADD COLUMN flip_count INTEGER NOT NULL DEFAULT 0;
CREATE INDEX revisions_article_time ON revisions (article_id, fetched_at);
CREATE INDEX articles_site ON articles (site);
-- Gone articles are still checked (rarely), to notice when they come back.
DROP INDEX articles_due;
CREATE INDEX articles_due ON articles (next_check_at) WHERE status IN ('active', 'gone');
-- What extraction learnt across one site's articles (opaque JSON, one row per site).
CREATE TABLE site_memory (
    site   TEXT PRIMARY KEY,
    memory TEXT NOT NULL
);
