"""Affiliation between chapters on any nodes: join a parent, decide on subchapters, leave.

A chapter asks its parent with a `Join` (and a `Follow`, to receive what the parent
publishes); the parent's organiser (or a configured rule) answers with `Accept` or
`Reject`; both sides then send an `Update` of their actor document, which now names the
parent (child) or lists the subchapter (parent). Only a lower level joins a higher one,
which also rules out cycles (`hierarchy/levels.py`). What then passes along the links is
`hierarchy/relay.py`'s.

The receiving side is here too (a chapter elsewhere asks to join one of ours, a
subchapter leaves, a parent answers our Join): inbox/handlers.py adapts an activity to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import structlog

from actors.documents import actor_to_ap
from chapterhouse.reasons import Reason, reason
from federation.remote_actors import RemoteActors
from federation.urls import Urls
from hierarchy.levels import may_join
from hierarchy.relay import local_chapter_handle
from outbox import activities
from outbox.publish import PublishError, send_to
from storage import actors as actor_store
from storage import hierarchy as store
from storage import inbox as inbox_store
from storage import outbox as outbox_store
from storage import remote as remote_store
from storage.actors import ActorRecord
from storage.database import Database, Reader, Tx
from storage.timestamps import utcnow

log = structlog.get_logger(__name__)


def no_chapter(handle: str) -> Reason:
    return reason("hierarchy.no_chapter", "there is no chapter %(handle)r on this node",
                  handle=handle)


def _already(handle: str, parent_iri: str, state: str) -> Reason:
    return reason("hierarchy.has_parent", "%(handle)s already has a parent (%(parent)s, "
                  "%(state)s); `chapter leave` first", handle=handle, parent=parent_iri,
                  state=state)


def _itself() -> Reason:
    return reason("hierarchy.itself", "a chapter cannot join itself")


def _not_pending(child_iri: str, handle: str) -> Reason:
    return reason("hierarchy.not_pending", "%(child)s has no pending request to join "
                  "%(handle)s", child=child_iri, handle=handle)


async def _chapter(db: Reader, handle: str) -> ActorRecord:
    chapter = await actor_store.actor_by_handle(db, handle)
    if chapter is None or chapter.kind != "chapter":
        raise PublishError(no_chapter(handle))
    return chapter


async def queue_actor_update(
    tx: Tx, urls: Urls, handle: str, node_username: str
) -> None:
    """Tell the chapter's followers its actor document changed (its parent or subchapters).

    Runs in the transaction that changed it, so that the Update is committed with the
    change (nothing between the two can lose it) and describes what that transaction sees.
    """
    chapter = await _chapter(tx, handle)
    document = actor_to_ap(chapter, urls, node_username,
                           member_count=await actor_store.member_count(tx, chapter.id))
    update = {
        "@context": document["@context"],
        "id": urls.activity(activities.new_id()),
        "type": "Update",
        "actor": document["id"],
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "cc": [document["followers"]],
        "object": {k: v for k, v in document.items() if k != "@context"},
    }
    activity_id = await outbox_store.insert_activity(
        tx, update["id"], chapter.id, "Update", True, update, utcnow())
    await outbox_store.queue_fanout(tx, activity_id, chapter.id)


async def affiliate(
    db: Database, urls: Urls, actors: RemoteActors, handle: str, parent_iri: str
) -> str:
    """Ask to join a parent chapter; returns the Join's id."""
    chapter = await _chapter(db, handle)
    existing = await store.parent_of(db, chapter.id)
    if existing is not None:
        raise PublishError(_already(handle, existing.parent_iri, existing.state))
    if parent_iri == urls.actor(handle):
        raise PublishError(_itself())
    parent = await actors.refresh(parent_iri)
    ref = await store.chapter_ref(db, parent.iri)
    if parent.type != "Group":
        raise PublishError(reason("hierarchy.not_group", "%(iri)s is a %(type)s, not a chapter",
                                  iri=parent.iri, type=parent.type))
    refusal = may_join(chapter.level, ref.level)
    if refusal:
        raise PublishError(refusal)
    join: dict[str, Any] = {
        "@context": activities.AS_CONTEXT,
        "id": urls.activity(activities.new_id()),
        "type": "Join",
        "actor": urls.actor(handle),
        "to": [parent.iri],
        "object": parent.iri,
    }
    follow = activities.follow(urls, handle, parent.iri)
    async with db.transaction() as tx:
        await store.request_parent(tx, chapter.id, parent.iri, join["id"])
        await inbox_store.add_following(tx, chapter.id, parent.iri, follow["id"])
        await send_to(tx, chapter.id, join, [parent.inbox])
        await send_to(tx, chapter.id, follow, [parent.inbox])
    return str(join["id"])


