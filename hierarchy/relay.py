"""Items passing along the chapter hierarchy, on any nodes: the rules in one place.

Minutes, and items marked for it, climb from a chapter to its parent and on to the top,
each level keeping them (shown on its page) and announcing them to its followers
(FEP-1b12: an `Announce` of the object itself, with its proof); what a parent itself
publishes, its subchapters announce to their followers, not back up.

A chapter elsewhere does its part when the item reaches its inbox: inbox/handlers.py
calls `relay_received`, `pass_on_delete`, `announced_delete`, `takers_of_announced` and
`pass_announced_up`, the rules below applied to what the inbox received. A chapter of
this node has no inbox in between (a request to ourselves is refused on a default node),
so it does its part in the transaction that publishes or passes on the item
(`item_published`, `pass_on`): every effect is a row committed with the item, and the
same Announces go out as between nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from decisions.wire import is_decision
from federation.urls import NODE, Urls
from hierarchy import scope
from outbox import activities
from storage import actors as actor_store
from storage import hierarchy as store
from storage import inbox as inbox_store
from storage import outbox as outbox_store
from storage.database import Tx

log = structlog.get_logger(__name__)


def local_chapter_handle(urls: Urls, iri: str) -> str | None:
    """The handle a URL of this node names (actor id or profile), else None."""
    handle = urls.parse_actor_url(iri)
    return None if handle is None or handle == NODE else handle


def goes_up(kind: str, marked_upward: bool) -> bool:
    """Whether a chapter's item is addressed to its parent: minutes always, anything else
    when the organiser marks it (`--upward`)."""
    return kind == "minutes" or marked_upward


@dataclass(frozen=True)
class NextUp:
    """The parent a chapter's upward items go to."""

    iri: str
    inbox: str | None  # a parent elsewhere: where to deliver
    chapter_id: int | None  # a parent of this node: it takes the item in our transaction


async def parent_for_items(
    tx: Tx, urls: Urls, chapter_id: int
) -> NextUp | None:
    """A local chapter's accepted parent, if items can reach it (a parent elsewhere whose
    actor we never fetched has no known inbox)."""
    found = await store.accepted_parent(tx, chapter_id)
    if found is None:
        return None
    iri, inbox = found
    handle = local_chapter_handle(urls, iri)
    if handle is not None:
        parent = await actor_store.actor_by_handle(tx, handle)
        if parent is None or parent.kind != "chapter":
            return None
        return NextUp(iri, None, parent.id)
    return None if inbox is None else NextUp(iri, inbox, None)


async def pass_on(
    tx: Tx, urls: Urls, chapter_id: int, obj: dict[str, Any], upward: bool
) -> list[str]:
    """A chapter of this node passes an object on (FEP-1b12): an `Announce` of the object
    itself, embedded whole with its own @context and proof, to its followers and,
    `upward`, to its parent. A parent elsewhere gets it in its inbox; a parent of this node
    takes it as it would from its inbox: keeps it among what reached it from below and
    passes it on in turn. Returns the ids of the Announces queued."""
    announced: list[str] = []
    passer: int | None = chapter_id
    seen: set[int] = set()  # levels rule out cycles; this keeps a bad row from looping
    while passer is not None and passer not in seen:
        seen.add(passer)
        handle = await inbox_store.handle_of_tx(tx, passer)
        if handle is None:
            break
        parent = await parent_for_items(tx, urls, passer) if upward else None
        announce = activities.announce(urls, handle, obj, [parent.iri] if parent else [])
        activity_id = await outbox_store.insert_activity(
            tx, announce["id"], passer, "Announce", True, announce, announce["published"])
        await outbox_store.queue_fanout(tx, activity_id, passer)
        announced.append(str(announce["id"]))
        if parent is not None and parent.inbox is not None:
            await outbox_store.queue_delivery(tx, activity_id, parent.inbox)
        if parent is None or parent.chapter_id is None:
            break
        await store.reached(tx, str(obj.get("id")), parent.chapter_id, via_id=passer)
        passer = parent.chapter_id
    return announced


async def item_published(
    tx: Tx, urls: Urls, actor_id: int, document: dict[str, Any]
) -> list[str]:
    """What chapters of this node do with what a local actor has just queued in `tx` (a
    version of an object, or the Delete of one), as they would had it reached their inbox:
    up, the author's parent keeps it and passes it on, when it is addressed to it; down,
    subchapters announce what their parent itself publishes to their own followers (not
    back up). Chapters elsewhere get the Create, Update or Delete itself and do the same.
    Returns the ids of the Announces queued."""
    announced: list[str] = []
    parent = await parent_for_items(tx, urls, actor_id)
    if parent is not None and parent.chapter_id is not None and \
            parent.iri in activities.addressed(document):
        await store.reached(tx, str(document["id"]), parent.chapter_id, via_id=actor_id)
        announced += await pass_on(tx, urls, parent.chapter_id, document, upward=True)
    handle = await inbox_store.handle_of_tx(tx, actor_id)
    if handle is not None:
        for child_id in await store.children_of_remote_parent(tx, urls.actor(handle)):
            announced += await pass_on(tx, urls, child_id, document, upward=False)
    return announced


# The receiving side: what one of our chapters does with what reached the inbox, in the
# transaction that records it. Each returns the ids of the Announces it queued.

