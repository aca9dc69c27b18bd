-- Schema version 16: personal access tokens, so that a member's script can publish
-- (ActivityPub client-to-server). Like sessions, only a sha256 of the random token is
-- kept; a token acts with its account's rights and ends when revoked (or with the account).

CREATE TABLE access_tokens (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (member_id) ON DELETE CASCADE,
    name         TEXT NOT NULL,          -- what the member called it ("minutes script")
    token_hash   TEXT NOT NULL UNIQUE,   -- sha256 of the random token, shown once
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE INDEX access_tokens_account ON access_tokens (account_id, created_at);
