-- Schema version 3: "Minutes from our chapters" asks for the newest minutes first
-- (`published DESC NULLS LAST, id DESC`). PostgreSQL reads an index in that order only if
-- the index is in it (on SQLite, NULLs sort first, so a plain index read backwards already
-- is): with the index on `published` alone it read every minutes row a chapter ever got,
-- joined each to its authors, and sorted them, to keep ten (8.7 ms at 2,000 minutes).
DROP INDEX remote_objects_minutes;
CREATE INDEX remote_objects_minutes ON remote_objects (published DESC NULLS LAST, id DESC)
    WHERE deleted_at IS NULL AND meeting_date IS NOT NULL;