async def decide(
    db: Database, urls: Urls, handle: str, child_iri: str, accept: bool, node_username: str
) -> None:
    """The parent organiser's answer to a chapter that asked to join."""
    chapter = await _chapter(db, handle)
    child_handle = local_chapter_handle(urls, child_iri)
    if child_handle is not None:
        await _decide_local(db, urls, chapter, handle, child_handle, accept,
                            node_username)
        return
    child = await remote_store.actor(db, child_iri)
    async with db.transaction() as tx:
        join_iri = await store.decide(tx, chapter.id, child_iri, accept)
        if join_iri is None or child is None:
            raise PublishError(_not_pending(child_iri, handle))
        join: dict[str, Any] | str = await inbox_store.recorded_activity(tx, join_iri) or join_iri
        if isinstance(join, dict):
            join.pop("@context", None)
        answer = activities.answer(urls, handle, join, child_iri, accept)
        await send_to(tx, chapter.id, answer, [child.inbox])
        if accept:
            await queue_actor_update(tx, urls, handle, node_username)


async def leave(db: Database, urls: Urls, handle: str, node_username: str) -> str:
    """Leave the parent: both sides drop the link, and the chapter stops following it."""
    chapter = await _chapter(db, handle)
    parent = await store.parent_of(db, chapter.id)
    if parent is None:
        raise PublishError(reason("hierarchy.no_parent", "%(handle)s has no parent",
                                  handle=handle))
    parent_handle = local_chapter_handle(urls, parent.parent_iri)
    if parent_handle is not None:
        return await _leave_local(db, urls, chapter, handle, parent_handle,
                                  parent.state == "accepted", node_username)
    remote = await remote_store.actor(db, parent.parent_iri)
    if remote is None:
        raise PublishError(reason("hierarchy.unknown", "%(iri)s is unknown here",
                                  iri=parent.parent_iri))
    leave_activity = {
        "@context": activities.AS_CONTEXT,
        "id": urls.activity(activities.new_id()),
        "type": "Leave",
        "actor": urls.actor(handle),
        "to": [parent.parent_iri],
        "object": parent.parent_iri,
    }
    follow_iri = await inbox_store.following_follow_iri(db, chapter.id, parent.parent_iri)
    async with db.transaction() as tx:
        await store.drop_parent(tx, chapter.id)
        await send_to(tx, chapter.id, leave_activity, [remote.inbox])
        if follow_iri:
            follow = activities.follow(urls, handle, parent.parent_iri) | {"id": follow_iri}
            follow.pop("@context")
            await inbox_store.remove_following(tx, chapter.id, parent.parent_iri)
            await send_to(tx, chapter.id, activities.undo(urls, handle, follow), [remote.inbox])
        await queue_actor_update(tx, urls, handle, node_username)
    return str(leave_activity["id"])


# Chapters of one node: both sides of the link are rows of the same database, so they are
# written together in one transaction. Sending the Join or Accept over HTTP would be a
# request to ourselves, which the client refuses on a default node (no private addresses).

async def affiliate_local(
    db: Database, urls: Urls, handle: str, parent_handle: str, node_username: str,
    accept: bool = False,
) -> tuple[str, str]:
    """Ask a chapter of this node to take ours as a subchapter: (the Join's id, the state,
    'requested' or, with `accept`, 'accepted')."""
    chapter = await _chapter(db, handle)
    existing = await store.parent_of(db, chapter.id)
    if existing is not None:
        raise PublishError(_already(handle, existing.parent_iri, existing.state))
    if parent_handle == handle:
        raise PublishError(_itself())
    parent = await actor_store.actor_by_handle(db, parent_handle)
    if parent is None or parent.kind != "chapter":
        raise PublishError(no_chapter(parent_handle))
    refusal = may_join(chapter.level, parent.level)
    if refusal:
        raise PublishError(refusal)
    parent_iri, child_iri = urls.actor(parent_handle), urls.actor(handle)
    join: dict[str, Any] = {
        "@context": activities.AS_CONTEXT,
        "id": urls.activity(activities.new_id()),
        "type": "Join",
        "actor": child_iri,
        "to": [parent_iri],
        "object": parent_iri,
    }
    async with db.transaction() as tx:
        await store.request_parent(tx, chapter.id, parent_iri, join["id"])
        state = await store.add_request(tx, parent.id, child_iri, join["id"],
                                        "accepted" if accept else "requested")
        await send_to(tx, chapter.id, join, [])  # recorded, so that its id resolves
        if state == "accepted":
            await store.answer_from_parent(tx, parent_iri, join["id"], accepted=True)
            await queue_actor_update(tx, urls, parent_handle, node_username)
            await queue_actor_update(tx, urls, handle, node_username)
    return str(join["id"]), state


