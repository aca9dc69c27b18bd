"""One handler per activity type, registered in one table.

Each runs inside the transaction that records the activity, so an activity is applied
and recorded together or not at all. Handlers do no network I/O: anything they need from
elsewhere (the sender, an object from its origin) was fetched before the transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from decisions import counting
from decisions.counting import TallySettings
from federation.languages import FIELDS, clean_maps
from federation.sanitize import clean_html, clean_text
from federation.urls import NODE, Urls
from hierarchy import affiliation, relay, scope
from hierarchy.tallies import TALLY
from inbox.activity import Activity, Refused, id_of, type_of
from outbox import activities
from outbox.items import JOINABLE_KINDS
from outbox.publish import send_to
from storage import decisions as decision_store
from storage import hierarchy as hierarchy_store
from storage import inbox as store
from storage import items as item_store
from storage import taking_part as taking_part_store
from storage.database import Tx
from storage.items import StoredItem
from storage.remote import RemoteActor
from storage.timestamps import from_wire, utcnow

log = structlog.get_logger(__name__)

# Objects we keep when they are addressed to one of our actors.
OBJECT_TYPES = frozenset({"Note", "Article", "Page", "Event", "Question", "Image", "Video",
                          "Audio", "Document"})


@dataclass
class Context:
    urls: Urls
    sender: RemoteActor  # the activity's actor, from the cache
    target: str | None  # the handle whose personal inbox was used, if any
    queued: list[str] = field(default_factory=list)  # inboxes or activities we queued
    # Items whose totals changed (votes, participants): before the commit, their new
    # version is queued for the followers and these inboxes (Inbox.receive).
    recount: dict[str, list[str]] = field(default_factory=dict)
    # Hosts whose chapters may join ours without an organiser deciding.
    accept_subchapters_from: frozenset[str] = frozenset()
    # Local chapters whose actor document changed (parent, subchapters): Update queued
    # before the commit.
    actor_updates: list[str] = field(default_factory=list)
    # How tallies of decisions are taken in; True once some were (the tally worker wakes).
    tally_settings: TallySettings = field(default_factory=TallySettings)
    tallies_taken: bool = False

    def took(self, received: affiliation.Received) -> None:
        """Keep what a hierarchy rule queued, for the commit."""
        self.queued.extend(received.queued)
        self.actor_updates.extend(received.actor_updates)

    def local_handle(self, url: str | None) -> str | None:
        """The handle (or NODE) of a local actor named by url."""
        if url is None or not self.urls.is_local(url):
            return None
        return self.urls.parse_actor_url(url)


Handler = Callable[[Tx, Context, Activity], Awaitable[None]]
HANDLERS: dict[str, Handler] = {}


def handles(*types: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for kind in types:
            HANDLERS[kind] = handler
        return handler
    return register


async def _answer(
    tx: Tx, ctx: Context, target_id: int, handle: str | None,
    follow: Any, accept: bool,
) -> None:
    answer = activities.answer(ctx.urls, handle, follow, ctx.sender.iri, accept)
    await send_to(tx, target_id, answer, [ctx.sender.inbox])
    ctx.queued.append(ctx.sender.inbox)


@handles("Follow")
async def handle_follow(tx: Tx, ctx: Context, activity: Activity) -> None:
    handle = ctx.local_handle(activity.object_id)
    if handle is None:
        return
    follow = {k: v for k, v in activity.document.items() if k != "@context"}
    if handle == NODE:
        # The node actor signs fetches; following it means nothing, so say no.
        node = await store.local_target(tx, None)
        if node is not None:
            await _answer(tx, ctx, node.id, None, follow, accept=False)
        return
    target = await store.local_target(tx, handle)
    if target is None:
        return
    state = "requested" if target.manually_approves else "accepted"
    final = await store.add_follower(tx, target.id, ctx.sender.iri, activity.id, state)
    if final == "accepted":
        # Also for a repeated Follow: a fresh Accept repairs a peer that lost track.
        await _answer(tx, ctx, target.id, handle, follow, accept=True)
    log.info("follow", target=handle, follower=ctx.sender.iri, state=final)


@handles("Accept", "Reject")
async def handle_answer(tx: Tx, ctx: Context, activity: Activity) -> None:
    inner = activity.raw_object
    if type_of(inner) in (None, "Join"):
        # An answer to one of our chapters' Joins (matched by the Join's id when given).
        answered = await affiliation.join_answered(
            tx, ctx.sender.iri, activity.object_id, accepted=activity.type == "Accept")
        if answered is not None:
            ctx.took(answered)
            return
        # An organiser's answer to a member's Join of their event: only the actor the
        # Join went to decides it.
        joined = await taking_part_store.answer_event_join(
            tx, ctx.sender.iri, activity.object_id, accepted=activity.type == "Accept")
        if joined is not None:
            log.info("participation answered", event_iri=joined.event_iri, by=ctx.sender.iri,
                     type=activity.type)
            return
    if isinstance(inner, dict) and type_of(inner) not in (None, "Follow"):
        return
    changed = await store.answer_follow(
        tx, ctx.sender.iri, activity.object_id, accepted=activity.type == "Accept"
    )
    log.info("follow answered", by=ctx.sender.iri, type=activity.type, changed=changed)


@handles("Undo")
async def handle_undo(tx: Tx, ctx: Context, activity: Activity) -> None:
    inner = activity.raw_object
    inner_type = type_of(inner)
    if isinstance(inner, dict) and id_of(inner.get("actor")) not in (None, ctx.sender.iri):
        return  # nobody undoes someone else's activity
    if inner_type is None and activity.object_id:
        document = await store.recorded_activity(tx, activity.object_id)
        inner, inner_type = document, type_of(document)
    inner = inner if isinstance(inner, dict) else {}
    if inner_type == "Follow":
        handle = ctx.local_handle(id_of(inner.get("object")))
        target = await store.local_target(tx, handle) if handle and handle != NODE else None
        if target is not None:
            await store.remove_follower(tx, ctx.sender.iri, target.id)
    elif inner_type in ("Like", "Announce"):
        kind = "like" if inner_type == "Like" else "announce"
        await store.remove_reaction(tx, kind, ctx.sender.iri, activity.object_id,
                                    id_of(inner.get("object")))
    elif inner_type == "Join":
        handle = ctx.local_handle(id_of(inner.get("object")))
        if handle is not None and handle != NODE:
            await _child_leaves(tx, ctx, handle)
        else:
            await _leave(tx, ctx, id_of(inner.get("object")))
    elif inner_type == "Block":
        handle = ctx.local_handle(id_of(inner.get("object")))
        target = await store.local_target(tx, handle) if handle and handle != NODE else None
        if target is not None:
            await store.remove_block(tx, target.id, ctx.sender.iri)


def _version(obj: dict[str, Any]) -> store.RemoteObjectVersion:
    content = obj.get("content")
    if not isinstance(content, str):
        content_map = obj.get("contentMap")
        content = next(iter(content_map.values()), "") if isinstance(content_map, dict) else ""
    summary = obj.get("summary")
    cleaned = clean_html(content if isinstance(content, str) else "")
    # The versions in other languages are kept, sanitised as their plain value is: a page
    # shows its reader the one in their language.
    document = {**obj, "content": cleaned}
    for key in FIELDS.values():
        document.pop(key, None)
    document |= clean_maps(obj)
    meeting_date = obj.get("meetingDate")
    return store.RemoteObjectVersion(
        iri=obj["id"],
        type=type_of(obj) or "Object",
        attributed_to=id_of(obj.get("attributedTo")) or "",
        content=cleaned,
        summary=clean_text(summary) if isinstance(summary, str) else None,
        in_reply_to=id_of(obj.get("inReplyTo")),
        published=from_wire(obj.get("published")),
        updated=from_wire(obj.get("updated")),
        meeting_date=meeting_date if isinstance(meeting_date, str) else None,
        document=document,
    )


async def _audience(tx: Tx, ctx: Context, activity: Activity) -> list[int]:
    """Local actors an object concerns: addressed, replied to, or following its author."""
    handles = [h for h in map(ctx.local_handle, activity.audience()) if h and h != NODE]
    if ctx.target and ctx.target != NODE:
        handles.append(ctx.target)
    ids = await store.concerned_actor_ids(tx, list(dict.fromkeys(handles)), ctx.sender.iri)
    obj = activity.object or {}
    in_reply_to = id_of(obj.get("inReplyTo"))
    if in_reply_to and ctx.urls.is_local(in_reply_to):
        author = await store.local_object_actor(tx, in_reply_to)
        if author is not None:
            ids.append(author)
    return list(dict.fromkeys(ids))


def _is_vote(obj: dict[str, Any]) -> bool:
    """Mastodon's vote: a Note with the option as its `name`, no content, replying to the
    Question."""
    return (type_of(obj) == "Note" and isinstance(obj.get("name"), str)
            and not obj.get("content") and id_of(obj.get("inReplyTo")) is not None)


async def _votes(tx: Tx, ctx: Context, activity: Activity) -> bool:
    """Count the votes in a Create, if it holds votes on one of our polls."""
    notes = activity.objects
    poll_iri = id_of(notes[0].get("inReplyTo"))
    if not all(_is_vote(n) and id_of(n.get("inReplyTo")) == poll_iri for n in notes):
        return False
    if poll_iri is not None and await decision_store.by_iri(tx, poll_iri) is not None:
        raise Refused(403, "a decision is voted on by the members of the chapters it was "
                           "put to, each logged in on their own chapter's node; a vote sent "
                           "from elsewhere does not count")
    if poll_iri is None or not ctx.urls.is_local(poll_iri):
        return False
    poll = await item_store.by_iri_tx(tx, poll_iri)
    if poll is None or poll.kind != "poll":
        return False
    if poll.deleted_at is not None:
        raise Refused(410, "this poll was deleted")
    for note in notes:
        # The voter is the note's author, whom the note's origin or the signature vouches
        # for; the wrapping activity's actor is only a claim.
        if id_of(note.get("attributedTo")) != ctx.sender.iri:
            raise Refused(403, "a vote counts for its author only, and its attributedTo "
                               "is not the activity's actor")
    closes_at = poll.fields.closes_at
    if poll.closed_at is not None or closes_at is None or closes_at <= utcnow():
        raise Refused(403, "this poll is closed")
    choices = [n["name"] for n in notes]
    for choice in choices:
        if choice not in poll.fields.options:
            raise Refused(422, f"{choice[:100]!r} is not an option of this poll")
    if not poll.fields.multiple:
        if len(set(choices)) > 1:
            raise Refused(422, "this poll takes one choice")
        if await item_store.has_voted(tx, poll.id, ctx.sender.iri):
            raise Refused(403, "you have already voted in this poll")
    for note, choice in zip(notes, choices, strict=True):
        if not await item_store.add_vote(tx, poll.id, ctx.sender.iri, choice, note["id"]):
            raise Refused(403, f"you have already voted for {choice[:100]!r}")
    ctx.recount.setdefault(poll_iri, []).append(ctx.sender.shared_inbox or ctx.sender.inbox)
    log.info("vote", poll=poll_iri, voter=ctx.sender.iri, choices=choices)
    return True


@handles("Create", "Update")
async def handle_create(tx: Tx, ctx: Context, activity: Activity) -> None:
    obj = activity.object
    if obj is None:
        return
    if activity.type == "Create" and await _votes(tx, ctx, activity):
        return
    if activity.type == "Update" and obj.get("id") == ctx.sender.iri:
        return  # the actor updated itself: the cache was refreshed before the transaction
    if type_of(obj) not in OBJECT_TYPES:
        return
    if id_of(obj.get("attributedTo")) != ctx.sender.iri:
        log.info("object not by its sender ignored", object=obj.get("id"))
        return
    if activity.type == "Update":
        author = await store.remote_object_author(tx, obj["id"])
        if author != ctx.sender.iri:
            return  # an update of something we never stored, or someone else's
    audience = await _audience(tx, ctx, activity)
    if not audience:
        return
    stored = await store.store_remote_object(tx, _version(obj), audience,
                                             via=ctx.sender.iri)
    log.info("remote object", outcome=stored.value, object=obj["id"], type=activity.type)
    if stored is store.Stored.NOT_THE_AUTHORS:
        raise Refused(403, f"{obj['id']} is stored here as someone else's")
    if stored.changed:
        addressed = await store.actor_ids(
            tx, [h for h in map(ctx.local_handle, activity.audience()) if h and h != NODE])
        ctx.queued.extend(await relay.relay_received(
            tx, ctx.urls, ctx.sender.iri, obj, id_of(obj.get("attributedTo")), addressed))
    else:
        ctx.queued.extend(await relay.decision_again(
            tx, ctx.urls, ctx.sender.iri, obj, id_of(obj.get("attributedTo"))))


@handles("Delete")
async def handle_delete(tx: Tx, ctx: Context, activity: Activity) -> None:
    if activity.object_id == ctx.sender.iri:
        await store.forget_remote_actor(tx, ctx.sender.iri)
        log.info("remote actor deleted", actor=ctx.sender.iri)
        return
    if activity.object_id is None:
        return
    author = await store.remote_object_author(tx, activity.object_id)
    if author == ctx.sender.iri and await store.delete_remote_object(tx, activity.object_id):
        ctx.queued.extend(await relay.pass_on_delete(
            tx, ctx.urls, ctx.sender.iri, activity.document, downward=True))


async def _announced_object(tx: Tx, ctx: Context, activity: Activity) -> None:
    """An object a chapter passed on to us: kept, and passed on again, only when it comes
    from one of our accepted subchapters (upward) or from our chapters' parent (kept)."""
    obj = activity.object
    if obj is not None and type_of(obj) == "Delete":
        ctx.queued.extend(await relay.announced_delete(
            tx, ctx.urls, ctx.sender.iri, obj, id_of(obj.get("object")), id_of(obj.get("actor"))))
        return
    if obj is None or type_of(obj) not in OBJECT_TYPES:
        return
    takers = await relay.takers_of_announced(tx, ctx.sender.iri)
    audience = takers.audience
    if not audience:
        log.info("announce not relayed: not from a subchapter or parent", by=ctx.sender.iri)
        return
    # A chapter passing an object on may replay an old version (its proof stays valid):
    # only a newer one replaces what we have.
    stored = await store.store_remote_object(tx, _version(obj), audience,
                                             via=ctx.sender.iri, newer_only=True)
    log.info("announced object", outcome=stored.value, object=obj["id"], via=ctx.sender.iri)
    if stored is store.Stored.NOT_THE_AUTHORS:
        raise Refused(403, f"{obj['id']} is stored here as someone else's")
    if stored.changed:
        ctx.queued.extend(await relay.pass_announced_up(tx, ctx.urls, takers, obj))
        ctx.queued.extend(await relay.pass_decision_down(tx, ctx.urls, takers, obj,
                                                         ctx.sender.iri))
    else:
        # Two parents elsewhere (nat0 and nat1 on one node) announce the same decision to
        # their subchapters here: the second one's chapters take part too.
        ctx.queued.extend(await relay.pass_decision_down(tx, ctx.urls, takers, obj,
                                                         ctx.sender.iri, new_only=True))


