"""Scope at a moment: which chapters have a say in a decision, as the hierarchy stood
when it opened.

The electorate is the members of the deciding chapter and of every chapter below it at
the opening. Each level keeps, in its part of the decision, the subchapters that were
below it then (`subchapters`): a chapter that joined later sees the decision but has no
say in it, and its tallies are not taken; one that left since is still counted, and
sends its tallies to the parent it had at the opening. A decision goes all the way down:
each chapter that takes part announces it, and each new version of it, to its followers,
its subchapters among them (hierarchy/relay.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog

from decisions.wire import Announced, read_question
from federation.urls import Urls
from storage import decisions as store
from storage import hierarchy as hierarchy_store
from storage import inbox as inbox_store
from storage.database import Tx
from storage.timestamps import utcnow

log = structlog.get_logger(__name__)


async def down_this_node(
    tx: Tx, urls: Urls, chapter_id: int, decision_id: int, opened_at: datetime,
    has_say: bool = True,
) -> None:
    """Chapters of this node below one that takes part take part too, each under its
    parent (no inbox in between; those elsewhere get it as their parent announces it).
    Below a chapter with no say (`has_say` False), none has one."""
    handle = await inbox_store.handle_of_tx(tx, chapter_id)
    if handle is None:
        return
    in_scope = set(await store.subchapters_at(tx, chapter_id, opened_at)) if has_say else set()
    for child_id in await hierarchy_store.children_of_remote_parent(tx, urls.actor(handle)):
        child = await inbox_store.handle_of_tx(tx, child_id)
        if child is None:
            continue
        taking_part = urls.actor(child) in in_scope
        added = await store.add_part(
            tx, decision_id, child_id, urls.actor(handle), taking_part,
            await store.subchapters_at(tx, child_id, opened_at) if taking_part else [],
            opened_at if taking_part else None)
        if added:
            await down_this_node(tx, urls, child_id, decision_id, opened_at, taking_part)


async def decision_reached(
    tx: Tx, urls: Urls, chapter_ids: list[int], document: dict[str, Any], parent_iri: str,
) -> list[int]:
    """A decision's Question reached these local chapters from their parent (`parent_iri`,
    which published or announced it): each takes part, in the scope or not, and so do the
    chapters of this node below it. Returns the chapters that newly take part; none when
    the object is not a decision."""
    announced = read_question(document)
    if announced is None:
        return []
    decision_id = await _decision_row(tx, announced)
    now = utcnow()
    added: list[int] = []
    for chapter_id in chapter_ids:
        since = await store.below_parent_since(tx, chapter_id)
        taking_part = since is not None and since[0] == parent_iri and (
            since[1] is None or since[1] <= announced.opened_at)
        subchapters = await store.subchapters_at(tx, chapter_id, announced.opened_at) \
            if taking_part else []
        if await store.add_part(tx, decision_id, chapter_id, parent_iri, taking_part,
                                subchapters, now if taking_part else None):
            added.append(chapter_id)
            await down_this_node(tx, urls, chapter_id, decision_id, announced.opened_at,
                                 taking_part)
            log.info("decision reached", decision=announced.iri, chapter=chapter_id,
                     in_scope=taking_part)
    return added


async def _decision_row(tx: Tx, announced: Announced) -> int:
    return await store.insert(
        tx, announced.iri, announced.deciding, None, announced.question,
        announced.description, announced.options, announced.multiple,
        announced.count_method, announced.language, announced.opened_at, announced.closes_at)
