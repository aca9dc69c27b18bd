"""Follow relations that a local actor starts or decides: follow, unfollow, approve, reject."""

from __future__ import annotations

from typing import Any

from federation.remote_actors import RemoteActors
from federation.urls import Urls
from outbox import activities
from outbox.publish import PublishError, send_to
from storage import actors as actor_store
from storage import inbox as store
from storage import remote as remote_store
from storage.database import Database


async def _local(db: Database, handle: str) -> int:
    actor = await actor_store.actor_by_handle(db, handle)
    if actor is None:
        raise PublishError(f"there is no chapter or member {handle!r} on this node")
    return actor.id


async def follow(db: Database, urls: Urls, actors: RemoteActors, handle: str, target: str) -> str:
    """Send a Follow from a local actor to a remote one; returns the Follow's id."""
    actor_id = await _local(db, handle)
    if urls.is_local(target):
        raise PublishError("local actors see each other without following")
    remote = await actors.refresh(target)
    activity = activities.follow(urls, handle, remote.iri)
    async with db.transaction() as tx:
        await store.add_following(tx, actor_id, remote.iri, activity["id"])
        await send_to(tx, actor_id, activity, [remote.inbox])
    return str(activity["id"])


async def unfollow(db: Database, urls: Urls, handle: str, target: str) -> str:
    actor_id = await _local(db, handle)
    follow_iri = await store.following_follow_iri(db, actor_id, target)
    remote = await remote_store.actor(db, target)
    if follow_iri is None or remote is None:
        raise PublishError(f"{handle} does not follow {target}")
    original = activities.follow(urls, handle, target) | {"id": follow_iri}
    original.pop("@context")
    undo = activities.undo(urls, handle, original)
    async with db.transaction() as tx:
        await store.remove_following(tx, actor_id, target)
        await send_to(tx, actor_id, undo, [remote.inbox])
    return str(undo["id"])


async def decide(db: Database, urls: Urls, handle: str, follower: str, accept: bool) -> None:
    """An organiser's answer to a follow request of a chapter that approves by hand."""
    actor_id = await _local(db, handle)
    remote = await remote_store.actor(db, follower)
    async with db.transaction() as tx:
        # Looked up in the answering transaction: an Undo that withdrew the request a
        # moment ago must not get an Accept.
        waiting, follow_iri = await store.pending_follow(tx, actor_id, follower)
        if not waiting or remote is None:
            raise PublishError(f"{follower} has not asked to follow {handle}")
        recorded = await store.recorded_activity(tx, follow_iri) if follow_iri else None
        follow_doc: dict[str, Any] | str = recorded or follow_iri or follower
        if isinstance(follow_doc, dict):
            follow_doc.pop("@context", None)
        answer = activities.answer(urls, handle, follow_doc, follower, accept)
        await store.set_follower_state(tx, actor_id, follower, "accepted" if accept else None)
        await send_to(tx, actor_id, answer, [remote.inbox])
