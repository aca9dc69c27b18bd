-- Schema version 6: indexes that match what pages, collections and NodeInfo ask, so that
-- their cost stays flat as the node grows (see bench/scale.py). Each names its query.

-- Collections are paged by a cursor (keyset) in this order; counts read the index only.
CREATE INDEX followers_collection ON followers (actor_id, state, id);
CREATE INDEX following_collection ON following (actor_id, state, id);
CREATE INDEX subchapters_collection ON subchapters (chapter_id, state, decided_at, id);

-- NodeInfo's counts and the home page's newest members and chapters.
CREATE INDEX actors_kind ON actors (kind, created_at);
CREATE INDEX chapters_founded ON chapters (founded_at);
CREATE INDEX objects_live ON objects (deleted_at);

-- A member's notes on its page (objects had no index by author).
CREATE INDEX objects_actor ON objects (actor_id, type, published);

-- A feed lists all kinds of one actor newest first: without this, every item of the actor
-- is read and sorted.
CREATE INDEX items_actor_published ON items (actor_id, published);

-- What reached a chapter (its audience): by chapter, not by object.
CREATE INDEX remote_object_audience_actor ON remote_object_audience (actor_id, object_id);

-- Replies under an item, paged in the order they arrived.
CREATE INDEX remote_objects_replies ON remote_objects (in_reply_to, id)
    WHERE in_reply_to IS NOT NULL AND deleted_at IS NULL;

-- "Minutes from our chapters": minutes newest first, checked against the audience, stops
-- after a page instead of reading every object the chapter ever received.
CREATE INDEX remote_objects_minutes ON remote_objects (published)
    WHERE deleted_at IS NULL AND type = 'Article'
    AND json_extract(document, '$.meetingDate') IS NOT NULL;

-- "Newest chapters": remote chapters that passed something on, by author.
CREATE INDEX remote_objects_passed_on ON remote_objects (attributed_to) WHERE via IS NOT NULL;
CREATE INDEX remote_actors_type ON remote_actors (type);

-- A chapter's newest members, and the members list paged by (joined_at, member_id).
CREATE INDEX memberships_newest ON memberships (chapter_id, joined_at, member_id);

-- Sizes of the collections every actor page and collection document shows, kept by
-- triggers as rows come and go: counting 10,000 followers on every request of the
-- collection cost more than serving it. `name` is the collection ('followers',
-- 'following', 'outbox', 'members'); no foreign key, as rows outlive nothing that reads
-- them and a cascade from actors would delete in an undefined order.
CREATE TABLE collection_sizes (
    actor_id INTEGER NOT NULL,
    name     TEXT NOT NULL,
    total    INTEGER NOT NULL,
    PRIMARY KEY (actor_id, name)
) WITHOUT ROWID;

INSERT INTO collection_sizes (actor_id, name, total)
    SELECT actor_id, 'followers', count(*) FROM followers WHERE state = 'accepted'
    GROUP BY actor_id;
INSERT INTO collection_sizes (actor_id, name, total)
    SELECT actor_id, 'following', count(*) FROM following WHERE state = 'accepted'
    GROUP BY actor_id;
INSERT INTO collection_sizes (actor_id, name, total)
    SELECT actor_id, 'outbox', count(*) FROM activities WHERE public = 1 GROUP BY actor_id;
INSERT INTO collection_sizes (actor_id, name, total)
    SELECT chapter_id, 'members', count(*) FROM memberships GROUP BY chapter_id;

CREATE TRIGGER followers_size_insert AFTER INSERT ON followers WHEN NEW.state = 'accepted'
BEGIN
    INSERT INTO collection_sizes (actor_id, name, total) VALUES (NEW.actor_id, 'followers', 1)
        ON CONFLICT (actor_id, name) DO UPDATE SET total = total + 1;
END;
CREATE TRIGGER followers_size_delete AFTER DELETE ON followers WHEN OLD.state = 'accepted'
BEGIN
    UPDATE collection_sizes SET total = total - 1
        WHERE actor_id = OLD.actor_id AND name = 'followers';