async def announce(
    tx: Tx, urls: Urls, chapter_id: int, obj: dict[str, Any], upward: bool,
) -> list[str]:
    """One of our chapters passes an object on: to its followers, and (upward) to its own
    parent, so that it climbs the hierarchy; a parent of this node passes it on at once."""
    announced = await pass_on(tx, urls, chapter_id, obj, upward)
    log.info("announced", chapter=await inbox_store.handle_of_tx(tx, chapter_id),
             object=obj.get("id"), upward=upward, announces=len(announced))
    return announced


async def relay_received(
    tx: Tx, urls: Urls, sender_iri: str, obj: dict[str, Any], author_iri: str | None,
    addressed: list[int],
) -> list[str]:
    """A new object or version from `sender_iri`, kept by our chapters `addressed`.
    Upward: what an accepted subchapter sends to one of ours goes on up. Downward: what
    our chapters' parent itself publishes (`author_iri` is the sender) goes on to their
    followers. Once per version: a new object, or a newer version of it (edited minutes
    climb like the first ones)."""
    announced: list[str] = []
    for chapter_id in await store.parents_of_child(tx, sender_iri):
        if chapter_id in addressed:
            announced += await announce(tx, urls, chapter_id, obj, upward=True)
    if author_iri == sender_iri:
        children = await store.children_of_remote_parent(tx, sender_iri)
        await scope.decision_reached(tx, urls, children, obj, sender_iri)
        for chapter_id in children:
            announced += await announce(tx, urls, chapter_id, obj, upward=False)
    return announced


async def pass_on_delete(
    tx: Tx, urls: Urls, sender_iri: str, delete: dict[str, Any], downward: bool,
) -> list[str]:
    """A deletion goes where the object went: up from a subchapter (and down from a parent)
    as an Announce of the Delete, with the author's proof that lets nodes further on trust
    it. A Delete without a proof could not be checked there, so it stops here."""
    announced: list[str] = []
    if "proof" not in delete:
        return announced
    for chapter_id in await store.parents_of_child(tx, sender_iri):
        announced += await announce(tx, urls, chapter_id, delete, upward=True)
    if downward:
        for chapter_id in await store.children_of_remote_parent(tx, sender_iri):
            announced += await announce(tx, urls, chapter_id, delete, upward=False)
    return announced


async def announced_delete(
    tx: Tx, urls: Urls, sender_iri: str, delete: dict[str, Any], target_iri: str | None,
    author_iri: str | None,
) -> list[str]:
    """A deletion of `target_iri` by `author_iri` passed on by a subchapter or our parent,
    proven by its author's key (checked before the transaction): the object goes if that
    author wrote it, and the deletion goes on up."""
    if not await store.parents_of_child(tx, sender_iri) and not \
            await store.children_of_remote_parent(tx, sender_iri):
        return []
    if target_iri is None or await inbox_store.remote_object_author(tx, target_iri) != \
            author_iri:
        return []
    if not await inbox_store.delete_remote_object(tx, target_iri):
        return []
    log.info("announced delete applied", object=target_iri, via=sender_iri)
    return await pass_on_delete(tx, urls, sender_iri, delete, downward=False)


@dataclass(frozen=True)
class Takers:
    """Our chapters that take an object a chapter elsewhere announced to us."""

    from_children: list[int]  # the sender is their accepted subchapter: kept, passed on up
    from_parent: list[int]  # the sender is their parent: kept

    @property
    def audience(self) -> list[int]:
        return list(dict.fromkeys(self.from_children + self.from_parent))


async def takers_of_announced(tx: Tx, sender_iri: str) -> Takers:
    """An announced object is kept only when it comes from one of our accepted subchapters
    (upward) or from our chapters' parent."""
    return Takers(await store.parents_of_child(tx, sender_iri),
                  await store.children_of_remote_parent(tx, sender_iri))


async def pass_announced_up(
    tx: Tx, urls: Urls, takers: Takers, obj: dict[str, Any]
) -> list[str]:
    """A new version of an announced object, once kept, climbs on from the chapters whose
    subchapter passed it on (what came down from a parent does not go back up)."""
    announced: list[str] = []
    for chapter_id in takers.from_children:
        announced += await announce(tx, urls, chapter_id, obj, upward=True)
    return announced


async def pass_decision_down(
    tx: Tx, urls: Urls, takers: Takers, obj: dict[str, Any], sender_iri: str,
    new_only: bool = False,
) -> list[str]:
    """A decision goes all the way down, unlike what a parent passes on from above it:
    the chapters that got it (or a new version of it, with new totals) from their parent
    take part, and announce it to their followers, their own subchapters among them.
    With `new_only` (a version this node already kept, from another parent of chapters
    here), only the chapters that take part from now on announce it."""
    if not takers.from_parent or not is_decision(obj):
        return []
    added = await scope.decision_reached(tx, urls, takers.from_parent, obj, sender_iri)
    announced: list[str] = []
    for chapter_id in added if new_only else takers.from_parent:
        announced += await announce(tx, urls, chapter_id, obj, upward=False)
    return announced


async def decision_again(
    tx: Tx, urls: Urls, sender_iri: str, obj: dict[str, Any], author_iri: str | None,
) -> list[str]:
    """A decision this node already kept (through another chapter's parent) comes from
    its deciding chapter itself: that chapter's subchapters here take part too, and those
    that newly do announce it to their followers."""
    if author_iri != sender_iri or not is_decision(obj):
        return []
    children = await store.children_of_remote_parent(tx, sender_iri)
    return await pass_decision_down(tx, urls, Takers([], children), obj, sender_iri,
                                    new_only=True)
