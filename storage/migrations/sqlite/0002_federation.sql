-- Schema version 2: remote actors and keys, the inbox, local objects, deliveries, hosts.

CREATE TABLE remote_actors (
    id           INTEGER PRIMARY KEY,
    iri          TEXT NOT NULL UNIQUE,
    type         TEXT NOT NULL,
    host         TEXT NOT NULL,          -- netloc of iri
    inbox        TEXT NOT NULL,
    shared_inbox TEXT,
    username     TEXT,
    name         TEXT,
    document     TEXT NOT NULL,          -- as fetched, JSON
    fetched_at   TEXT NOT NULL
);

CREATE TABLE remote_keys (
    key_id     TEXT PRIMARY KEY,
    actor_id   INTEGER NOT NULL REFERENCES remote_actors (id) ON DELETE CASCADE,
    algorithm  TEXT NOT NULL CHECK (algorithm IN ('rsa', 'ed25519')),
    public_pem TEXT NOT NULL
);
CREATE INDEX remote_keys_actor ON remote_keys (actor_id);

-- The id of the Follow activity, so that an Accept or Undo can name it.
ALTER TABLE followers ADD COLUMN follow_iri TEXT;
ALTER TABLE following ADD COLUMN follow_iri TEXT;
CREATE INDEX followers_follower ON followers (follower_iri);
CREATE INDEX following_target ON following (target_iri);

-- Every activity accepted by an inbox, once: the id is the dedupe key.
CREATE TABLE inbox_activities (
    id          INTEGER PRIMARY KEY,
    iri         TEXT NOT NULL UNIQUE,
    type        TEXT NOT NULL,
    actor_iri   TEXT NOT NULL,
    document    TEXT NOT NULL,
    received_at TEXT NOT NULL
);

-- Objects from elsewhere that were addressed to a local actor; content is sanitised HTML.
CREATE TABLE remote_objects (
    id            INTEGER PRIMARY KEY,
    iri           TEXT NOT NULL UNIQUE,
    type          TEXT NOT NULL,
    attributed_to TEXT NOT NULL,
    content       TEXT NOT NULL DEFAULT '',
    summary       TEXT,
    in_reply_to   TEXT,
    published     TEXT,
    updated       TEXT,
    document      TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    deleted_at    TEXT
);
CREATE INDEX remote_objects_author ON remote_objects (attributed_to);

CREATE TABLE remote_object_audience (
    object_id INTEGER NOT NULL REFERENCES remote_objects (id) ON DELETE CASCADE,
    actor_id  INTEGER NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    PRIMARY KEY (object_id, actor_id)
);

-- Objects published by local actors. A deleted object keeps its row (ids are never reused)
-- and answers 410 Gone.
CREATE TABLE objects (
    id         INTEGER PRIMARY KEY,
    iri        TEXT NOT NULL UNIQUE,
    actor_id   INTEGER NOT NULL REFERENCES actors (id),
    type       TEXT NOT NULL,
    document   TEXT NOT NULL,
    published  TEXT NOT NULL,
    deleted_at TEXT
);

-- Likes and Announces of local objects by anyone.
CREATE TABLE reactions (
    id           INTEGER PRIMARY KEY,
    object_id    INTEGER NOT NULL REFERENCES objects (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('like', 'announce')),
    actor_iri    TEXT NOT NULL,
    activity_iri TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    UNIQUE (object_id, kind, actor_iri)
);

-- Remote actors that blocked a local actor: nothing more is delivered to them from it.
CREATE TABLE blocks (
    actor_id   INTEGER NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    blocker    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (actor_id, blocker)
);

-- "Send activity A to the followers of X": expanded by the delivery worker into one
-- delivery per shared inbox, so publishing costs one row however many followers there are.
CREATE TABLE fanouts (
    id          INTEGER PRIMARY KEY,
    activity_id INTEGER NOT NULL REFERENCES activities (id),
    actor_id    INTEGER NOT NULL REFERENCES actors (id),
    created_at  TEXT NOT NULL
);

-- One POST of one activity to one inbox. A delivery is a row before it is a request.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    activity_id     INTEGER NOT NULL REFERENCES activities (id),
    inbox           TEXT NOT NULL,
    host            TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('queued', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,      -- unix time
    locked_until    REAL,               -- a worker's lease; expires if the worker dies
    last_status     INTEGER,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    UNIQUE (activity_id, inbox)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'queued';
CREATE INDEX deliveries_host ON deliveries (host, state);

-- What we know of each remote host: the signature scheme it accepted, and its health.
CREATE TABLE hosts (
    host               TEXT PRIMARY KEY,
    signature_scheme   TEXT,
    failures           INTEGER NOT NULL DEFAULT 0,   -- consecutive failed attempts
    unavailable_since  REAL,
    next_probe_at      REAL,
    last_success_at    REAL,
    last_failure_at    REAL
);

-- A chapter (or member) that approves each follower by hand (`manuallyApprovesFollowers`).
ALTER TABLE actors ADD COLUMN manually_approves INTEGER NOT NULL DEFAULT 0
    CHECK (manually_approves IN (0, 1));
