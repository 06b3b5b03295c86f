-- Redline schema, version 1 (PostgreSQL). Every table is logged (never UNLOGGED).
CREATE TABLE sources (
    id              BIGSERIAL PRIMARY KEY,
    url             TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('feed', 'sitemap', 'page', 'live')),
    every_seconds   INTEGER NOT NULL CHECK (every_seconds > 0),
    pattern         TEXT,
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    next_check_at   TIMESTAMPTZ,
    last_checked_at TIMESTAMPTZ,
    last_error      TEXT,
    lease_owner     TEXT,
    lease_until     TIMESTAMPTZ
);

CREATE TABLE articles (
    id              BIGSERIAL PRIMARY KEY,
    url             TEXT NOT NULL UNIQUE,
    site            TEXT NOT NULL,
    first_seen      TIMESTAMPTZ NOT NULL,
    status          TEXT NOT NULL DEFAULT 'active'
                    CHECK (status IN ('active', 'gone', 'moved', 'stopped')),
    is_live         BOOLEAN NOT NULL DEFAULT FALSE,
    source_id       BIGINT REFERENCES sources (id),
    next_check_at   TIMESTAMPTZ,
    last_checked_at TIMESTAMPTZ,
    last_changed_at TIMESTAMPTZ,
    revision_count  INTEGER NOT NULL DEFAULT 0,
    latest_hash     TEXT,
    etag            TEXT,
    last_modified   TEXT,
    error_count     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    lease_owner     TEXT,
    lease_until     TIMESTAMPTZ
);
CREATE INDEX articles_due ON articles (next_check_at) WHERE status = 'active';

CREATE TABLE article_urls (
    url        TEXT PRIMARY KEY,
    article_id BIGINT NOT NULL REFERENCES articles (id)
);

CREATE TABLE revisions (
    id           BIGSERIAL PRIMARY KEY,
    article_id   BIGINT NOT NULL REFERENCES articles (id),
    number       INTEGER NOT NULL CHECK (number > 0),
    fetched_at   TIMESTAMPTZ NOT NULL,
    content_hash TEXT NOT NULL,
    headline     TEXT NOT NULL,
    summary      TEXT NOT NULL,
    page         BYTEA NOT NULL,
    raw_html     BYTEA,
    raw_codec    TEXT NOT NULL DEFAULT 'zstd',
    fetch_id     TEXT NOT NULL UNIQUE,
    UNIQUE (article_id, number)
);
-- Already-compressed columns: keep PostgreSQL from trying to compress them again.
ALTER TABLE revisions ALTER COLUMN page SET STORAGE EXTERNAL;
ALTER TABLE revisions ALTER COLUMN raw_html SET STORAGE EXTERNAL;
CREATE INDEX revisions_fetched_at ON revisions (fetched_at);

CREATE FUNCTION redline_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'revisions are append-only';
END;
$$;
CREATE TRIGGER revisions_append_only BEFORE UPDATE OR DELETE ON revisions
    FOR EACH ROW EXECUTE FUNCTION redline_append_only();

CREATE TABLE changes (
    revision_id   BIGINT NOT NULL REFERENCES revisions (id),
    position      INTEGER NOT NULL,
    field         TEXT NOT NULL,
    kind          TEXT NOT NULL,
    class         TEXT NOT NULL,
    old           TEXT,
    new           TEXT,
    patch         TEXT NOT NULL,
    words_added   INTEGER NOT NULL,
    words_removed INTEGER NOT NULL,
    similarity    DOUBLE PRECISION NOT NULL,
    notes         TEXT NOT NULL,
    stealth       BOOLEAN NOT NULL,
    coarse        BOOLEAN NOT NULL,
    PRIMARY KEY (revision_id, position)
);

CREATE TABLE events (
    id         BIGSERIAL PRIMARY KEY,
    article_id BIGINT NOT NULL REFERENCES articles (id),
    at         TIMESTAMPTZ NOT NULL,
    kind       TEXT NOT NULL,
    detail     TEXT NOT NULL,
    fetch_id   TEXT
);
CREATE INDEX events_article ON events (article_id, id);
CREATE INDEX events_at ON events (at);

CREATE TABLE fetches (
    fetch_id    TEXT PRIMARY KEY,
    article_id  BIGINT NOT NULL REFERENCES articles (id),
    fetched_at  TIMESTAMPTZ NOT NULL,
    http_status INTEGER,
    outcome     TEXT NOT NULL,
    revision    INTEGER,
    error       TEXT
);
CREATE INDEX fetches_article ON fetches (article_id, fetched_at);

CREATE TABLE alerts (
    id              BIGSERIAL PRIMARY KEY,
    channel         TEXT NOT NULL,
    article_id      BIGINT NOT NULL REFERENCES articles (id),
    revision        INTEGER,
    event_id        BIGINT REFERENCES events (id),
    kinds           TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    created_at      TIMESTAMPTZ NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ,
    sent_at         TIMESTAMPTZ,
    last_error      TEXT
);
CREATE INDEX alerts_pending ON alerts (next_attempt_at) WHERE status = 'pending';
