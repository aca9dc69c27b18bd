-- Schema version 14: the likes and boosts a member gives from the web, to local and remote
-- objects alike, so their buttons say "Unlike"/"Unboost" and an Undo can name the activity
-- it takes back. Likes and boosts of local objects are in `reactions` too (the counts).

CREATE TABLE member_reactions (
    id           INTEGER PRIMARY KEY,
    actor_id     INTEGER NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    object_iri   TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('like', 'announce')),
    activity_iri TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    UNIQUE (actor_id, object_iri, kind)
);
CREATE INDEX member_reactions_recent ON member_reactions (actor_id, id);
