"""The inbox pipeline: size → shape → signature → dedupe → store → dispatch → 202.

The 202 is sent only after the activity and everything it caused (a follower row, a
queued Accept, an Update with new poll totals) are committed together.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from decisions.counting import TallyRefused, holders_of
from federation.client import FetchError
from federation.proofs import ProofError, verification_method_of, verify_proof
from federation.remote_actors import InvalidActor, Lru, RemoteActor, RemoteActors, same_origin
from federation.transport import Transport
from federation.verification import Unverified, verify_signed
from hierarchy.affiliation import queue_actor_update
from hierarchy.tallies import TALLY
from inbox import handlers
from inbox.activity import (
    Activity,
    BadActivity,
    RawObject,
    Refused,
    as_list,
    id_of,
    parse,
    type_of,
)
from outbox.content import queue_counts
from storage import actors as actor_store
from storage import inbox as store
from storage import remote as remote_store
from storage.database import Database
from storage.timestamps import utcnow

log = structlog.get_logger(__name__)

MAX_BODY = 1024 * 1024  # what Mastodon accepts, too
OBJECT_CARRIERS = frozenset({"Create", "Update"})
MAX_OBJECTS = 50
# A level passes up the tallies of every chapter below it in one Add (about 1.5 KB each).
MAX_TALLIES = 500
RECENT_IDS = 10_000
HOST_CHECK_EVERY = 60.0


class KeyUnavailable(Refused):
    """The key of an integrity proof could not be had (not: the proof failed)."""


@dataclass
class Inbox:
    db: Database
    actors: RemoteActors
    transport: Transport
    context: Callable[..., handlers.Context]
    window: timedelta
    on_queued: Callable[[], None] = lambda: None
    on_tallies: Callable[[], None] = lambda: None
    node_username: str = ""
    local_base: str = ""
    # Memory that spares the database a question on every POST. Local handles are only
    # ever added (a new chapter), so a positive cache cannot go stale; recent activity ids
    # answer most retries at once (older ones are caught by the insert's own dedupe).
    _handles: set[str] = field(default_factory=set)
    _recent: Lru = field(default_factory=lambda: Lru(RECENT_IDS))
    _hosts_checked: dict[str, float] = field(default_factory=dict)

    async def receive(self, request: web.Request, target: str | None) -> int:
        """Take one POST; the status to answer (202) or Refused."""
        if target is not None and target not in self._handles:
            if not await actor_store.handle_exists(self.db, target):
                raise Refused(404, f"no actor {target!r} on this node")
            self._handles.add(target)
        body = await _read_body(request)
        try:
            activity = parse(body)
        except BadActivity as exc:
            raise Refused(400, str(exc)) from None
        if self._recent.get_fresh(activity.id) is not None:
            return 202  # a retry of something we already have; signing it again proves nothing
        if await self._from_deleted_actor(activity):
            return 202
        try:
            signer = await verify_signed(
                self.actors, request.method, request.raw_path, request.headers, body, self.window
            )
        except Unverified as exc:
            raise Refused(401, str(exc)) from None
        activity.relayed = signer != activity.actor
        if activity.relayed and self._local(activity.actor):
            raise Refused(403, "nobody relays what our own actors say")
        sender = await self._sender(activity, signer)
        await self._trusted_object(activity, relayed=activity.relayed)
        # A relay picks the activity's id (on the actor's origin): remembered under its
        # own name, it cannot take the id of an activity the actor itself sends later.
        seen_as = f"{activity.id}#relayed-by:{signer}" if activity.relayed else activity.id
        ctx = self.context(sender=sender, target=target)
        async with self.db.transaction() as tx:
            if not await store.record_activity(
                tx, seen_as, activity.type, activity.actor, activity.document
            ):
                self._recent.put(seen_as, True)
                return 202
            handler = handlers.HANDLERS.get(activity.type)
            if handler is not None:
                await handler(tx, ctx, activity)
            # What must follow (new totals, a changed actor document) is queued in this
            # transaction: committed with the activity, or not at all.
            for item_iri, inboxes in ctx.recount.items():
                await queue_counts(tx, ctx.urls, item_iri, inboxes)
            for handle in dict.fromkeys(ctx.actor_updates):
                await queue_actor_update(tx, ctx.urls, handle, self.node_username)
        self._recent.put(seen_as, True)
        if activity.type == "Delete" and activity.object_id == activity.actor:
            self.actors.forget(activity.actor)
        if ctx.queued or ctx.recount or ctx.actor_updates:
            self.on_queued()
        if ctx.tallies_taken:
            self.on_tallies()
        await self._host_is_alive(sender.host)
        log.info("activity accepted", type=activity.type, id=activity.id, actor=activity.actor)
        return 202

    async def _from_deleted_actor(self, activity: Activity) -> bool:
        # An actor that deleted itself can no longer be fetched to check its key; if we
        # never knew it there is nothing to undo (Mastodon answers such Deletes the same way).
        if activity.type == "Delete" and activity.object_id == activity.actor:
            return await remote_store.actor(self.db, activity.actor) is None
        return False

    async def _sender(self, activity: Activity, signer: str) -> RemoteActor:
        if signer != activity.actor and activity.type not in OBJECT_CARRIERS:
            raise Refused(401, "the signature's key belongs to another actor")
        try:
            return await self.actors.get(activity.actor)
        except InvalidActor as exc:
            raise Refused(400, str(exc)) from None
        except FetchError as exc:
            raise Refused(503 if exc.temporary else 400, f"cannot fetch the actor: {exc}") from None

    async def _trusted_object(self, activity: Activity, relayed: bool) -> None:
        """Set activity.object to the object as its origin says it is.

        An inline object is trusted only when it comes from its own origin in an activity
        signed by its actor; otherwise it is fetched from where its id points.
        """
        raw = activity.raw_object
        if activity.type == "Add":
            await self._tallies(activity, raw)
            return
        if activity.type == "Announce" and isinstance(raw, dict):
            await self._announced_object(activity, raw)
            return
        if activity.type not in OBJECT_CARRIERS:
            return
        if isinstance(raw, list):
            activity.objects = self._inline_list(activity, raw, relayed)
            activity.object = activity.objects[0]
            return
        object_id = id_of(raw)
        if object_id is None:
            raise Refused(400, f"{activity.type} has no object id")
        if isinstance(raw, dict) and not relayed and same_origin(object_id, activity.actor):
            if "proof" in raw:
                await self._check_proof(raw)
            activity.object = raw
        elif isinstance(raw, dict) and relayed and "proof" in raw:
            # A relayed object whose author's key proves it needs no trip to its origin.
            await self._check_proof(raw)
            activity.object = raw
        else:
            activity.object = await self._fetch_object(object_id)
        _bind_to_origin(activity.object)
        if relayed and not same_origin(object_id, activity.actor):
            # Whoever signed, the actor we act for must be vouched for by the object's
            # own origin: a relay cannot speak for an actor of a third server.
            raise Refused(403, f"{object_id} is not on the origin of {activity.actor}")
        activity.objects = [activity.object]
        if activity.type == "Update" and activity.object.get("id") == activity.actor:
            try:
                await self.actors.save_document(activity.object, activity.actor)
            except InvalidActor as exc:
                raise Refused(400, str(exc)) from None

    async def _announced_object(self, activity: Activity, raw: RawObject) -> None:
        """An object a chapter passes on (Announce). Its integrity proof stands in for its
        origin, which may be offline; without a proof it is fetched from the origin."""
        object_id = id_of(raw)
        if object_id is None or self._local(object_id):
            return  # a boost of one of ours, counted by id
        if type_of(raw) == "Delete":
            await self._announced_delete(activity, raw)
            return
        if "proof" in raw:
            await self._check_proof(raw)
            activity.object = raw
        else:
            activity.object = await self._fetch_object(object_id)
        _bind_to_origin(activity.object)

    async def _fetch_object(self, object_id: str) -> RawObject:
        try:
            document, final_url = await self.transport.fetch(object_id)
        except FetchError as exc:
            raise Refused(503 if exc.temporary else 400,
                          f"cannot fetch {object_id}: {exc}") from None
        if document.get("id") != object_id or not same_origin(final_url, object_id):
            raise Refused(400, f"{object_id} answered with another object")
        return document

    async def _announced_delete(self, activity: Activity, delete: RawObject) -> None:
        """A deletion a chapter passes on. Only its author's proof can vouch for it (the
        author's node may be offline, and a fetch would say nothing about who deleted);
        without one it is ignored."""
        author, target = id_of(delete.get("actor")), id_of(delete.get("object"))
        if author is None or target is None or "proof" not in delete:
            return
        if not (same_origin(target, author) and same_origin(str(id_of(delete)), author)):
            raise Refused(403, f"the Delete of {target} is not on the origin of {author}")
        await self._check_proof(delete, author=author)
        activity.object = delete

    async def _tallies(self, activity: Activity, raw: object) -> None:
        """Tallies a subchapter passes up (`Add` to a decision): each must be proven by its
        own chapter's key, whichever level passes it on, so that no level in between can
        change another chapter's count. One that does not verify refuses the whole `Add`."""
        objects = raw if isinstance(raw, list) else [raw]
        tallies = [obj for obj in objects if isinstance(obj, dict) and type_of(obj) == TALLY]
        if not tallies:
            return
        if len(tallies) != len(objects) or len(tallies) > MAX_TALLIES:
            raise Refused(400, f"an Add of tallies holds only tallies, 1 to {MAX_TALLIES}")
        await self._tallies_welcome(activity)
        checked = []
        for tally in tallies:
            chapter, tally_id = id_of(tally.get("attributedTo")), id_of(tally)
            if chapter is None or tally_id is None or not same_origin(tally_id, chapter):
                raise Refused(400, f"the tally {str(tally_id)[:200]} is not on the origin of "
                                   "its chapter")
            try:
                await self._check_proof(tally, author=chapter)
            except KeyUnavailable as exc:
                # A chapter whose key cannot be had now (its node gone, never cached): its
                # tally waits for a later Add; the others, and the sender's own, count.
                log.warning("tally left out: key unavailable", tally=tally_id, reason=str(exc))
                continue
            checked.append(tally)
        if not checked:
            raise Refused(503, "no tally's key could be had; try again later")
        activity.objects = checked
        activity.object = checked[0]

    async def _tallies_welcome(self, activity: Activity) -> None:
        """Before any key is fetched: the decision takes place here and the sender was below
        one of its chapters at the opening (else this would fetch keys for anyone)."""
        try:
            await holders_of(self.db, id_of(activity.document.get("target")), activity.actor)
        except TallyRefused as exc:
            raise Refused(exc.status, str(exc)) from None

    def _local(self, url: str) -> bool:
        return same_origin(url, self.local_base) if self.local_base else False

    async def _check_proof(self, obj: RawObject, author: str | None = None) -> None:
        """FEP-8b32: the proof must verify with an Ed25519 key of the object's author (its
        `attributedTo`, or the `actor` of an activity)."""
        author = author or id_of(obj.get("attributedTo"))
        try:
            method = verification_method_of(obj)
            public_key, owner, _fresh = await self.actors.key(method)
            if owner != author or not same_origin(method, owner):
                raise ProofError("the proof's key is not the author's")
            if not isinstance(public_key, Ed25519PublicKey):
                raise ProofError("the proof's key is not an Ed25519 key")
            verify_proof(obj, public_key)
        except ProofError as exc:
            log.warning("integrity proof rejected", object=obj.get("id"), reason=str(exc))
            raise Refused(401, f"integrity proof of {obj.get('id')}: {exc}") from None
        except FetchError as exc:
            raise KeyUnavailable(503 if exc.temporary else 401,
                                 f"cannot get the key of the proof: {exc}") from None

    @staticmethod
    def _inline_list(activity: Activity, raw: list[object], relayed: bool) -> list[RawObject]:
        """Several objects in one Create (GoToSocial's poll votes): each must be inline,
        on the actor's own origin, in an activity its actor signed."""
        if relayed or not raw or len(raw) > MAX_OBJECTS:
            raise Refused(400, f"a {activity.type} of several objects must be sent by their "
                               f"author and hold 1 to {MAX_OBJECTS}")
        objects = []
        for item in raw:
            object_id = id_of(item)
            if not isinstance(item, dict) or object_id is None or not same_origin(
                object_id, activity.actor
            ):
                raise Refused(400, "each object must be inline and on its actor's origin")
            objects.append(item)
        return objects

    async def _host_is_alive(self, host: str) -> None:
        # A signed request from a host we had given up on means it is back (Mastodon does
        # the same); only touch the row when there is something to clear, and look at most
        # once a minute per host.
        now = time.monotonic()
        if now - self._hosts_checked.get(host, -HOST_CHECK_EVERY) < HOST_CHECK_EVERY:
            return
        self._hosts_checked[host] = now
        if len(self._hosts_checked) > RECENT_IDS:
            self._hosts_checked.clear()
        state = await remote_store.host_state(self.db, host)
        if state is not None and (state.failures or state.unavailable_since):
            await remote_store.host_answered(self.db, host, utcnow())


def _bind_to_origin(obj: RawObject) -> None:
    """An object speaks for authors on its own origin only.

    Its origin (by serving it) or its author's key (by a proof whose key the author owns)
    vouches for it; neither can vouch for an author on another server, so an object that
    names one is refused whole rather than stored under someone else's name.
    """
    object_id = id_of(obj)
    if object_id is None:
        raise Refused(400, "the object has no http(s) id")
    for author in as_list(obj.get("attributedTo")):
        author_id = id_of(author)
        if author_id is None:
            raise Refused(400, f"{object_id} has an attributedTo that is not an http(s) id")
        if not same_origin(author_id, object_id):
            raise Refused(403, f"{object_id} is not on the origin of its author {author_id}")


async def _read_body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise Refused(413, f"activity is larger than {MAX_BODY} bytes")
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY:
            raise Refused(413, f"activity is larger than {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
