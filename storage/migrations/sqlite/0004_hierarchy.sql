-- Schema version 4: the chapter hierarchy across nodes. A chapter's parent may live on
-- another node, so links are kept by actor id (IRI) on each side, not as a local column.

DROP INDEX chapters_parent;
ALTER TABLE chapters DROP COLUMN parent_id;

-- The child's side: the one parent a local chapter asked to join (requested) or belongs to.
CREATE TABLE parents (
    chapter_id INTEGER PRIMARY KEY REFERENCES chapters (actor_id) ON DELETE CASCADE,
    parent_iri TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('requested', 'accepted')),
    join_iri   TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- The parent's side: chapters that asked to join a local chapter, and the answer.
CREATE TABLE subchapters (
    id         INTEGER PRIMARY KEY,
    chapter_id INTEGER NOT NULL REFERENCES chapters (actor_id) ON DELETE CASCADE,
    child_iri  TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('requested', 'accepted', 'rejected')),
    join_iri   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    decided_at TEXT,
    UNIQUE (chapter_id, child_iri)
);
CREATE INDEX subchapters_child ON subchapters (child_iri, state);

-- Where a remote object reached us from: the chapter that sent or announced it to us.
ALTER TABLE remote_objects ADD COLUMN via TEXT;
