"""Publishing, editing and deleting items, and keeping their live numbers on the wire.

A vote or a participation changes the document at the item's URL at once (Mastodon
refetches polls it shows) and sends an `Update` to the followers and to whoever voted or
joined. A poll that reaches its closing time gets a final `Update` carrying `closed`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from chapterhouse.reasons import reason
from federation.urls import Urls
from hierarchy import relay
from outbox import activities
from outbox.items import (
    MAX_LISTED_PARTICIPANTS,
    Counts,
    InvalidItem,
    Item,
    iso_utc,
    item_from_stored,
    stored_fields,
    to_ap,
    validate,
)
from outbox.proving import prove
from outbox.publish import PublishError, delete_object, no_actor
from storage import actors as actor_store
from storage import chapter_settings as settings_store
from storage import items as store
from storage import projects as project_store
from storage import remote as remote_store
from storage.database import Database, Reader, Tx
from storage.items import StoredItem
from storage.timestamps import at, iso

log = structlog.get_logger(__name__)


async def written_in(db: Reader, handle: str, node_language: str) -> str:
    """The language an actor writes in unless they say: their chapter's setting, else the
    node's `[node] language`."""
    actor = await actor_store.actor_by_handle(db, handle)
    chosen = None if actor is None else await settings_store.written_in(db, actor.id)
    return chosen or node_language


async def publish_item(
    db: Database, urls: Urls, handle: str, item: Item, upward: bool = False
) -> str:
    """Validate and publish an item by a local chapter or member; returns its id.

    Minutes, and items marked `upward`, of a chapter with a parent are addressed to the
    parent too, which passes them up the hierarchy."""
    object_id, _ = await publish_item_with_create(db, urls, handle, item, upward)
    return object_id


async def publish_item_with_create(
    db: Database, urls: Urls, handle: str, item: Item, upward: bool = False
) -> tuple[str, str]:
    """publish_item(), answering (the item's id, its Create's id): a client-to-server post
    is answered with the activity."""
    actor = await actor_store.actor_by_handle(db, handle)
    if actor is None:
        raise PublishError(no_actor(handle))
    try:
        validate(item)
    except InvalidItem as exc:
        raise PublishError(exc.args[0]) from None  # the Reason, worded where it is shown
    object_id = urls.object(activities.new_id())
    published = activities.now_iso()
    # Whoever starts a project takes part in it from the first version on.
    starter = urls.actor(item.started_by) if item.kind == "project" and item.started_by \
        else None
    document = to_ap(item, object_id, urls, handle, published, counts=Counts(
        participants=1, participant_ids=[starter]) if starter else None)
    # The parent is read in the transaction that publishes: one that the chapter left in
    # between would otherwise still get the item, or one it joined would miss it.
    async with db.transaction() as tx:
        also_to: list[str] = []
        if actor.kind == "chapter" and relay.goes_up(item.kind, upward):
            parent = await relay.parent_for_items(tx, urls, actor.id)
            if parent is not None:
                document["cc"].append(parent.iri)
                also_to += [parent.inbox] if parent.inbox else []
        document = await prove(tx, urls, actor.id, document)
        create = activities.create(urls, handle, document)
        await store.create(tx, actor.id, stored_fields(item), document, create,
                           at(published), also_to)
        if starter:
            row = await store.by_iri_tx(tx, object_id)
            assert row is not None  # stored just above
            await store.add_participant(tx, row.id, starter,
                                        f"{starter}#joins/{activities.new_id()}")
        await relay.item_published(tx, urls, actor.id, document)
    return object_id, str(create["id"])


async def _counts(db: Reader, stored: StoredItem) -> Counts:
    votes, voters = await store.vote_counts(db, stored.id)
    participants = await store.participant_count(db, stored.id)
    # A project names who takes part (an event only counts them).
    listed = await project_store.participant_iris(db, stored.id, MAX_LISTED_PARTICIPANTS) \
        if stored.kind == "project" else []
    return Counts(votes=votes, voters=voters, participants=participants,
                  participant_ids=listed)


async def _live_item(db: Reader, object_iri: str) -> StoredItem:
    stored = await store.by_iri(db, object_iri)
    if stored is None:
        raise PublishError(reason("item.not_here", "%(iri)s is not an item of this node",
                                  iri=object_iri))
    if stored.deleted_at is not None:
        raise PublishError(reason("item.deleted", "%(iri)s was deleted on %(moment)s",
                                  iri=object_iri, moment=iso(stored.deleted_at)))
    return stored


# What an edit may change besides the text: its language, a minutes' date, an event's when
# and where. A poll's options, choice and closing time stay: votes were cast for them as
# they were.
EDITABLE_DETAILS = ("meeting_date", "starts_at", "ends_at", "timezone", "place_name",
                    "address", "online_url", "capacity", "language",
                    "project_status")


