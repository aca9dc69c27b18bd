-- Schema version 5: what climbed from one chapter of this node to another. Between nodes
-- the parent keeps what reached it in remote_objects, `via` naming the chapter that sent
-- it; between chapters of one node nothing is received, so this row says that an object
-- (an item of ours, or a remote one passed on) reached the chapter, and through which of
-- our chapters. The page reads an item of ours from the item itself, so its edits and its
-- deletion show at once.
CREATE TABLE passed_up (
    chapter_id INTEGER NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    object_iri TEXT NOT NULL,
    via_id     INTEGER NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (chapter_id, object_iri)
);
