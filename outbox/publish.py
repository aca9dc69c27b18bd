"""Publishing local content: a Note, its deletion, and the activities sent to one actor."""

from __future__ import annotations

from typing import Any

from chapterhouse.reasons import Reason, reason
from federation.languages import is_language
from federation.urls import Urls
from hierarchy import relay
from outbox import activities
from outbox.items import CONTENT_CONTEXT
from outbox.proving import prove
from storage import actors as actor_store
from storage import inbox as inbox_store
from storage import outbox as store
from storage import remote as remote_store
from storage.database import Database, Tx, utcnow
from storage.timestamps import iso

MAX_NOTE = 5000


def no_actor(handle: str) -> Reason:
    return reason("actor.none", "there is no chapter or member %(handle)r on this node",
                  handle=handle)


class PublishError(ValueError):
    """Content that cannot be published; the message says why."""


async def post_note(db: Database, urls: Urls, handle: str, text: str,
                    language: str | None = None) -> str:
    """Publish a public Note by a chapter or member, written in `language` (a code
    outbox.items validates; None: unknown); returns its id. Delivery to every follower is
    queued in the same transaction that stores it."""
    note_id, _ = await post_note_with_create(db, urls, handle, text, language)
    return note_id


async def post_note_with_create(
    db: Database, urls: Urls, handle: str, text: str, language: str | None = None
) -> tuple[str, str]:
    """post_note(), answering (the note's id, its Create's id)."""
    actor = await actor_store.actor_by_handle(db, handle)
    if actor is None:
        raise PublishError(no_actor(handle))
    text = text.strip()
    if not text:
        raise PublishError(reason("note.empty", "a note must not be empty"))
    if len(text) > MAX_NOTE:
        raise PublishError(reason("note.long", "a note is at most %(num)d characters",
                                  num=MAX_NOTE))
    if language is not None and not is_language(language):
        raise PublishError(reason(
            "item.language", "language %(language)s is not a language code such as en or eo",
            language=repr(language[:40])))
    async with db.transaction() as tx:
        note = await prove(tx, urls, actor.id, activities.note(urls, handle, text, language))
        create = activities.create(urls, handle, note)
        await store.publish_in(tx, actor.id, create["id"], "Create", create,
                               new_object=(note["id"], "Note", note))
        # A chapter's subchapters on this node announce it, as those elsewhere do.
        await relay.item_published(tx, urls, actor.id, note)
    return str(note["id"]), str(create["id"])


async def delete_object(db: Database, urls: Urls, object_iri: str) -> str:
    """Delete a local object: a Delete with a Tombstone goes to the same audience (the
    followers, and actors addressed by name, such as the parent chapter that passed minutes
    up), and the object's URL answers 410 from then on. Returns the Delete's id.

    The Delete carries its author's integrity proof, so that nodes further up the
    hierarchy, which got the object from a chapter in between, can trust it the same way.
    """
    async with db.transaction() as tx:
        found = await store.local_object(tx, object_iri)
        if found is None:
            raise PublishError(reason("object.not_here", "%(iri)s is not an object of this "
                                      "node", iri=object_iri))
        document, actor_id, deleted_at = found
        if deleted_at is not None:
            raise PublishError(reason("object.deleted", "%(iri)s was already deleted on "
                                      "%(moment)s", iri=object_iri, moment=iso(deleted_at)))
        delete = activities.delete(urls, await inbox_store.handle_of_tx(tx, actor_id), document)
        # Under the context that defines `proof`, so JSON-LD readers keep it.
        delete = await prove(tx, urls, actor_id, delete | {"@context": CONTENT_CONTEXT})
        await store.publish_in(
            tx, actor_id, delete["id"], "Delete", delete, deleted_object=object_iri,
            also_to=await remote_store.inboxes_of(tx, activities.addressed(delete)))
        # A parent on this node gets no Delete in its inbox: it passes the deletion on
        # from here, as it passed on the object.
        await relay.item_published(tx, urls, actor_id, delete)
    return str(delete["id"])


async def send_to(
    tx: Tx, actor_id: int, activity: dict[str, Any], inboxes: list[str]
) -> None:
    """Queue an activity that goes to particular inboxes (an Accept, a Follow), inside the
    caller's transaction. It is not public: it stays out of the outbox collection."""
    activity_id = await store.insert_activity(
        tx, activity["id"], actor_id, activity["type"], False, activity, utcnow()
    )
    for inbox in dict.fromkeys(inboxes):
        await store.queue_delivery(tx, activity_id, inbox)
