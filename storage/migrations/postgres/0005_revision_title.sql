-- Each revision names the page's SEO or social title (where it reads differently from the
-- headline; '' where it does not) and the extractor that read it ('redline', or
-- 'redline/plain' when the plain fallback took the body). Revisions written before this
-- migration keep NULL in both: history is not rewritten. Adding nullable columns without a
-- default rewrites no rows (and fires no append-only trigger).
ALTER TABLE revisions ADD COLUMN title TEXT, ADD COLUMN extractor TEXT;
-- `redline status` counts the active articles whose latest revision came from the plain
-- fallback: this index holds only those revisions, so the count reads a handful of rows.
CREATE INDEX revisions_plain ON revisions (article_id, number) WHERE extractor = 'redline/plain';
