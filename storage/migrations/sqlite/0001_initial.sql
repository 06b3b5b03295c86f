-- Redline schema, version 1 (SQLite). Times are ISO 8601 text in UTC, which sorts as time.
CREATE TABLE sources (
    id              INTEGER PRIMARY KEY,
    url             TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('feed', 'sitemap', 'page', 'live')),
    every_seconds   INTEGER NOT NULL CHECK (every_seconds > 0),
    pattern         TEXT,
    enabled         INTEGER NOT NULL DEFAULT 1,
    next_check_at   TEXT,
    last_checked_at TEXT,
    last_error      TEXT,
    lease_owner     TEXT,
    lease_until     TEXT
);

CREATE TABLE articles (
    id              INTEGER PRIMARY KEY,
    url             TEXT NOT NULL UNIQUE,
    site            TEXT NOT NULL,
    first_seen      TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'active'
                    CHECK (status IN ('active', 'gone', 'moved', 'stopped')),
    is_live         INTEGER NOT NULL DEFAULT 0,
    source_id       INTEGER REFERENCES sources (id),
    next_check_at   TEXT,
    last_checked_at TEXT,
    last_changed_at TEXT,
    revision_count  INTEGER NOT NULL DEFAULT 0,
    latest_hash     TEXT,
    etag            TEXT,
    last_modified   TEXT,
    error_count     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    lease_owner     TEXT,
    lease_until     TEXT
);
CREATE INDEX articles_due ON articles (next_check_at) WHERE status = 'active';

-- Every URL an article was known under (its own, and the old ones after a move).
CREATE TABLE article_urls (
    url        TEXT PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES articles (id)
);

CREATE TABLE revisions (
    id           INTEGER PRIMARY KEY,
    article_id   INTEGER NOT NULL REFERENCES articles (id),
    number       INTEGER NOT NULL CHECK (number > 0),
    fetched_at   TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    headline     TEXT NOT NULL,
    summary      TEXT NOT NULL,
    page         BLOB NOT NULL,
    raw_html     BLOB,
    raw_codec    TEXT NOT NULL DEFAULT 'zstd',
    fetch_id     TEXT NOT NULL UNIQUE,
    UNIQUE (article_id, number)
);
CREATE INDEX revisions_fetched_at ON revisions (fetched_at);

CREATE TRIGGER revisions_no_update BEFORE UPDATE ON revisions
BEGIN SELECT RAISE(ABORT, 'revisions are append-only'); END;
CREATE TRIGGER revisions_no_delete BEFORE DELETE ON revisions
BEGIN SELECT RAISE(ABORT, 'revisions are append-only'); END;

CREATE TABLE changes (
    revision_id   INTEGER NOT NULL REFERENCES revisions (id),
    position      INTEGER NOT NULL,
    field         TEXT NOT NULL,
    kind          TEXT NOT NULL,
    class         TEXT NOT NULL,
    old           TEXT,
    new           TEXT,
    patch         TEXT NOT NULL,
    words_added   INTEGER NOT NULL,
    words_removed INTEGER NOT NULL,
    similarity    REAL NOT NULL,
    notes         TEXT NOT NULL,
    stealth       INTEGER NOT NULL,
    coarse        INTEGER NOT NULL,
    PRIMARY KEY (revision_id, position)
);

CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    article_id INTEGER NOT NULL REFERENCES articles (id),
    at         TEXT NOT NULL,
    kind       TEXT NOT NULL,
    detail     TEXT NOT NULL,
    fetch_id   TEXT
);
CREATE INDEX events_article ON events (article_id, id);
CREATE INDEX events_at ON events (at);

-- One row per check: makes a retried commit a no-op, and feeds `redline status`.
CREATE TABLE fetches (
    fetch_id    TEXT PRIMARY KEY,
    article_id  INTEGER NOT NULL REFERENCES articles (id),
    fetched_at  TEXT NOT NULL,
    http_status INTEGER,
    outcome     TEXT NOT NULL,
    revision    INTEGER,
    error       TEXT
);
CREATE INDEX fetches_article ON fetches (article_id, fetched_at);

-- The transactional outbox: one row per (revision or event, channel).
CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    channel         TEXT NOT NULL,
    article_id      INTEGER NOT NULL REFERENCES articles (id),
    revision        INTEGER,
    event_id        INTEGER REFERENCES events (id),
    kinds           TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    created_at      TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    sent_at         TEXT,
    last_error      TEXT
);
CREATE INDEX alerts_pending ON alerts (next_attempt_at) WHERE status = 'pending';
