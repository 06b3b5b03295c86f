-- Full-text search over every revision, and the indexes of the paginated listings.
-- The search index is contentless (content=''): it holds the words of each revision's text
-- (headline, title, byline, body, live-feed items), keyed by rowid = revisions.id, but no
-- second copy of the text; snippets come from the few pages a result shows. Diacritics are
-- kept, as PostgreSQL's 'simple' configuration keeps them: both backends find the same rows.
CREATE VIRTUAL TABLE revision_search USING fts5(
    document, content = '', tokenize = 'unicode61 remove_diacritics 0'
);
-- Revisions written before this migration are indexed by `upgrade()` after it, in batches:
-- this row says how far it got (ids up to `last_id` are its to index; later ones are indexed
-- when written). Gone once the backfill is done.
CREATE TABLE search_backfill (
    next_id INTEGER NOT NULL,
    last_id INTEGER NOT NULL
);
INSERT INTO search_backfill SELECT 0, coalesce(max(id), 0) FROM revisions;
-- Recent changes: revisions after the first, and the URL events a listing shows, by time.
CREATE INDEX revisions_changed ON revisions (fetched_at, id) WHERE number > 1;
CREATE INDEX events_listed ON events (at, id)
    WHERE kind IN ('gone', 'moved', 'back', 'unavailable');
-- The articles listing: most recently changed first, over all sites or one.
CREATE INDEX articles_changed ON articles (coalesce(last_changed_at, first_seen), id);
CREATE INDEX articles_site_changed
    ON articles (site, coalesce(last_changed_at, first_seen), id);
