-- Schema version 22: decisions with a proportional say, counted up the hierarchy.
-- `decisions` holds each decision this node takes part in: opened by one of its chapters,
-- or reached one of them from above. `decision_chapters` is each local chapter's part in
-- one: where its tallies go (its parent at the opening; NULL for the deciding chapter),
-- whether it was in the scope at the opening, the subchapters that were, and when its next
-- tally is due (debounced). `ballots` never leave this node: one per member and decision.
-- `tallies` is the newest signed tally of each chapter at or below a local chapter, as
-- that chapter holds it (its own included), and whether it was passed up yet.
-- `decision_invites` is a parent's word that one of our chapters was below it when a
-- decision opened: only then has the chapter a say (it may come before the decision does).

CREATE TABLE decisions (
    id           INTEGER PRIMARY KEY,
    iri          TEXT NOT NULL UNIQUE,
    deciding_iri TEXT NOT NULL,
    deciding_id  INTEGER REFERENCES actors (id) ON DELETE CASCADE,
    question     TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    options      TEXT NOT NULL,
    multiple     INTEGER NOT NULL CHECK (multiple IN (0, 1)),
    count_method TEXT NOT NULL CHECK (count_method IN ('ballots', 'members')),
    language     TEXT,
    opened_at    TEXT NOT NULL,
    closes_at    TEXT NOT NULL,
    closed_at    TEXT,
    created_at   TEXT NOT NULL
);
CREATE INDEX decisions_open ON decisions (closes_at) WHERE closed_at IS NULL;

CREATE TABLE decision_chapters (
    decision_id   INTEGER NOT NULL REFERENCES decisions (id) ON DELETE CASCADE,
    chapter_id    INTEGER NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    parent_iri    TEXT,
    in_scope      INTEGER NOT NULL CHECK (in_scope IN (0, 1)),
    subchapters   TEXT NOT NULL DEFAULT '[]',
    due_at        TEXT,
    final_sent_at TEXT,
    PRIMARY KEY (decision_id, chapter_id)
);
CREATE INDEX decision_chapters_by_chapter ON decision_chapters (chapter_id);
CREATE INDEX decision_chapters_due ON decision_chapters (due_at) WHERE due_at IS NOT NULL;

CREATE TABLE ballots (
    decision_id INTEGER NOT NULL REFERENCES decisions (id) ON DELETE CASCADE,
    member_id   INTEGER NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    chapter_id  INTEGER NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    choices     TEXT NOT NULL,
    cast_at     TEXT NOT NULL,
    entered_by  INTEGER REFERENCES actors (id) ON DELETE SET NULL,
    PRIMARY KEY (decision_id, member_id)
);
CREATE INDEX ballots_by_chapter ON ballots (decision_id, chapter_id);

CREATE TABLE tallies (
    decision_id INTEGER NOT NULL REFERENCES decisions (id) ON DELETE CASCADE,
    holder_id   INTEGER NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    chapter_iri TEXT NOT NULL,
    document    TEXT NOT NULL,
    published   TEXT NOT NULL,
    final       INTEGER NOT NULL CHECK (final IN (0, 1)),
    late        INTEGER NOT NULL CHECK (late IN (0, 1)),
    received_at TEXT NOT NULL,
    forwarded   INTEGER NOT NULL DEFAULT 0 CHECK (forwarded IN (0, 1)),
    PRIMARY KEY (decision_id, holder_id, chapter_iri)
);

CREATE TABLE decision_invites (
    decision_iri TEXT NOT NULL,
    chapter_id   INTEGER NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    parent_iri   TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    PRIMARY KEY (decision_iri, chapter_id)
);
