-- Schema version 3: what chapters and members publish (news, blogs, minutes, events,
-- polls), votes on polls, participation in events.

-- The structured source of an item; `objects` keeps the AS2 document rendered from it.
CREATE TABLE items (
    id            INTEGER PRIMARY KEY,
    object_iri    TEXT NOT NULL UNIQUE REFERENCES objects (iri),
    actor_id      INTEGER NOT NULL REFERENCES actors (id),
    kind          TEXT NOT NULL CHECK (kind IN ('news', 'blog', 'minutes', 'event', 'poll')),
    title         TEXT NOT NULL,
    summary       TEXT NOT NULL DEFAULT '',
    body          TEXT NOT NULL DEFAULT '',       -- Markdown as written
    meeting_date  TEXT,                            -- minutes: YYYY-MM-DD
    starts_at     TEXT,                            -- events: ISO 8601 with offset
    ends_at       TEXT,
    timezone      TEXT,                            -- events: IANA zone name
    place_name    TEXT,
    address       TEXT,
    online_url    TEXT,
    capacity      INTEGER CHECK (capacity IS NULL OR capacity > 0),
    options       TEXT,                            -- polls: JSON array of option texts
    multiple      INTEGER NOT NULL DEFAULT 0 CHECK (multiple IN (0, 1)),
    closes_at     TEXT,                            -- polls: ISO 8601 UTC
    closed_at     TEXT,
    published     TEXT NOT NULL,
    updated       TEXT,
    deleted_at    TEXT
);
CREATE INDEX items_actor_kind ON items (actor_id, kind, published);
CREATE INDEX items_kind ON items (kind, published);
CREATE INDEX items_open_polls ON items (closes_at) WHERE kind = 'poll' AND closed_at IS NULL;

-- One row per voter and chosen option; the note id dedupes redeliveries.
CREATE TABLE poll_votes (
    id         INTEGER PRIMARY KEY,
    item_id    INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    voter      TEXT NOT NULL,
    choice     TEXT NOT NULL,
    note_iri   TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    UNIQUE (item_id, voter, choice)
);
CREATE INDEX poll_votes_item ON poll_votes (item_id);

CREATE TABLE event_participants (
    id          INTEGER PRIMARY KEY,
    item_id     INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    participant TEXT NOT NULL,
    join_iri    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (item_id, participant)
);

-- Replies under an item's page and in its replies collection.
CREATE INDEX remote_objects_reply ON remote_objects (in_reply_to) WHERE in_reply_to IS NOT NULL;
