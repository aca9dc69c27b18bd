"""Scope at a moment: which chapters have a say in a decision, as the hierarchy stood
when it opened.

The electorate is the members of the deciding chapter and of every chapter below it at
the opening. Each level keeps, in its part of the decision, the subchapters that were
below it then (`subchapters`, from its own rows), and tells each of them elsewhere so
with an `Invite` to the decision: a chapter's parent is the one who vouches that it has
a say, so both sides agree whatever their clocks or the time an Accept took to arrive. A
chapter that joined later sees the decision (it goes all the way down, hierarchy/relay.py)
but gets no Invite and has no say, and its tallies are not taken; one that left since is
still counted, and sends its tallies to the parent that invited it. Chapters of one node
are one database: a parent's rows say directly which of its subchapters were below it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog

from decisions.wire import DECISION_CONTEXT, Announced, read_question
from federation.urls import Urls
from outbox import activities
from storage import decisions as store
from storage import hierarchy as hierarchy_store
from storage import inbox as inbox_store
from storage import outbox as outbox_store
from storage import remote as remote_store
from storage.database import Tx
from storage.timestamps import utcnow

log = structlog.get_logger(__name__)


def invite(urls: Urls, parent: str, child: str, decision_iri: str) -> dict[str, Any]:
    """A parent's word to a subchapter that it was below it when the decision opened."""
    return {
        "@context": DECISION_CONTEXT,
        "id": urls.activity(activities.new_id()),
        "type": "Invite",
        "actor": parent,
        "object": decision_iri,
        "target": child,
        "to": [child],
    }


async def invite_below(
    tx: Tx, urls: Urls, chapter_id: int, decision_iri: str, subchapters: list[str]
) -> int:
    """Invite the chapter's subchapters elsewhere that were below it at the opening (those
    of this node take part with it, down_this_node); how many were invited."""
    handle = await inbox_store.handle_of_tx(tx, chapter_id)
    if handle is None:
        return 0
    invited = 0
    for child in subchapters:
        if urls.is_local(child):
            continue
        remote = await remote_store.actor(tx, child)
        if remote is None:
            log.warning("subchapter unknown: not invited", decision=decision_iri, child=child)
            continue
        # Queued as outbox.publish.send_to does (which imports this module's callers).
        sent = invite(urls, urls.actor(handle), child, decision_iri)
        activity_id = await outbox_store.insert_activity(tx, sent["id"], chapter_id, "Invite",
                                                         False, sent, utcnow())
        await outbox_store.queue_delivery(tx, activity_id, remote.inbox)
        invited += 1
    return invited


async def _take_part(
    tx: Tx, urls: Urls, decision_id: int, decision_iri: str, chapter_id: int,
    parent_iri: str, has_say: bool, opened_at: datetime,
) -> bool:
    """The chapter takes part (with a say or not), or gets its say now; True if anything
    changed. With a say, it invites its subchapters elsewhere and chapters of this node
    below it take part too."""
    subchapters = await store.subchapters_at(tx, chapter_id, opened_at) if has_say else []
    now = utcnow()
    changed = await store.add_part(tx, decision_id, chapter_id, parent_iri, has_say,
                                   subchapters, now if has_say else None)
    if not changed and has_say:
        changed = await store.give_say(tx, decision_id, chapter_id, parent_iri, subchapters,
                                       now)
    if changed and has_say:
        await invite_below(tx, urls, chapter_id, decision_iri, subchapters)
    if changed:
        await down_this_node(tx, urls, chapter_id, decision_id, decision_iri, opened_at,
                             has_say)
    return changed


async def down_this_node(
    tx: Tx, urls: Urls, chapter_id: int, decision_id: int, decision_iri: str,
    opened_at: datetime, has_say: bool = True,
) -> None:
    """Chapters of this node below one that takes part take part too, each under its
    parent, with a say if that parent's rows say it was below it at the opening (no inbox
    in between; those elsewhere get the decision as their parent announces it). Below a
    chapter with no say, none has one."""
    handle = await inbox_store.handle_of_tx(tx, chapter_id)
    if handle is None:
        return
    in_scope = set(await store.subchapters_at(tx, chapter_id, opened_at)) if has_say else set()
    for child_id in await hierarchy_store.children_of_remote_parent(tx, urls.actor(handle)):
        child = await inbox_store.handle_of_tx(tx, child_id)
        if child is not None:
            await _take_part(tx, urls, decision_id, decision_iri, child_id, urls.actor(handle),
                             urls.actor(child) in in_scope, opened_at)


async def decision_reached(
    tx: Tx, urls: Urls, chapter_ids: list[int], document: dict[str, Any], parent_iri: str,
) -> list[int]:
    """A decision's Question reached these local chapters from their parent (`parent_iri`,
    which published or announced it): each takes part, with a say if a parent invited it,
    and so do the chapters of this node below it. Returns the chapters that newly take
    part; none when the object is not a decision."""
    announced = read_question(document)
    if announced is None:
        return []
    decision_id = await _decision_row(tx, announced)
    added: list[int] = []
    for chapter_id in chapter_ids:
        inviter = await store.invited_by(tx, announced.iri, chapter_id)
        if await _take_part(tx, urls, decision_id, announced.iri, chapter_id,
                            inviter or parent_iri, inviter is not None, announced.opened_at):
            added.append(chapter_id)
            log.info("decision reached", decision=announced.iri, chapter=chapter_id,
                     in_scope=inviter is not None)
    return added


async def invited(
    tx: Tx, urls: Urls, chapter_id: int, decision_iri: str, parent_iri: str
) -> bool:
    """A chapter's parent says it was below it when the decision opened: kept, and if the
    decision is here already, the chapter gets its say now. True if it was new."""
    if not await store.add_invite(tx, decision_iri, chapter_id, parent_iri):
        return False
    decision = await store.by_iri(tx, decision_iri)
    # The decision is here already: from above (the chapter takes part without a say
    # until now), or opened by a chapter of this node above the parent elsewhere (the
    # parent's Announce of our own object is a boost, so the Invite alone brings it).
    if decision is not None:
        await _take_part(tx, urls, decision.id, decision_iri, chapter_id, parent_iri, True,
                         decision.opened_at)
    log.info("invited to a decision", decision=decision_iri, chapter=chapter_id,
             by=parent_iri)
    return True


async def _decision_row(tx: Tx, announced: Announced) -> int:
    return await store.insert(
        tx, announced.iri, announced.deciding, None, announced.question,
        announced.description, announced.options, announced.multiple,
        announced.count_method, announced.language, announced.opened_at, announced.closes_at)
