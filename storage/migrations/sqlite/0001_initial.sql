-- Chapterhouse schema, version 1: local actors, their keys, chapters and memberships, and
-- the tables behind the outbox, followers and following collections.

CREATE TABLE schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
);

-- Every local actor: the node's own Application actor, chapters (Group), members (Person).
-- Chapter slugs and usernames share one namespace, hence one UNIQUE column.
CREATE TABLE actors (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('node', 'chapter', 'member')),
    handle       TEXT UNIQUE COLLATE NOCASE,
    name         TEXT NOT NULL,
    summary      TEXT NOT NULL DEFAULT '',
    icon_url     TEXT,
    discoverable INTEGER NOT NULL DEFAULT 1 CHECK (discoverable IN (0, 1)),
    created_at   TEXT NOT NULL,
    CHECK ((kind = 'node') = (handle IS NULL))
);
CREATE UNIQUE INDEX actors_one_node ON actors (kind) WHERE kind = 'node';

-- Key pairs. Private keys are read only by the code that signs; documents use the public half.
CREATE TABLE actor_keys (
    actor_id    INTEGER NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    algorithm   TEXT NOT NULL CHECK (algorithm IN ('rsa-2048', 'ed25519')),
    public_key  TEXT NOT NULL,   -- SPKI PEM for RSA, Multikey multibase for Ed25519
    private_key TEXT NOT NULL,   -- PKCS#8 PEM
    created_at  TEXT NOT NULL,
    PRIMARY KEY (actor_id, algorithm)
);

CREATE TABLE chapters (
    actor_id   INTEGER PRIMARY KEY REFERENCES actors (id) ON DELETE CASCADE,
    level      TEXT NOT NULL CHECK (level IN ('local', 'regional', 'national', 'international')),
    location   TEXT,
    -- a parent on this node; affiliation with a parent on another node comes with federation
    parent_id  INTEGER REFERENCES chapters (actor_id),
    founded_at TEXT NOT NULL
);
CREATE INDEX chapters_parent ON chapters (parent_id);

CREATE TABLE memberships (
    member_id  INTEGER NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    chapter_id INTEGER NOT NULL REFERENCES chapters (actor_id) ON DELETE CASCADE,
    joined_at  TEXT NOT NULL,
    PRIMARY KEY (member_id, chapter_id)
);
CREATE INDEX memberships_chapter ON memberships (chapter_id, joined_at);

-- Activities published by local actors, newest last; the outbox collection reads these.
CREATE TABLE activities (
    id        INTEGER PRIMARY KEY,
    iri       TEXT NOT NULL UNIQUE,
    actor_id  INTEGER NOT NULL REFERENCES actors (id),
    type      TEXT NOT NULL,
    public    INTEGER NOT NULL CHECK (public IN (0, 1)),
    document  TEXT NOT NULL,     -- the activity as sent, JSON
    published TEXT NOT NULL
);
CREATE INDEX activities_outbox ON activities (actor_id, id) WHERE public = 1;

-- Who follows a local actor (accepted follows are the followers collection) ...
CREATE TABLE followers (
    id           INTEGER PRIMARY KEY,
    actor_id     INTEGER NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    follower_iri TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('requested', 'accepted')),
    created_at   TEXT NOT NULL,
    UNIQUE (actor_id, follower_iri)
);

-- ... and whom a local actor follows.
CREATE TABLE following (
    id          INTEGER PRIMARY KEY,
    actor_id    INTEGER NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    target_iri  TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('requested', 'accepted')),
    created_at  TEXT NOT NULL,
    UNIQUE (actor_id, target_iri)
);
