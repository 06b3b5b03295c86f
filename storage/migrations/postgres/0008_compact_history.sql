-- Storage that grows with what changed (issue 18), and a fetch log kept bounded.
--
-- A revision's Page and raw HTML may now be stored against an earlier revision of the same
-- article (`base_id`): a zstd frame with that revision's decoded bytes as its dictionary
-- (codec 'zstd-delta'), or standalone as before ('zstd'). See storage/delta.py and
-- docs/storage.md. Rows written before this migration keep their bytes and stay readable as
-- they are; `redline db compact` re-encodes them in small batches. Adding these columns
-- rewrites no row.
ALTER TABLE revision_content
    ADD COLUMN page_codec TEXT NOT NULL DEFAULT 'zstd'
        CHECK (page_codec IN ('zstd', 'zstd-delta')),
    -- No foreign key: a purge deletes an article's rows together, and a key would make every
    -- deleted row look for rows built on it. Readers check that a base is an earlier revision
    -- of the same article; this check makes a cycle of bases impossible.
    ADD COLUMN base_id BIGINT CHECK (base_id < revision_id),
    -- What the row says: 8 bytes of SHA-256 of each part's decoded bytes, fixed when the row
    -- is written (NULL only in rows written before this migration, until `compact`).
    ADD COLUMN page_sum BYTEA,
    ADD COLUMN raw_sum BYTEA;
-- The rows `compact` has still to reach: this index empties as it works, and stays empty.
CREATE INDEX revision_content_legacy ON revision_content (revision_id) WHERE page_sum IS NULL;

-- Revisions stay append-only in meaning. A row's encoding (its frames, codecs and base) may
-- be replaced, so that `compact` can re-encode old rows while the daemon runs; what it decodes
-- to may not: an update must carry the checksums, may set them only where there were none, may
-- never change one, and may not add or drop the raw HTML. Readers check every decoded part
-- against its checksum, so an encoding that does not decode to the original is reported as
-- damage, never read as text. Deleting is still allowed only during a purge (schema 7).
CREATE OR REPLACE FUNCTION redline_revision_content_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF coalesce(
            NEW.revision_id = OLD.revision_id
            AND NEW.page_sum IS NOT NULL
            AND (OLD.page_sum IS NULL OR NEW.page_sum = OLD.page_sum)
            AND (NEW.raw_html IS NULL) = (OLD.raw_html IS NULL)
            AND (NEW.raw_html IS NULL) = (NEW.raw_sum IS NULL)
            AND (OLD.raw_sum IS NULL OR NEW.raw_sum IS NOT DISTINCT FROM OLD.raw_sum),
            FALSE
        ) THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'revisions are append-only: only the encoding of their content may change, never what it decodes to';
    END IF;
    IF EXISTS (
        SELECT 1 FROM purges p JOIN revisions r ON r.article_id = p.article_id
        WHERE r.id = OLD.revision_id
    ) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'revisions are append-only';
END;
$$;

-- The fetch log kept bounded: checks that wrote nothing (not modified, unchanged), once older
-- than the rollup's age, become counts per article and day (UTC), one per outcome. Checks
-- that wrote a revision or an event stay in `fetches` for ever.
CREATE TABLE fetch_days (
    article_id   BIGINT NOT NULL REFERENCES articles (id),
    day          DATE NOT NULL,
    not_modified INTEGER NOT NULL DEFAULT 0 CHECK (not_modified >= 0),
    unchanged    INTEGER NOT NULL DEFAULT 0 CHECK (unchanged >= 0),
    PRIMARY KEY (article_id, day)
);
-- The checks the rollup may take, oldest first (and the age of the oldest, for `db stats`).
CREATE INDEX fetches_quiet ON fetches (fetched_at) WHERE outcome IN ('not_modified', 'unchanged');
