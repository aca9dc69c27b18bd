-- Schema version 17: search (FTS5) over everything the node shows, and the indexes the
-- archives page by. PostgreSQL's version 12 is the same with a tsvector.
--
-- One row per searchable thing; its rowid says which: items.id * 4 (news, blogs, minutes,
-- events, polls), objects.id * 4 + 1 (a local note, not a reply), remote_objects.id * 4 + 2
-- (an Article, Event, Question or Note, not a reply, in the audience of one of our
-- chapters: what subchapters relay). Triggers keep it in step with those tables, so no
-- code path that writes them can forget it; a deleted item or object leaves it. The text
-- goes through ch_search_text (storage/search_text.py; its second argument says whether
-- the text is plain (0), HTML (1) or Markdown (2)): plain words, without the markers
-- of a snippet. The stemmer lets "meetings" find "meeting".
CREATE VIRTUAL TABLE search_entries USING fts5(
    title, body, kind UNINDEXED,
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER search_items_insert AFTER INSERT ON items WHEN NEW.deleted_at IS NULL
BEGIN
    INSERT INTO search_entries (rowid, title, body, kind) VALUES (NEW.id * 4,
        ch_search_text(NEW.title, 0),
        ch_search_text(NEW.summary || ' ' || NEW.body || ' ' || COALESCE(NEW.place_name, '')
                       || ' ' || COALESCE(NEW.address, ''), 2),
        NEW.kind);
END;
CREATE TRIGGER search_items_update
    AFTER UPDATE OF kind, title, summary, body, place_name, address, deleted_at ON items
BEGIN
    DELETE FROM search_entries WHERE rowid = OLD.id * 4;
    INSERT INTO search_entries (rowid, title, body, kind) SELECT NEW.id * 4,
        ch_search_text(NEW.title, 0),
        ch_search_text(NEW.summary || ' ' || NEW.body || ' ' || COALESCE(NEW.place_name, '')
                       || ' ' || COALESCE(NEW.address, ''), 2),
        NEW.kind
        WHERE NEW.deleted_at IS NULL;
END;
CREATE TRIGGER search_items_delete AFTER DELETE ON items
BEGIN
    DELETE FROM search_entries WHERE rowid = OLD.id * 4;
END;

CREATE TRIGGER search_notes_insert AFTER INSERT ON objects
    WHEN NEW.type = 'Note' AND NEW.deleted_at IS NULL
    AND json_extract(NEW.document, '$.inReplyTo') IS NULL
BEGIN
    INSERT INTO search_entries (rowid, title, body, kind) VALUES (NEW.id * 4 + 1, '',
        ch_search_text(COALESCE(json_extract(NEW.document, '$.summary'), '') || ' '
                       || COALESCE(json_extract(NEW.document, '$.content'), ''), 1),
        'note');
END;
CREATE TRIGGER search_notes_update AFTER UPDATE OF type, document, deleted_at ON objects
    WHEN NEW.type = 'Note' OR OLD.type = 'Note'
BEGIN
    DELETE FROM search_entries WHERE rowid = OLD.id * 4 + 1;
    INSERT INTO search_entries (rowid, title, body, kind) SELECT NEW.id * 4 + 1, '',
        ch_search_text(COALESCE(json_extract(NEW.document, '$.summary'), '') || ' '
                       || COALESCE(json_extract(NEW.document, '$.content'), ''), 1),
        'note'
        WHERE NEW.type = 'Note' AND NEW.deleted_at IS NULL
        AND json_extract(NEW.document, '$.inReplyTo') IS NULL;
END;
CREATE TRIGGER search_notes_delete AFTER DELETE ON objects WHEN OLD.type = 'Note'
BEGIN
    DELETE FROM search_entries WHERE rowid = OLD.id * 4 + 1;
END;

-- A remote object is (re)indexed whenever it or its audience changes: it becomes
-- searchable when it reaches one of our chapters, which is after its row is written.
CREATE VIEW search_remote_source AS
    SELECT o.id * 4 + 2 AS entry,
        ch_search_text(COALESCE(json_extract(o.document, '$.name'), ''), 0) AS title,
        -- The text, or the summary when there is none: a summary is mostly the text's
        -- start (ours always carry one), and both would show it twice in a snippet.
        ch_search_text(COALESCE(NULLIF(o.content, ''), o.summary, ''), 1) AS body,
        CASE o.type WHEN 'Article' THEN
            CASE WHEN o.meeting_date IS NOT NULL THEN 'minutes' ELSE 'article' END
            WHEN 'Event' THEN 'event' WHEN 'Question' THEN 'poll' ELSE 'note' END AS kind,
        o.id AS object_id
    FROM remote_objects o
    WHERE o.deleted_at IS NULL AND o.in_reply_to IS NULL
    AND o.type IN ('Article', 'Event', 'Question', 'Note')
    AND EXISTS (SELECT 1 FROM remote_object_audience a JOIN actors c ON c.id = a.actor_id
                WHERE a.object_id = o.id AND c.kind = 'chapter')
    -- Public only: the results are anyone's (web/remote_views.py is_public, for ids given
    -- as text).
    AND EXISTS (SELECT 1 FROM json_each(o.document, '$.to') t WHERE t.value IN
                    ('https://www.w3.org/ns/activitystreams#Public', 'as:Public', 'Public')
                UNION ALL SELECT 1 FROM json_each(o.document, '$.cc') t WHERE t.value IN
                    ('https://www.w3.org/ns/activitystreams#Public', 'as:Public', 'Public')
                UNION ALL SELECT 1 FROM json_each(o.document, '$.audience') t WHERE t.value IN
                    ('https://www.w3.org/ns/activitystreams#Public', 'as:Public', 'Public'));

