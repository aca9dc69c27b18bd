-- Schema version 20: projects. A project is one more kind of item (published by its
-- chapter, so archives, search, edits, deletion and delivery are the items'), with a
-- status and the member who started it; who takes part is kept in event_participants,
-- as for events (its name is older than projects).
ALTER TABLE items ADD COLUMN project_status TEXT
    CHECK (project_status IS NULL OR project_status IN ('proposed', 'active', 'finished'));
-- The handle of the member who started the project (a local member: only they start one).
ALTER TABLE items ADD COLUMN started_by TEXT;

-- SQLite cannot alter a CHECK constraint, and rebuilding `items` would cascade-delete
-- every vote and participation (foreign keys are on). The table's stored definition is
-- rewritten instead, as SQLite's documentation describes for loosening a constraint
-- (https://sqlite.org/lang_altertable.html, "writable_schema"): only the list of kinds
-- grows, which no stored row can violate. It comes after the ALTERs, which edit the
-- stored text at offsets they read from the definition as it was loaded; RESET reloads
-- the definition on this connection, and the ALTERs' new schema version makes every
-- other connection reload it.
PRAGMA writable_schema = ON;
UPDATE sqlite_master
   SET sql = replace(sql, '''event'', ''poll'')', '''event'', ''poll'', ''project'')')
 WHERE type = 'table' AND name = 'items';
PRAGMA writable_schema = RESET;
PRAGMA writable_schema = OFF;
