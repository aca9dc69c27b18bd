"""What a member does to an object from the web: reply to it, like it, boost it, and take
a like or boost back. The object is local (an item or note of this node) or one we hold
from elsewhere (remote_objects); its author is who gets the activity.

A reply is a public Note in Mastodon's shape (to the author, cc Public and the member's
followers, with a Mention of the author). It is also kept where the replies of an object
are read from (remote_objects, by its inReplyTo), so that it shows under a local item and
in its /replies collection at once, as one from elsewhere does once it arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from chapterhouse.reasons import reason
from federation.urls import Urls
from federation.vocab import AS_CONTEXT, PUBLIC
from outbox import activities
from outbox.proving import prove
from outbox.publish import MAX_NOTE, PublishError, send_to
from storage import actors as actor_store
from storage import inbox as inbox_store
from storage import outbox as store
from storage import reactions as reaction_store
from storage import remote as remote_store
from storage.database import Database, Reader
from storage.inbox import RemoteObjectVersion
from storage.timestamps import at

KINDS = {"like": "Like", "announce": "Announce"}


@dataclass(frozen=True)
class Target:
    """The object a member acts on, and its author."""

    iri: str
    author: str  # the author's actor IRI
    local: bool
    public: bool  # addressed to Public: only such an object is boosted


async def find_target(db: Reader, urls: Urls, iri: str) -> Target | None:
    """The object, if this node has it (deleted ones are not acted on)."""
    found = await store.local_object(db, iri)
    if found is not None:
        document, actor_id, deleted_at = found
        if deleted_at is not None:
            return None
        author = str(document.get("attributedTo") or urls.actor(
            await actor_store.handle_of(db, actor_id)))
        return Target(iri, author, True, PUBLIC in activities.addressed(document))
    remote = await reaction_store.remote_object(db, iri)
    if remote is None:
        return None
    author, document = remote
    return Target(iri, author, False, PUBLIC in activities.addressed(document))


async def _author_inboxes(tx: Reader, target: Target) -> list[str]:
    """Where the author gets it: their shared inbox when they have one, as the fan-out to
    followers uses, so an author who follows the member gets a public activity once."""
    if target.local:
        return []
    known = await remote_store.actor(tx, target.author)
    return [] if known is None else [known.shared_inbox or known.inbox]


async def _mention(db: Reader, urls: Urls, target: Target) -> str:
    if target.local:
        handle = urls.parse_actor_url(target.author)
        return f"@{handle}@{urlsplit(urls.base).netloc}" if handle else target.author
    known = await remote_store.actor(db, target.author)
    if known is not None and known.username:
        return f"@{known.username}@{known.host}"
    return target.author


async def reply(db: Database, urls: Urls, member_id: int, target: Target, text: str,
                language: str | None = None) -> str:
    """Publish a member's reply to `target`, written in `language` when known; returns the
    new Note's id."""
    text = text.strip()
    if not text:
        raise PublishError(reason("reply.empty", "a reply must not be empty"))
    if len(text) > MAX_NOTE:
        raise PublishError(reason("reply.long", "a reply is at most %(num)d characters",
                                  num=MAX_NOTE))
    handle = await actor_store.handle_of(db, member_id)
    if handle is None:
        raise PublishError(reason("reply.not_member", "only a member of this node can reply"))
    note = activities.note(urls, handle, text, language)
    note["inReplyTo"] = target.iri
    note["to"] = [target.author]
    note["cc"] = [PUBLIC, urls.collection(handle, "followers")]
    note["tag"] = [{"type": "Mention", "href": target.author,
                    "name": await _mention(db, urls, target)}]
    async with db.transaction() as tx:
        note = await prove(tx, urls, member_id, note)
        create = activities.create(urls, handle, note)
        await store.publish_in(tx, member_id, create["id"], "Create", create,
                               new_object=(note["id"], "Note", note),
                               also_to=await _author_inboxes(tx, target))
        await inbox_store.store_remote_object(tx, RemoteObjectVersion(
            iri=note["id"], type="Note", attributed_to=note["attributedTo"],
            content=note["content"], summary=None, in_reply_to=target.iri,
            published=at(note["published"]), updated=None, meeting_date=None,
            document=note), audience=[])
    return str(note["id"])


def _reaction(urls: Urls, handle: str, kind: str, target: Target) -> dict[str, Any]:
    activity: dict[str, Any] = {
        "@context": AS_CONTEXT,
        "id": urls.activity(activities.new_id()),
        "type": KINDS[kind],
        "actor": urls.actor(handle),
        "published": activities.now_iso(),
        "object": target.iri,
    }
    if kind == "like":
        activity["to"] = [target.author]
    else:
        activity["to"] = [PUBLIC]
        activity["cc"] = [urls.collection(handle, "followers"), target.author]
    return activity


async def react(db: Database, urls: Urls, member_id: int, kind: str, target: Target) -> bool:
    """Like (kind 'like') or boost ('announce') an object; False when the member had
    already. A like goes to the author; a boost to the member's followers and the author."""
    handle = await actor_store.handle_of(db, member_id)
    if handle is None:
        raise PublishError(reason("react.not_member",
                                  "only a member of this node can like or boost"))
    activity = _reaction(urls, handle, kind, target)
    async with db.transaction() as tx:
        if not await reaction_store.record(tx, member_id, target.iri, kind, activity["id"]):
            return False
        if target.local:
            await inbox_store.add_reaction(tx, target.iri, kind, urls.actor(handle),
                                           activity["id"])
        inboxes = await _author_inboxes(tx, target)
        if kind == "like":
            await send_to(tx, member_id, activity, inboxes)
        else:
            await store.publish_in(tx, member_id, activity["id"], "Announce", activity,
                                   also_to=inboxes)
    return True


async def undo(db: Database, urls: Urls, member_id: int, kind: str, target: Target) -> bool:
    """Take back a like or boost: Undo{Like} to the author, Undo{Announce} to the
    followers and the author. False when there was nothing to take back."""
    handle = await actor_store.handle_of(db, member_id)
    if handle is None:
        raise PublishError(reason("react.not_member",
                                  "only a member of this node can like or boost"))
    async with db.transaction() as tx:
        given = await reaction_store.forget(tx, member_id, target.iri, kind)
        if given is None:
            return False
        original = _reaction(urls, handle, kind, target)
        original["id"] = given.activity_iri
        del original["published"]
        taken_back = activities.undo(urls, handle, original)
        if kind == "announce":
            taken_back["cc"] = original["cc"]
        if target.local:
            await inbox_store.remove_reaction(tx, kind, urls.actor(handle),
                                              given.activity_iri, target.iri)
        inboxes = await _author_inboxes(tx, target)
        if kind == "like":
            await send_to(tx, member_id, taken_back, inboxes)
        else:
            await store.publish_in(tx, member_id, taken_back["id"], "Undo", taken_back,
                                   also_to=inboxes)
    return True

