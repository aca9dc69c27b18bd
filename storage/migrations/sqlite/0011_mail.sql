-- Schema version 11: outgoing mail. Mail waits in a queue table, written in the same
-- transaction as what causes it, until the sender hands it to the SMTP server; an
-- account has an email address; a join request can wait for its address to be confirmed.

CREATE TABLE outgoing_mail (
    id              INTEGER PRIMARY KEY,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,   -- plain text
    created_at      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- NULL once sent or given up; while a sender holds a mail, the end of its lease
    next_attempt_at TEXT,
    sent_at         TEXT,
    failed_at       TEXT,            -- given up: refused for good, or out of attempts
    last_error      TEXT
);
CREATE INDEX outgoing_mail_due ON outgoing_mail (next_attempt_at)
    WHERE next_attempt_at IS NOT NULL;

ALTER TABLE accounts ADD COLUMN email TEXT;
CREATE INDEX accounts_email ON accounts (lower(email)) WHERE email IS NOT NULL;

-- While confirm_by is set, the request waits for its email address to be confirmed (by
-- the link mailed, whose token's sha256 is kept) and organisers do not see it yet.
ALTER TABLE join_requests ADD COLUMN confirm_token_hash TEXT;
ALTER TABLE join_requests ADD COLUMN confirm_by TEXT;
ALTER TABLE join_requests ADD COLUMN email_confirmed_at TEXT;
CREATE UNIQUE INDEX join_requests_confirm ON join_requests (confirm_token_hash)
    WHERE confirm_token_hash IS NOT NULL;
