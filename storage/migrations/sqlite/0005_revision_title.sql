-- Each revision names the page's SEO or social title (where it reads differently from the
-- headline; '' where it does not) and the extractor that read it ('redline', or
-- 'redline/plain' when the plain fallback took the body). Revisions written before this
-- migration keep NULL in both: history is not rewritten.
ALTER TABLE revisions ADD COLUMN title TEXT;
ALTER TABLE revisions ADD COLUMN extractor TEXT;
-- `history(article)` lists the title too: its covering index gains the column (see 0003).
DROP INDEX revisions_history;
CREATE INDEX revisions_history
    ON revisions (article_id, number, fetched_at, content_hash, headline, title, summary);
-- `redline status` counts the active articles whose latest revision came from the plain
-- fallback: this index holds only those revisions, so the count reads a handful of rows.
CREATE INDEX revisions_plain ON revisions (article_id, number) WHERE extractor = 'redline/plain';