CREATE TRIGGER search_remote_reached AFTER INSERT ON remote_object_audience
BEGIN
    DELETE FROM search_entries WHERE rowid = NEW.object_id * 4 + 2;
    INSERT INTO search_entries (rowid, title, body, kind)
        SELECT entry, title, body, kind FROM search_remote_source
        WHERE object_id = NEW.object_id;
END;
CREATE TRIGGER search_remote_left AFTER DELETE ON remote_object_audience
BEGIN
    DELETE FROM search_entries WHERE rowid = OLD.object_id * 4 + 2;
    INSERT INTO search_entries (rowid, title, body, kind)
        SELECT entry, title, body, kind FROM search_remote_source
        WHERE object_id = OLD.object_id;
END;
CREATE TRIGGER search_remote_update
    AFTER UPDATE OF type, content, summary, document, meeting_date, in_reply_to, deleted_at
    ON remote_objects
BEGIN
    DELETE FROM search_entries WHERE rowid = OLD.id * 4 + 2;
    INSERT INTO search_entries (rowid, title, body, kind)
        SELECT entry, title, body, kind FROM search_remote_source WHERE object_id = NEW.id;
END;
CREATE TRIGGER search_remote_delete AFTER DELETE ON remote_objects
BEGIN
    DELETE FROM search_entries WHERE rowid = OLD.id * 4 + 2;
END;

-- What the node held before this version.
INSERT INTO search_entries (rowid, title, body, kind)
    SELECT id * 4, ch_search_text(title, 0),
        ch_search_text(summary || ' ' || body || ' ' || COALESCE(place_name, '') || ' '
                       || COALESCE(address, ''), 2),
        kind
    FROM items WHERE deleted_at IS NULL;
INSERT INTO search_entries (rowid, title, body, kind)
    SELECT id * 4 + 1, '',
        ch_search_text(COALESCE(json_extract(document, '$.summary'), '') || ' '
                       || COALESCE(json_extract(document, '$.content'), ''), 1),
        'note'
    FROM objects WHERE type = 'Note' AND deleted_at IS NULL
    AND json_extract(document, '$.inReplyTo') IS NULL;
INSERT INTO search_entries (rowid, title, body, kind)
    SELECT entry, title, body, kind FROM search_remote_source;

-- The archives: each section newest first by (published, id), from the index and a page
-- at a time (storage/archives.py). Partial: deleted items are never listed.
CREATE INDEX items_archive ON items (kind, published, object_iri) WHERE deleted_at IS NULL;
CREATE INDEX items_actor_archive ON items (actor_id, kind, published, object_iri)
    WHERE deleted_at IS NULL;
-- Past events, latest start first.
CREATE INDEX items_past_events ON items (kind, starts_at, object_iri)
    WHERE deleted_at IS NULL;
CREATE INDEX items_actor_past_events ON items (actor_id, kind, starts_at, object_iri)
    WHERE deleted_at IS NULL;
-- Minutes relayed from subchapters, in the same order as the node's own.
CREATE INDEX remote_objects_minutes_archive ON remote_objects (published, iri)
    WHERE deleted_at IS NULL AND type = 'Article' AND meeting_date IS NOT NULL;
