-- Schema version 21: the organisation's own pages, written in Markdown on the web. A page
-- belongs to an actor: the node's Application actor (welcome, About, Mission, ...; written
-- by administrators) or a chapter (its about page, resources; written by its organisers).
-- Its slug names it under that actor; position orders lists and the navigation, and
-- in_navigation says whether a node page is linked from every page's navigation. Each
-- page has one text per language (title, Markdown body, the sanitised HTML made from it
-- when it was saved). Pages are served as ActivityPub Page objects, never delivered.

CREATE TABLE pages (
    id            INTEGER PRIMARY KEY,
    actor_id      INTEGER NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    slug          TEXT NOT NULL,
    position      INTEGER NOT NULL DEFAULT 0,
    in_navigation INTEGER NOT NULL DEFAULT 0 CHECK (in_navigation IN (0, 1)),
    published     TEXT NOT NULL,
    updated       TEXT NOT NULL,
    UNIQUE (actor_id, slug)
);

CREATE TABLE page_texts (
    page_id   INTEGER NOT NULL REFERENCES pages (id) ON DELETE CASCADE,
    language  TEXT NOT NULL,
    title     TEXT NOT NULL,
    body      TEXT NOT NULL,
    body_html TEXT NOT NULL,
    PRIMARY KEY (page_id, language)
);
