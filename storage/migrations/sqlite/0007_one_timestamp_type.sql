-- Schema version 7: one timestamp type in every table. Every time is ISO 8601 text in
-- one fixed form, YYYY-MM-DDTHH:MM:SS.ffffffZ (UTC, microseconds), so that text order is
-- time order and `<` compares times; the engine turns Python datetimes into it and back.
-- Until now some columns held whole-second text, events kept their offset, remote objects
-- kept whatever their server wrote, and the delivery queue and hosts kept REAL unix seconds.
-- ch_timestamp() is the engine's own function: any of those forms in, the one form out
-- (NULL for text that is no time at all).

UPDATE schema_migrations SET applied_at = ch_timestamp(applied_at);
UPDATE actors SET created_at = ch_timestamp(created_at);
UPDATE actor_keys SET created_at = ch_timestamp(created_at);
UPDATE chapters SET founded_at = ch_timestamp(founded_at);
UPDATE memberships SET joined_at = ch_timestamp(joined_at);
UPDATE activities SET published = ch_timestamp(published);
UPDATE followers SET created_at = ch_timestamp(created_at);
UPDATE following SET created_at = ch_timestamp(created_at);
UPDATE remote_actors SET fetched_at = ch_timestamp(fetched_at);
UPDATE inbox_activities SET received_at = ch_timestamp(received_at);
UPDATE remote_objects SET published = ch_timestamp(published), updated = ch_timestamp(updated), received_at = ch_timestamp(received_at), deleted_at = ch_timestamp(deleted_at);
UPDATE objects SET published = ch_timestamp(published), deleted_at = ch_timestamp(deleted_at);
UPDATE reactions SET created_at = ch_timestamp(created_at);
UPDATE blocks SET created_at = ch_timestamp(created_at);
UPDATE fanouts SET created_at = ch_timestamp(created_at);
UPDATE items SET starts_at = ch_timestamp(starts_at), ends_at = ch_timestamp(ends_at), closes_at = ch_timestamp(closes_at), closed_at = ch_timestamp(closed_at), published = ch_timestamp(published), updated = ch_timestamp(updated), deleted_at = ch_timestamp(deleted_at);
UPDATE poll_votes SET created_at = ch_timestamp(created_at);
UPDATE event_participants SET created_at = ch_timestamp(created_at);
UPDATE parents SET created_at = ch_timestamp(created_at);
UPDATE subchapters SET created_at = ch_timestamp(created_at), decided_at = ch_timestamp(decided_at);
UPDATE passed_up SET created_at = ch_timestamp(created_at);

-- The delivery queue and the hosts table kept unix seconds as REAL: rebuilt with text
-- columns (SQLite cannot change a column's type in place).
CREATE TABLE deliveries_new (
    id              INTEGER PRIMARY KEY,
    activity_id     INTEGER NOT NULL REFERENCES activities (id),
    inbox           TEXT NOT NULL,
    host            TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('queued', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    locked_until    TEXT,               -- a worker's lease; expires if the worker dies
    last_status     INTEGER,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (activity_id, inbox)
);
INSERT INTO deliveries_new
    SELECT id, activity_id, inbox, host, state, attempts, ch_timestamp(next_attempt_at),
           ch_timestamp(locked_until), last_status, last_error, ch_timestamp(created_at),
           ch_timestamp(updated_at)
    FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'queued';
CREATE INDEX deliveries_host ON deliveries (host, state);

CREATE TABLE hosts_new (
    host               TEXT PRIMARY KEY,
    signature_scheme   TEXT,
    failures           INTEGER NOT NULL DEFAULT 0,   -- consecutive failed attempts
    unavailable_since  TEXT,
    next_probe_at      TEXT,
    last_success_at    TEXT,
    last_failure_at    TEXT
);
INSERT INTO hosts_new
    SELECT host, signature_scheme, failures, ch_timestamp(unavailable_since),
           ch_timestamp(next_probe_at), ch_timestamp(last_success_at),
           ch_timestamp(last_failure_at)
    FROM hosts;
DROP TABLE hosts;
ALTER TABLE hosts_new RENAME TO hosts;

-- "Minutes from our chapters" asked each remote object's JSON for a meetingDate; the
-- column says it without JSON functions, the same way on both engines.
ALTER TABLE remote_objects ADD COLUMN meeting_date TEXT;
UPDATE remote_objects SET meeting_date = json_extract(document, '$.meetingDate')
    WHERE type = 'Article' AND json_valid(document)
    AND json_type(document, '$.meetingDate') = 'text';
DROP INDEX remote_objects_minutes;
CREATE INDEX remote_objects_minutes ON remote_objects (published)
    WHERE deleted_at IS NULL AND meeting_date IS NOT NULL;
