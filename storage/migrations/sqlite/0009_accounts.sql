-- Schema version 9: people log in. An account belongs to one local member; sessions and
-- one-time links keep only a hash of their token, so a copy of the database opens nothing.

CREATE TABLE accounts (
    member_id            INTEGER PRIMARY KEY REFERENCES actors (id) ON DELETE CASCADE,
    password_hash        TEXT,   -- argon2id; NULL until the member sets one from a link
    is_admin             INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    created_at           TEXT NOT NULL,
    -- "Log out everywhere": a session created before this moment is no longer valid.
    sessions_valid_after TEXT NOT NULL
);

CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    token_hash   TEXT NOT NULL UNIQUE,   -- sha256 of the cookie's random token
    account_id   INTEGER NOT NULL REFERENCES accounts (member_id) ON DELETE CASCADE,
    csrf_secret  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);
CREATE INDEX sessions_account ON sessions (account_id);

-- Any number of organisers per chapter; a member may organise several chapters.
CREATE TABLE organisers (
    chapter_id   INTEGER NOT NULL REFERENCES chapters (actor_id) ON DELETE CASCADE,
    member_id    INTEGER NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    appointed_at TEXT NOT NULL,
    PRIMARY KEY (chapter_id, member_id)
);
CREATE INDEX organisers_member ON organisers (member_id);

CREATE TABLE password_links (
    id         INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    account_id INTEGER NOT NULL REFERENCES accounts (member_id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
);
CREATE INDEX password_links_account ON password_links (account_id);

-- Failed logins, by the username tried (known or not, so that throttling says nothing
-- about which exist) and by client address; rows, so every serve process sees them.
CREATE TABLE failed_logins (
    id           INTEGER PRIMARY KEY,
    username     TEXT NOT NULL,
    address      TEXT NOT NULL,
    attempted_at TEXT NOT NULL
);
CREATE INDEX failed_logins_username ON failed_logins (username, attempted_at);
CREATE INDEX failed_logins_address ON failed_logins (address, attempted_at);
