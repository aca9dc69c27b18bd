-- Schema version 12: search over everything the node shows, and the indexes the archives
-- page by (SQLite's version 17, which uses FTS5 where this uses a tsvector).
--
-- One row per searchable thing; its id says which: items.id * 4 (news, blogs, minutes,
-- events, polls), objects.id * 4 + 1 (a local note, not a reply), remote_objects.id * 4 + 2
-- (an Article, Event, Question or Note, not a reply, in the audience of one of our
-- chapters: what subchapters relay). Triggers keep it in step with those tables, so no
-- code path that writes them can forget it; a deleted item or object leaves it. The text
-- is plain words without the markers of a snippet (U+E000, U+E001), as
-- storage/search_text.py makes it on SQLite.

-- `form` says what the text is: plain (0), HTML (1), or Markdown (2), whose marks are
-- left out as storage/search_text.py leaves them out.
CREATE FUNCTION ch_search_text(source text, form integer) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$
    SELECT btrim(regexp_replace(translate(
        CASE WHEN form = 1 THEN
            replace(replace(replace(replace(replace(replace(
                regexp_replace(COALESCE(source, ''), '<[^>]*>', ' ', 'g'),
                '&lt;', '<'), '&gt;', '>'), '&quot;', '"'), '&#39;', ''''), '&nbsp;', ' '),
                '&amp;', '&')
        WHEN form = 2 THEN
            regexp_replace(regexp_replace(regexp_replace(COALESCE(source, ''),
                '^[ \t]{0,3}(#{1,6}|>|[-*+]|[0-9]+[.)])[ \t]+', '', 'gn'),
                '!?\[([^]\n]*)\]\([^)\n]*\)', '\1', 'g'),
                '\*\*|__|[*`]', '', 'g')
        ELSE COALESCE(source, '') END,
        chr(57344) || chr(57345), ''), '\s+', ' ', 'g'))
$$;

CREATE FUNCTION ch_public_names() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['https://www.w3.org/ns/activitystreams#Public', 'as:Public', 'Public']
$$;

CREATE TABLE search_entries (
    id    bigint PRIMARY KEY,
    kind  text NOT NULL,
    title text NOT NULL,
    body  text NOT NULL,
    terms tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A')
        || setweight(to_tsvector('english', body), 'B')) STORED
);
CREATE INDEX search_entries_terms ON search_entries USING GIN (terms);

CREATE FUNCTION search_item() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM search_entries WHERE id = OLD.id * 4;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.deleted_at IS NULL THEN
        INSERT INTO search_entries (id, kind, title, body) VALUES (NEW.id * 4, NEW.kind,
            ch_search_text(NEW.title, 0),
            ch_search_text(concat_ws(' ', NEW.summary, NEW.body, NEW.place_name, NEW.address),
                           2));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER search_items AFTER INSERT OR DELETE
    OR UPDATE OF kind, title, summary, body, place_name, address, deleted_at
    ON items FOR EACH ROW EXECUTE FUNCTION search_item();

CREATE FUNCTION search_note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM search_entries WHERE id = OLD.id * 4 + 1;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.type = 'Note' AND NEW.deleted_at IS NULL
       AND NEW.document::jsonb ->> 'inReplyTo' IS NULL THEN
        INSERT INTO search_entries (id, kind, title, body) VALUES (NEW.id * 4 + 1, 'note', '',
            ch_search_text(concat_ws(' ', NEW.document::jsonb ->> 'summary',
                                     NEW.document::jsonb ->> 'content'), 1));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER search_notes_insert AFTER INSERT ON objects
    FOR EACH ROW WHEN (NEW.type = 'Note') EXECUTE FUNCTION search_note();
CREATE TRIGGER search_notes_change AFTER DELETE OR UPDATE OF type, document, deleted_at
    ON objects FOR EACH ROW EXECUTE FUNCTION search_note();

-- A remote object is (re)indexed whenever it or its audience changes: it becomes
-- searchable when it reaches one of our chapters, which is after its row is written.
CREATE FUNCTION search_remote_refresh(object bigint) RETURNS void LANGUAGE sql AS $$
    DELETE FROM search_entries WHERE id = object * 4 + 2;
    INSERT INTO search_entries (id, kind, title, body)
        SELECT o.id * 4 + 2,
            CASE o.type WHEN 'Article' THEN
                CASE WHEN o.meeting_date IS NOT NULL THEN 'minutes' ELSE 'article' END
                WHEN 'Event' THEN 'event' WHEN 'Question' THEN 'poll' ELSE 'note' END,
            ch_search_text(COALESCE(o.document::jsonb ->> 'name', ''), 0),
            -- The text, or the summary when there is none (SQLite's version 17 says why).
            ch_search_text(COALESCE(NULLIF(o.content, ''), o.summary, ''), 1)
        FROM remote_objects o
        WHERE o.id = object AND o.deleted_at IS NULL AND o.in_reply_to IS NULL
        AND o.type IN ('Article', 'Event', 'Question', 'Note')
        AND EXISTS (SELECT 1 FROM remote_object_audience a JOIN actors c ON c.id = a.actor_id
                    WHERE a.object_id = o.id AND c.kind = 'chapter')
        -- Public only: the results are anyone's (web/remote_views.py is_public, for ids
        -- given as text; a string matches itself as well as an array's element).
        AND (COALESCE(o.document::jsonb -> 'to' ?| ch_public_names(), false)
             OR COALESCE(o.document::jsonb -> 'cc' ?| ch_public_names(), false)
             OR COALESCE(o.document::jsonb -> 'audience' ?| ch_public_names(), false));
$$;
CREATE FUNCTION search_remote_audience() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM search_remote_refresh(CASE WHEN TG_OP = 'DELETE' THEN OLD.object_id
                                  ELSE NEW.object_id END);
    RETURN NULL;
END $$;
CREATE TRIGGER search_remote_audience AFTER INSERT OR DELETE ON remote_object_audience
    FOR EACH ROW EXECUTE FUNCTION search_remote_audience();
CREATE FUNCTION search_remote_object() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM search_entries WHERE id = OLD.id * 4 + 2;
    ELSE
        PERFORM search_remote_refresh(NEW.id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER search_remote_object AFTER DELETE
    OR UPDATE OF type, content, summary, document, meeting_date, in_reply_to, deleted_at
    ON remote_objects FOR EACH ROW EXECUTE FUNCTION search_remote_object();

-- What the node held before this version.
INSERT INTO search_entries (id, kind, title, body)
    SELECT id * 4, kind, ch_search_text(title, 0),
        ch_search_text(concat_ws(' ', summary, body, place_name, address), 2)
    FROM items WHERE deleted_at IS NULL;
INSERT INTO search_entries (id, kind, title, body)
    SELECT id * 4 + 1, 'note', '',
        ch_search_text(concat_ws(' ', document::jsonb ->> 'summary',
                                 document::jsonb ->> 'content'), 1)
    FROM objects WHERE type = 'Note' AND deleted_at IS NULL
    AND document::jsonb ->> 'inReplyTo' IS NULL;
SELECT search_remote_refresh(id) FROM remote_objects WHERE deleted_at IS NULL;

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
