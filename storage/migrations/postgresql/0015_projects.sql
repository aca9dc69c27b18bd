-- Schema version 15: projects (SQLite's version 20). A project is one more kind of item
-- (published by its chapter), with a status and the member who started it; who takes
-- part is kept in event_participants, as for events.
ALTER TABLE items DROP CONSTRAINT items_kind_check;
ALTER TABLE items ADD CONSTRAINT items_kind_check
    CHECK (kind IN ('news', 'blog', 'minutes', 'event', 'poll', 'project'));
ALTER TABLE items ADD COLUMN project_status text
    CHECK (project_status IS NULL OR project_status IN ('proposed', 'active', 'finished'));
-- The handle of the member who started the project (a local member: only they start one).
ALTER TABLE items ADD COLUMN started_by text;
