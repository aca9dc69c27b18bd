"""A member's profile changed: its followers get an `Update` of the Person.

Like a chapter's Update when its parent or subchapters change (hierarchy/affiliation.py), the
Update is queued in the transaction that changed the profile and carries the actor
document as that transaction sees it: the new name, summary and icon.
"""

from __future__ import annotations

from actors.documents import actor_to_ap
from federation.urls import Urls
from federation.vocab import PUBLIC
from outbox import activities
from storage import actors as actor_store
from storage import outbox as outbox_store
from storage.database import Tx
from storage.timestamps import utcnow


async def queue_profile_update(tx: Tx, urls: Urls, handle: str, node_username: str) -> str:
    """Queue the member's Update to their followers; returns its id."""
    member = await actor_store.actor_by_handle(tx, handle)
    if member is None or member.kind != "member":
        raise LookupError(f"no member {handle!r} on this node")
    chapters = [c.handle for c in await actor_store.member_chapters(tx, member.id)]
    document = actor_to_ap(member, urls, node_username, chapters)
    update = {
        "@context": document["@context"],
        "id": urls.activity(activities.new_id()),
        "type": "Update",
        "actor": document["id"],
        "published": activities.now_iso(),
        "to": [PUBLIC],
        "cc": [document["followers"]],
        "object": {k: v for k, v in document.items() if k != "@context"},
    }
    activity_id = await outbox_store.insert_activity(
        tx, update["id"], member.id, "Update", True, update, utcnow())
    await outbox_store.queue_fanout(tx, activity_id, member.id)
    return str(update["id"])