@handles("Like", "Announce")
async def handle_reaction(tx: Tx, ctx: Context, activity: Activity) -> None:
    if activity.type == "Announce" and activity.object is not None:
        await _announced_object(tx, ctx, activity)
        return
    if activity.object_id is None or not ctx.urls.is_local(activity.object_id):
        return
    kind = "like" if activity.type == "Like" else "announce"
    await store.add_reaction(tx, activity.object_id, kind, ctx.sender.iri, activity.id)


async def _event(tx: Tx, iri: str | None) -> StoredItem | None:
    event = await item_store.by_iri_tx(tx, iri) if iri else None
    if event is None or event.kind not in JOINABLE_KINDS or event.deleted_at is not None:
        return None
    return event


async def _affiliation_request(
    tx: Tx, ctx: Context, activity: Activity, handle: str
) -> None:
    """A chapter elsewhere asks to join one of ours."""
    join = {k: v for k, v in activity.document.items() if k != "@context"}
    ctx.took(await affiliation.join_requested(
        tx, ctx.urls, handle, join, activity.id, ctx.sender.iri, ctx.sender.inbox,
        ctx.sender.type, ctx.sender.host, ctx.accept_subchapters_from))


@handles("Join")
async def handle_join(tx: Tx, ctx: Context, activity: Activity) -> None:
    handle = ctx.local_handle(activity.object_id)
    if handle is not None and handle != NODE:
        await _affiliation_request(tx, ctx, activity, handle)
        return
    event = await _event(tx, activity.object_id)
    if event is None:
        return
    join = {k: v for k, v in activity.document.items() if k != "@context"}
    count = await item_store.participant_count(tx, event.id)
    capacity = event.fields.capacity
    # A finished project is refused like a full event: nobody joins it any more.
    full = (capacity is not None and count >= capacity) or (
        event.kind == "project" and event.fields.project_status == "finished")
    added = False if full else await item_store.add_participant(
        tx, event.id, ctx.sender.iri, activity.id)
    answer = activities.answer(ctx.urls, event.author, join, ctx.sender.iri, not full)
    await send_to(tx, event.actor_id, answer, [ctx.sender.inbox])
    ctx.queued.append(ctx.sender.inbox)
    if added:
        ctx.recount.setdefault(event.object_iri, []).append(ctx.sender.inbox)
    log.info("join", item=event.object_iri, by=ctx.sender.iri, full=full)


