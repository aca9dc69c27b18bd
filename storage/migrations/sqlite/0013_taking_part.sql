-- Schema version 13: members take part in polls and events of other nodes from the web.
-- What a member sent is kept here (the remote node counts it): their choices in a remote
-- Question, and their Join of a remote Event with the organiser's answer. Votes and
-- participations in this node's own items go to poll_votes and event_participants.

CREATE TABLE member_votes (
    id            INTEGER PRIMARY KEY,
    member_id     INTEGER NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    question_iri  TEXT NOT NULL,
    choice        TEXT NOT NULL,
    activity_iri  TEXT NOT NULL UNIQUE,  -- the Create{Note} that carried the choice
    created_at    TEXT NOT NULL,
    UNIQUE (member_id, question_iri, choice)
);

CREATE TABLE member_event_joins (
    id          INTEGER PRIMARY KEY,
    member_id   INTEGER NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    event_iri   TEXT NOT NULL,
    organiser   TEXT NOT NULL,  -- the actor the Join went to: only its answer counts
    state       TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'going', 'refused')),
    join_iri    TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    answered_at TEXT,
    UNIQUE (member_id, event_iri)
);