async def _decide_local(
    db: Database, urls: Urls, parent: ActorRecord, handle: str, child_handle: str, accept: bool,
    node_username: str,
) -> None:
    parent_iri, child_iri = urls.actor(handle), urls.actor(child_handle)
    async with db.transaction() as tx:
        join_iri = await store.decide(tx, parent.id, child_iri, accept)
        if join_iri is None:
            raise PublishError(_not_pending(child_iri, handle))
        await store.answer_from_parent(tx, parent_iri, join_iri, accepted=accept)
        if accept:
            await queue_actor_update(tx, urls, handle, node_username)
            await queue_actor_update(tx, urls, child_handle, node_username)


async def _leave_local(
    db: Database, urls: Urls, chapter: ActorRecord, handle: str, parent_handle: str,
    accepted: bool, node_username: str,
) -> str:
    parent_iri = urls.actor(parent_handle)
    leave_activity = {
        "@context": activities.AS_CONTEXT,
        "id": urls.activity(activities.new_id()),
        "type": "Leave",
        "actor": urls.actor(handle),
        "to": [parent_iri],
        "object": parent_iri,
    }
    parent = await actor_store.actor_by_handle(db, parent_handle)
    async with db.transaction() as tx:
        await store.drop_parent(tx, chapter.id)
        if parent is not None:
            await store.remove_child(tx, parent.id, urls.actor(handle))
        await send_to(tx, chapter.id, leave_activity, [])
        await queue_actor_update(tx, urls, handle, node_username)
        if parent is not None and accepted:
            await queue_actor_update(tx, urls, parent_handle, node_username)
    return str(leave_activity["id"])


# The receiving side: an activity from a chapter elsewhere, applied in the transaction
# that records it (no network I/O; the sender was fetched before). The inbox's handlers
# pass what they hold and keep their own bookkeeping from what these return.

@dataclass
class Received:
    """What applying a received activity queued: the inboxes an answer goes to, and the
    handles of our chapters whose actor document changed (their Update is queued before
    the commit)."""

    queued: list[str] = field(default_factory=list)
    actor_updates: list[str] = field(default_factory=list)


async def join_requested(
    tx: Tx, urls: Urls, handle: str, join: dict[str, Any], join_id: str,
    sender_iri: str, sender_inbox: str, sender_type: str, sender_host: str,
    accept_from: frozenset[str],
) -> Received:
    """A chapter elsewhere asks to join one of ours (`join`, the activity without its
    @context): refused at once if the levels do not allow it, accepted at once if its host
    is one whose chapters may join without an organiser deciding, else left to decide."""
    done = Received()
    target = await inbox_store.local_target(tx, handle)
    if target is None or target.kind != "chapter":
        return done
    own_level = await store.level_of_local(tx, target.id)
    child = await store.remote_ref_tx(tx, sender_iri)
    refusal = "only chapters join chapters" if sender_type != "Group" else \
        may_join(child.level, own_level)
    if refusal:
        answer = activities.answer(urls, handle, join, sender_iri, False)
        await send_to(tx, target.id, answer, [sender_inbox])
        done.queued.append(sender_inbox)
        log.info("affiliation refused", chapter=handle, child=sender_iri, reason=refusal)
        return done
    auto = sender_host in accept_from
    state = await store.add_request(
        tx, target.id, sender_iri, join_id, "accepted" if auto else "requested")
    if state == "accepted":
        answer = activities.answer(urls, handle, join, sender_iri, True)
        await send_to(tx, target.id, answer, [sender_inbox])
        done.queued.append(sender_inbox)
        done.actor_updates.append(handle)
    log.info("affiliation request", chapter=handle, child=sender_iri, state=state)
    return done


async def child_left(tx: Tx, handle: str, sender_iri: str) -> Received:
    """A subchapter elsewhere leaves one of ours (a `Leave`, or the `Undo` of its Join)."""
    done = Received()
    target = await inbox_store.local_target(tx, handle)
    if target is not None and await store.remove_child(tx, target.id, sender_iri):
        done.actor_updates.append(handle)
        log.info("subchapter left", chapter=handle, child=sender_iri)
    return done


async def join_answered(
    tx: Tx, parent_iri: str, join_iri: str | None, accepted: bool
) -> Received | None:
    """A parent elsewhere answers one of our chapters' Joins (matched by the Join's id when
    given); None when the answer is to no Join of ours."""
    chapter_id = await store.answer_from_parent(tx, parent_iri, join_iri, accepted=accepted)
    if chapter_id is None:
        return None
    done = Received()
    handle = await inbox_store.handle_of_tx(tx, chapter_id)
    if handle and accepted:
        done.actor_updates.append(handle)
    log.info("affiliation answered", parent=parent_iri,
             type="Accept" if accepted else "Reject")
    return done