async def _leave(tx: Tx, ctx: Context, event_iri: str | None) -> None:
    event = await _event(tx, event_iri)
    if event is not None and await item_store.remove_participant(tx, event.id,
                                                                  ctx.sender.iri):
        ctx.recount.setdefault(event.object_iri, []).append(ctx.sender.inbox)


async def _child_leaves(tx: Tx, ctx: Context, handle: str) -> None:
    ctx.took(await affiliation.child_left(tx, handle, ctx.sender.iri))


@handles("Leave")
async def handle_leave(tx: Tx, ctx: Context, activity: Activity) -> None:
    handle = ctx.local_handle(activity.object_id)
    if handle is not None and handle != NODE:
        await _child_leaves(tx, ctx, handle)
        return
    await _leave(tx, ctx, activity.object_id)


@handles("Block")
async def handle_block(tx: Tx, ctx: Context, activity: Activity) -> None:
    handle = ctx.local_handle(activity.object_id)
    if handle is None or handle == NODE:
        return
    target = await store.local_target(tx, handle)
    if target is not None:
        await store.add_block(tx, target.id, ctx.sender.iri)


@handles("Add")
async def handle_add(tx: Tx, ctx: Context, activity: Activity) -> None:
    """A subchapter passes up tallies of a decision (their proofs were checked before the
    transaction): taken in by the chapter it was below at the opening, or refused whole."""
    tallies = [obj for obj in activity.objects if type_of(obj) == TALLY]
    target = id_of(activity.document.get("target"))
    if not tallies or target is None:
        return
    try:
        kept = await counting.take_from_inbox(tx, ctx.urls, ctx.sender.iri, target, tallies,
                                              ctx.tally_settings)
    except counting.TallyRefused as exc:
        log.warning("tallies refused", by=ctx.sender.iri, decision=target, reason=str(exc))
        raise Refused(exc.status, str(exc)) from None
    ctx.tallies_taken = ctx.tallies_taken or kept > 0


@handles("Invite")
async def handle_invite(tx: Tx, ctx: Context, activity: Activity) -> None:
    """A chapter's parent says the chapter was below it when a decision opened: its members
    have a say. Only the chapter's accepted parent may say so."""
    handle = ctx.local_handle(id_of(activity.document.get("target")))
    decision_iri = activity.object_id
    if handle is None or handle == NODE or decision_iri is None:
        return
    chapter = await store.local_target(tx, handle)
    if chapter is None or chapter.kind != "chapter":
        return
    if ctx.sender.iri not in await hierarchy_store.parents_of(tx, chapter.id):
        raise Refused(403, "only a chapter's parent says that it has a say in a decision")
    if await scope.invited(tx, ctx.urls, chapter.id, decision_iri, ctx.sender.iri):
        # Its own subchapters elsewhere are invited in turn, and its first tally is due.
        ctx.queued.append(decision_iri)
        ctx.tallies_taken = True
