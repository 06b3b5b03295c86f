-- Full-text search over every revision, and the indexes of the paginated listings.
-- One row per revision: the words of its text (headline, title, byline, body, live-feed
-- items) as a tsvector of the 'simple' configuration (lower-cased, no stemming and no stop
-- words: pages come in many languages). No copy of the text itself is kept. The revision's
-- article, number and time are repeated here so that grouping the matches per article reads
-- only this table's small rows (the documents live out of line, in TOAST).
CREATE TABLE revision_search (
    revision_id BIGINT PRIMARY KEY REFERENCES revisions (id),
    article_id  BIGINT NOT NULL,
    number      INTEGER NOT NULL,
    fetched_at  TIMESTAMPTZ NOT NULL,
    document    TSVECTOR NOT NULL
);
CREATE INDEX revision_search_document ON revision_search USING gin (document);
-- A phrase is tested on the documents of a few articles at a time (GIN keeps no positions).
CREATE INDEX revision_search_article ON revision_search (article_id);
-- Revisions written before this migration are indexed by `upgrade()` after it, in batches:
-- this row says how far it got (ids up to `last_id` are its to index; later ones are indexed
-- when written). Gone once the backfill is done.
CREATE TABLE search_backfill (
    next_id BIGINT NOT NULL,
    last_id BIGINT NOT NULL
);
INSERT INTO search_backfill SELECT 0, coalesce(max(id), 0) FROM revisions;
-- Recent changes: revisions after the first, and the URL events a listing shows, by time.
CREATE INDEX revisions_changed ON revisions (fetched_at, id) WHERE number > 1;
CREATE INDEX events_listed ON events (at, id)
    WHERE kind IN ('gone', 'moved', 'back', 'unavailable');
-- The articles listing: most recently changed first, over all sites or one.
CREATE INDEX articles_changed ON articles ((coalesce(last_changed_at, first_seen)), id);
CREATE INDEX articles_site_changed
    ON articles (site, (coalesce(last_changed_at, first_seen)), id);
