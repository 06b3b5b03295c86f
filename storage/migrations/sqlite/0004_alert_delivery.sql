-- Alert delivery. Each outbox row now names the rule that matched; rows with the same
-- `group_key` go out as one message (a digest, or a burst of edits to one article merged);
-- `batch` is the idempotency key of the message that carries a row once it was first tried
-- (a retry sends the same message again); the lease is held by the worker sending it.
-- 'dropped': a rule with `confirm` found the change gone on a second look.
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt.
CREATE TABLE alerts_v4 (
    id              INTEGER PRIMARY KEY,
    channel         TEXT NOT NULL,
    rule            TEXT NOT NULL DEFAULT '',
    article_id      INTEGER NOT NULL REFERENCES articles (id),
    revision        INTEGER,
    event_id        INTEGER REFERENCES events (id),
    kinds           TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    created_at      TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'failed', 'dropped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    sent_at         TEXT,
    last_error      TEXT,
    group_key       TEXT,
    batch           TEXT,
    lease_owner     TEXT,
    lease_until     TEXT
);
INSERT INTO alerts_v4 (id, channel, article_id, revision, event_id, kinds, idempotency_key,
                       created_at, status, attempts, next_attempt_at, sent_at, last_error)
    SELECT id, channel, article_id, revision, event_id, kinds, idempotency_key, created_at,
           status, attempts, next_attempt_at, sent_at, last_error
    FROM alerts ORDER BY id;
DROP TABLE alerts;
ALTER TABLE alerts_v4 RENAME TO alerts;
CREATE INDEX alerts_pending ON alerts (next_attempt_at) WHERE status = 'pending';
CREATE INDEX alerts_group ON alerts (group_key) WHERE status = 'pending';
CREATE INDEX alerts_batch ON alerts (batch) WHERE status = 'pending';
CREATE INDEX alerts_created ON alerts (created_at);
