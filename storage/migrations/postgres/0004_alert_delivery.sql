-- Alert delivery. Each outbox row now names the rule that matched; rows with the same
-- `group_key` go out as one message (a digest, or a burst of edits to one article merged);
-- `batch` is the idempotency key of the message that carries a row once it was first tried
-- (a retry sends the same message again); the lease is held by the worker sending it.
-- 'dropped': a rule with `confirm` found the change gone on a second look.
ALTER TABLE alerts DROP CONSTRAINT alerts_status_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_status_check
    CHECK (status IN ('pending', 'sent', 'failed', 'dropped'));
ALTER TABLE alerts
    ADD COLUMN rule        TEXT NOT NULL DEFAULT '',
    ADD COLUMN group_key   TEXT,
    ADD COLUMN batch       TEXT,
    ADD COLUMN lease_owner TEXT,
    ADD COLUMN lease_until TIMESTAMPTZ;
CREATE INDEX alerts_group ON alerts (group_key) WHERE status = 'pending';
CREATE INDEX alerts_batch ON alerts (batch) WHERE status = 'pending';
CREATE INDEX alerts_created ON alerts (created_at);