async def edit_item(
    db: Database, urls: Urls, object_iri: str, title: str | None = None,
    summary: str | None = None, body: str | None = None,
    details: dict[str, Any] | None = None,
) -> str:
    """Change an item's text (and `details`, fields named in EDITABLE_DETAILS) and send the
    new version (with a later `updated`)."""
    # Read and written in one transaction: a vote counted between a read and the write
    # would be missing from the new version's totals.
    async with db.transaction() as tx:
        row = await _live_item(tx, object_iri)
        item = item_from_stored(row.fields)
        if title is None and summary is None and body is None and not details:
            raise PublishError("nothing to change: give --title, --summary or --body-file")
        item.title = title if title is not None else item.title
        item.summary = summary if summary is not None else item.summary
        item.body = body if body is not None else item.body
        for name, value in (details or {}).items():
            if name not in EDITABLE_DETAILS:
                raise PublishError(f"{name.replace('_', ' ')} cannot be changed")
            setattr(item, name, value)
        try:
            # Checked as of publication: a poll's closing time does not have to be in the
            # future again to fix a typo in its question.
            validate(item, now=row.published)
        except InvalidItem as exc:
            raise PublishError(exc.args[0]) from None
        updated = at(activities.now_iso())
        # Receivers (Mastodon, our parents) take only a later version as an edit, and
        # timestamps have whole seconds: an edit in the second of publication, or of the
        # last edit, would be dropped as a repeat.
        latest = row.updated or row.published
        if updated <= latest:
            updated = latest.replace(microsecond=0) + timedelta(seconds=1)
        document = to_ap(item, object_iri, urls, row.author, iso_utc(row.published), iso(updated),
                         await _counts(tx, row), iso(row.closed_at))
        document = await prove(tx, urls, row.actor_id, _keep_audience(row, document))
        update = activities.create(urls, row.author, document, kind="Update")
        # Actors addressed by name (the parent chapter of minutes) get the new version
        # too, so that a correction climbs the hierarchy like the first version did.
        await store.replace(
            tx, object_iri, row.actor_id, stored_fields(item), document, update, updated,
            also_to=await remote_store.inboxes_of(tx, activities.addressed(document)))
        # Chapters of this node get no Update in their inbox: the new version climbs (or
        # goes down) from here, as the first one did.
        await relay.item_published(tx, urls, row.actor_id, document)
    return str(update["id"])


def _keep_audience(stored: StoredItem, document: dict[str, Any]) -> dict[str, Any]:
    """A new version is addressed like the first one (the parent stays in `cc`)."""
    original = stored.document
    document["to"], document["cc"] = original.get("to", document["to"]), original.get(
        "cc", document["cc"])
    return document


async def delete_item(db: Database, urls: Urls, object_iri: str) -> str:
    await _live_item(db, object_iri)
    return await delete_object(db, urls, object_iri)


async def queue_counts(
    tx: Tx, urls: Urls, object_iri: str, also_to: list[str]
) -> None:
    """New totals (votes, participants) into the document, and its Update queued for the
    followers and the inboxes in `also_to` (voters and participants who may not follow).

    Runs in the transaction that changed the totals: the Update is then committed with
    the vote or join (a stop right after the commit cannot lose it), and the version it
    carries is built from what that transaction sees, never from an older read that an
    edit committed in between would make stale."""
    row = await store.by_iri(tx, object_iri)
    if row is None or row.deleted_at is not None:
        return
    item = item_from_stored(row.fields)
    document = to_ap(item, object_iri, urls, row.author, iso_utc(row.published), iso(row.updated),
                     await _counts(tx, row), iso(row.closed_at))
    document = await prove(tx, urls, row.actor_id, _keep_audience(row, document))
    update = activities.create(urls, row.author, document, kind="Update")
    await store.replace(tx, object_iri, row.actor_id, row.fields, document, update, None,
                        also_to=also_to)


async def close_due_polls(db: Database, urls: Urls, now: datetime | None = None) -> int:
    """Close every poll whose time is up and send its final Update."""
    now = now or datetime.now(UTC)
    closed = 0
    for poll in await store.polls_to_close(db, now):
        closes_at = poll.fields.closes_at
        assert closes_at is not None  # only polls with a closing time are due
        # Closed and announced in one transaction: a poll closed without its final Update
        # would never get one, since only open polls are looked at.
        async with db.transaction() as tx:
            if not await store.set_closed(tx, poll.id, closes_at):
                continue
            await queue_counts(tx, urls, poll.object_iri, [])
        closed += 1
        log.info("poll closed", poll=poll.object_iri)
    return closed


async def run_scheduler(db: Database, urls: Urls, on_queued: Any, every: float = 15.0) -> None:
    """Close polls on time, for as long as the node runs."""
    while True:
        try:
            if await close_due_polls(db, urls):
                on_queued()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("closing polls failed")
        await asyncio.sleep(every)