END;
CREATE TRIGGER followers_size_update AFTER UPDATE OF state, actor_id ON followers
    WHEN (OLD.state = 'accepted') != (NEW.state = 'accepted') OR OLD.actor_id != NEW.actor_id
BEGIN
    UPDATE collection_sizes SET total = total - 1
        WHERE OLD.state = 'accepted' AND actor_id = OLD.actor_id AND name = 'followers';
    INSERT INTO collection_sizes (actor_id, name, total)
        SELECT NEW.actor_id, 'followers', 1 WHERE NEW.state = 'accepted'
        ON CONFLICT (actor_id, name) DO UPDATE SET total = total + 1;
END;

CREATE TRIGGER following_size_insert AFTER INSERT ON following WHEN NEW.state = 'accepted'
BEGIN
    INSERT INTO collection_sizes (actor_id, name, total) VALUES (NEW.actor_id, 'following', 1)
        ON CONFLICT (actor_id, name) DO UPDATE SET total = total + 1;
END;
CREATE TRIGGER following_size_delete AFTER DELETE ON following WHEN OLD.state = 'accepted'
BEGIN
    UPDATE collection_sizes SET total = total - 1
        WHERE actor_id = OLD.actor_id AND name = 'following';
END;
CREATE TRIGGER following_size_update AFTER UPDATE OF state, actor_id ON following
    WHEN (OLD.state = 'accepted') != (NEW.state = 'accepted') OR OLD.actor_id != NEW.actor_id
BEGIN
    UPDATE collection_sizes SET total = total - 1
        WHERE OLD.state = 'accepted' AND actor_id = OLD.actor_id AND name = 'following';
    INSERT INTO collection_sizes (actor_id, name, total)
        SELECT NEW.actor_id, 'following', 1 WHERE NEW.state = 'accepted'
        ON CONFLICT (actor_id, name) DO UPDATE SET total = total + 1;
END;

CREATE TRIGGER outbox_size_insert AFTER INSERT ON activities WHEN NEW.public = 1
BEGIN
    INSERT INTO collection_sizes (actor_id, name, total) VALUES (NEW.actor_id, 'outbox', 1)
        ON CONFLICT (actor_id, name) DO UPDATE SET total = total + 1;
END;
CREATE TRIGGER outbox_size_delete AFTER DELETE ON activities WHEN OLD.public = 1
BEGIN
    UPDATE collection_sizes SET total = total - 1
        WHERE actor_id = OLD.actor_id AND name = 'outbox';
END;
CREATE TRIGGER outbox_size_update AFTER UPDATE OF public, actor_id ON activities
    WHEN OLD.public != NEW.public OR OLD.actor_id != NEW.actor_id
BEGIN
    UPDATE collection_sizes SET total = total - 1
        WHERE OLD.public = 1 AND actor_id = OLD.actor_id AND name = 'outbox';
    INSERT INTO collection_sizes (actor_id, name, total)
        SELECT NEW.actor_id, 'outbox', 1 WHERE NEW.public = 1
        ON CONFLICT (actor_id, name) DO UPDATE SET total = total + 1;
END;

CREATE TRIGGER members_size_insert AFTER INSERT ON memberships
BEGIN
    INSERT INTO collection_sizes (actor_id, name, total) VALUES (NEW.chapter_id, 'members', 1)
        ON CONFLICT (actor_id, name) DO UPDATE SET total = total + 1;
END;
CREATE TRIGGER members_size_delete AFTER DELETE ON memberships
BEGIN
    UPDATE collection_sizes SET total = total - 1
        WHERE actor_id = OLD.chapter_id AND name = 'members';
END;
CREATE TRIGGER members_size_update AFTER UPDATE OF chapter_id ON memberships
    WHEN OLD.chapter_id != NEW.chapter_id
BEGIN
    UPDATE collection_sizes SET total = total - 1
        WHERE actor_id = OLD.chapter_id AND name = 'members';
    INSERT INTO collection_sizes (actor_id, name, total) VALUES (NEW.chapter_id, 'members', 1)
        ON CONFLICT (actor_id, name) DO UPDATE SET total = total + 1;
END;
