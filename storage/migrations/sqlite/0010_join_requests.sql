-- Schema version 10: visitors ask to join a chapter. A request keeps the password's
-- argon2id hash so that approval opens the account at once; rejection wipes the hash,
-- the email and the message, keeping only who asked, where and when.

ALTER TABLE chapters ADD COLUMN joins_open INTEGER NOT NULL DEFAULT 0
    CHECK (joins_open IN (0, 1));

CREATE TABLE join_requests (
    id            INTEGER PRIMARY KEY,
    chapter_id    INTEGER NOT NULL REFERENCES chapters (actor_id) ON DELETE CASCADE,
    username      TEXT NOT NULL,
    name          TEXT NOT NULL,
    password_hash TEXT,   -- NULL when a member asks with their account, or once decided
    email         TEXT,
    message       TEXT NOT NULL DEFAULT '',
    -- set when a member of another chapter asks: approval adds a membership only
    member_id     INTEGER REFERENCES actors (id) ON DELETE CASCADE,
    state         TEXT NOT NULL DEFAULT 'requested'
                  CHECK (state IN ('requested', 'approved', 'rejected')),
    created_at    TEXT NOT NULL,
    decided_at    TEXT,
    decided_by    INTEGER REFERENCES actors (id) ON DELETE SET NULL
);
CREATE INDEX join_requests_chapter ON join_requests (chapter_id, state, created_at);
-- A username waits in one request at most; a member asks each chapter once at a time.
CREATE UNIQUE INDEX join_requests_username ON join_requests (username)
    WHERE state = 'requested' AND member_id IS NULL;
CREATE UNIQUE INDEX join_requests_member ON join_requests (chapter_id, member_id)
    WHERE state = 'requested';
