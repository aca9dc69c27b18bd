"""Counting a decision up the hierarchy: tallies made, passed up, taken in, and the result.

Each chapter of this node that has a say keeps its members' ballots and, when its tally is
due (a ballot changed, debounced; a tally came from below; the decision closed), signs a
new tally of its own members if its count changed, then passes up to the parent it had at
the opening every tally it holds and has not passed up yet: its own and those of the
chapters below it, each still signed by its chapter, in one `Add` whose target is the
decision. A parent on this node takes them in the same transaction; one elsewhere gets the
`Add` in its inbox, where each proof is checked before anything is kept (inbox/receive.py).
The deciding chapter instead adds up what it holds and publishes the result as a new
version of the decision's `Question`.

A worker makes due tallies and closes decisions on time; it is supervised like the
delivery worker, and one decision that fails is tried again later without stopping the
others.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from chapterhouse.reasons import Reason, reason
from decisions.wire import DECISION_CONTEXT, question_document, result_from_breakdown
from federation.urls import NODE, Urls
from hierarchy import relay
from hierarchy.tallies import (
    BadTally,
    Counted,
    Result,
    Tally,
    count,
    in_scope,
    read_tally,
    tally_document,
)
from outbox import activities
from outbox.proving import prove
from outbox.publish import send_to
from storage import actors as actor_store
from storage import decisions as store
from storage import hierarchy as hierarchy_store
from storage import remote as remote_store
from storage.database import Database, Reader, Tx
from storage.decisions import Decision, Part, StoredTally
from storage.outbox import insert_activity, queue_fanout
from storage.timestamps import from_wire, utcnow

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class TallySettings:
    debounce: timedelta = timedelta(seconds=5)  # ballots cast meanwhile ride on one tally
    grace: timedelta = timedelta(hours=1)  # after the close, tallies still count, marked late
    after_close: timedelta = timedelta(milliseconds=50)  # finals go at once, a few together


# After the close, a partial result (finals still missing) goes out at most this often.
PARTIAL_EVERY = timedelta(seconds=1)


# Tallies that cannot go up yet (the parent unknown here) are tried again after this.
WAIT_FOR_PARENT = timedelta(seconds=30)
# Chapters a holder counts at most: a level cannot swell the scope without end.
MAX_CHAPTERS = 5_000


class TallyRefused(Exception):
    """Tallies that cannot be taken in; `status` for the sender, args[0] the Reason."""

    def __init__(self, status: int, why: Reason) -> None:
        super().__init__(why)
        self.status = status


def _stamp(moment: datetime) -> str:
    # To the millisecond: a chapter's newer tally must sort after the one a second before.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _after(before: datetime | None, now: datetime) -> datetime:
    """Now, to the millisecond, or just after `before` when that is not earlier: a newer
    version must sort after the one before it, on every node."""
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    return now if before is None or now > before else before + timedelta(milliseconds=1)


def _parsed(decision: Decision, held: list[StoredTally]) -> dict[str, Tally]:
    found: dict[str, Tally] = {}
    for stored in held:
        try:
            found[stored.chapter_iri] = read_tally(stored.document, decision.iri,
                                                   decision.options, decision.multiple)
        except BadTally:
            continue  # kept before a rule tightened: it no longer counts
    return found


async def make_own_tally(
    tx: Tx, urls: Urls, decision: Decision, part: Part, now: datetime
) -> bool:
    """Sign a new tally of the chapter's own members if their count changed (or the
    decision closed since the last one); True if one was made."""
    if part.final_sent_at is not None:
        return False  # its final tally stands: members leaving later change nothing
    ballots, voters, eligible = await store.own_count(tx, decision.id, part.chapter_id)
    final = decision.closed_at is not None
    chapter = urls.actor(part.handle)
    current = await store.tally(tx, decision.id, part.chapter_id, chapter)
    if current is not None:
        before = read_tally(current.document, decision.iri, decision.options, decision.multiple)
        if (before.eligible, before.voters, before.final, before.subchapters) == (
                eligible, voters, final, part.subchapters) and all(
                before.ballots.get(o, 0) == ballots.get(o, 0) for o in decision.options):
            return False
    tally_id = urls.activity(activities.new_id())
    moment = _after(current.published if current else None, now)
    published = _stamp(moment)
    document = tally_document(tally_id, chapter, decision.iri, published, final, eligible,
                              voters, ballots, decision.options, part.subchapters,
                              DECISION_CONTEXT)
    document = await prove(tx, urls, part.chapter_id, document)
    # Kept among the chapter's activities too, so that its id resolves.
    await insert_activity(tx, tally_id, part.chapter_id, "Tally", False, document, now)
    await store.keep_tally(tx, decision.id, part.chapter_id, chapter, document, moment, final,
                           False)
    return True


async def take(
    tx: Tx, urls: Urls, decision: Decision, holder: Part, sender: str,
    documents: list[dict[str, Any]], now: datetime, settings: TallySettings,
) -> int:
    """A chapter of this node takes in tallies passed up by `sender`, one of the chapters
    that were below it at the opening: each counts if it comes from the sender or from a
    chapter the scope reaches through it, and replaces the chapter's older one. Returns
    how many were kept; TallyRefused when none can be."""
    if sender not in holder.subchapters:
        raise TallyRefused(403, reason(
            "tally.not_below", "%(sender)s was not below %(holder)s when the decision opened",
            sender=sender, holder=urls.actor(holder.handle)))
    held = _parsed(decision, await store.tallies(tx, decision.id, holder.chapter_id))
    parsed: list[tuple[Tally, dict[str, Any]]] = []
    for document in documents:
        try:
            parsed.append((read_tally(document, decision.iri, decision.options,
                                      decision.multiple), document))
        except BadTally as exc:
            raise TallyRefused(400, exc.args[0]) from None
    merged = dict(held)
    for tally, _document in parsed:
        if tally.chapter not in merged or tally.published > merged[tally.chapter].published:
            merged[tally.chapter] = tally
    if len(merged) > MAX_CHAPTERS:
        raise TallyRefused(400, reason("tally.too_many", "more than %(num)d chapters in one "
                                       "decision's scope", num=MAX_CHAPTERS))
    reachable = in_scope([sender], merged)
    late = now > decision.closes_at + settings.grace
    kept = 0
    for tally, document in parsed:
        if tally.chapter not in reachable:
            log.warning("tally out of scope", decision=decision.iri, chapter=tally.chapter,
                        via=sender)
            continue
        if await store.keep_tally(tx, decision.id, holder.chapter_id, tally.chapter,
                                  document, tally.published, tally.final, late):
            kept += 1
    if kept:
        closing = now >= decision.closes_at
        await store.mark_due(tx, decision.id, holder.chapter_id,
                             now + (settings.after_close if closing else settings.debounce))
    log.info("tallies taken", decision=decision.iri, holder=holder.handle, via=sender,
             kept=kept, offered=len(documents), late=late)
    return kept


async def holders_of(
    db: Reader, decision_iri: str | None, sender: str
) -> tuple[Decision, list[Part]]:
    """The decision and this node's chapters that had `sender` below them at its opening:
    those that take its tallies. TallyRefused when there are none."""
    decision = await store.by_iri(db, decision_iri) if decision_iri else None
    if decision is None:
        raise TallyRefused(404, reason("tally.unknown", "no decision %(iri)s takes place "
                                       "here", iri=str(decision_iri)[:200]))
    holders = [p for p in await store.parts(db, decision.id) if sender in p.subchapters]
    if not holders:
        raise TallyRefused(403, reason(
            "tally.no_holder", "%(sender)s was below none of this node's chapters when the "
            "decision opened", sender=sender))
    return decision, holders


async def take_from_inbox(
    tx: Tx, urls: Urls, sender: str, decision_iri: str, documents: list[dict[str, Any]],
    settings: TallySettings,
) -> int:
    """An `Add` of tallies that reached this node (their proofs already checked)."""
    decision, holders = await holders_of(tx, decision_iri, sender)
    now = utcnow()
    return sum([await take(tx, urls, decision, holder, sender, documents, now, settings)
                for holder in holders])


async def _pass_up(
    tx: Tx, urls: Urls, decision: Decision, part: Part, now: datetime,
    settings: TallySettings,
) -> int:
    """Send the parent every tally the chapter holds and has not passed up yet."""
    pending = await store.not_forwarded(tx, decision.id, part.chapter_id)
    if not pending or part.parent_iri is None:
        return 0
    chapter = urls.actor(part.handle)
    handle = urls.parse_actor_url(part.parent_iri) if urls.is_local(part.parent_iri) else None
    if handle is not None and handle != NODE:
        parent = await actor_store.actor_by_handle(tx, handle)
        parent_part = None if parent is None else await store.part(tx, decision.id, parent.id)
        if parent_part is None:
            log.warning("parent takes no part", decision=decision.iri, chapter=part.handle)
            await store.postpone(tx, decision.id, part.chapter_id, now + WAIT_FOR_PARENT)
            return 0
        await take(tx, urls, decision, parent_part, chapter,
                   [stored.document for stored in pending], now, settings)
    else:
        remote = await remote_store.actor(tx, part.parent_iri)
        if remote is None:
            await store.postpone(tx, decision.id, part.chapter_id, now + WAIT_FOR_PARENT)
            log.warning("parent unknown: tallies wait", decision=decision.iri,
                        parent=part.parent_iri)
            return 0
        add = tallies_add(urls, chapter, part.parent_iri, decision.iri,
                          [stored.document for stored in pending])
        await send_to(tx, part.chapter_id, add, [remote.shared_inbox or remote.inbox])
    await store.set_forwarded(tx, decision.id, part.chapter_id, pending)
    return len(pending)


def tallies_add(
    urls: Urls, chapter: str, parent: str, decision: str, tallies: list[dict[str, Any]]
) -> dict[str, Any]:
    """The `Add` that passes tallies up to a parent on another node: each tally keeps its
    own chapter's proof; the Add itself is only HTTP-signed by the sending chapter."""
    return {
        "@context": DECISION_CONTEXT,
        "id": urls.activity(activities.new_id()),
        "type": "Add",
        "actor": chapter,
        "to": [parent],
        "object": tallies,
        "target": decision,
    }


async def result_of(
    tx: Reader, urls: Urls, decision: Decision, part: Part
) -> tuple[Result, list[str]]:
    """The deciding chapter's count of what it holds, and the chapters in the scope it
    has heard nothing from (by name)."""
    held = await store.tallies(tx, decision.id, part.chapter_id)
    parsed = _parsed(decision, held)
    own = urls.actor(part.handle)
    reach = in_scope(part.subchapters, parsed) | {own}
    prefix = urls.actor("")
    counted = []
    for stored in held:
        tally = parsed.get(stored.chapter_iri)
        if tally is None or tally.chapter not in reach:
            continue
        name = (await hierarchy_store.chapter_ref(tx, tally.chapter, prefix)).name
        counted.append(Counted(tally, name, stored.late))
    silent = [(await hierarchy_store.chapter_ref(tx, iri, prefix)).name
              for iri in sorted(reach - set(parsed))]
    return count(decision.options, decision.count_method, counted), silent


async def _publish_result(
    tx: Tx, urls: Urls, decision: Decision, part: Part, now: datetime,
    settings: TallySettings,
) -> tuple[bool, datetime | None]:
    """A new version of the decision with the result so far, when it changed: (True if
    it is the final result (closed, and every chapter's final tally in, or the grace
    over), when to publish the partial result held back, if one was)."""
    found = await store.local_document(tx, decision.iri)
    if found is not None and found.get("resultFinal") is True:
        # The final result stands: a tally that comes later is shown, marked late, and
        # changes no total (it could otherwise be timed to change the outcome).
        final, document = True, await _marked_late(tx, decision, part, found)
        result = result_from_breakdown(decision, document)
    else:
        result, silent = await result_of(tx, urls, decision, part)
        closed = decision.closed_at is not None
        final = closed and ((not result.missing_final and not silent)
                            or now >= decision.closes_at + settings.grace)
        result = dataclasses.replace(result, missing_final=result.missing_final + silent)
        document = question_document(urls, decision, part.handle, result, final)
    if found is not None and _same(found, document):
        return final, None
    if not final and found is not None and found.get("closed"):
        # The finals arrive in a burst after the close; each version goes all the way down
        # the hierarchy, on the nodes the finals climb through: one partial result a while.
        last = from_wire(found.get("updated"))
        if last is not None and now < last + PARTIAL_EVERY:
            return final, last + PARTIAL_EVERY
    # To the millisecond, and after the version before: nodes below keep only a newer one.
    document["updated"] = _stamp(_after(from_wire(found.get("updated")) if found else None,
                                        now))
    document = await prove(tx, urls, part.chapter_id, document)
    await store.replace_document(tx, decision.iri, document)
    update = activities.create(urls, part.handle, document, kind="Update")
    activity_id = await insert_activity(tx, update["id"], part.chapter_id, "Update", True,
                                        update, now)
    await queue_fanout(tx, activity_id, part.chapter_id)
    await relay.item_published(tx, urls, part.chapter_id, document)
    log.info("decision result", decision=decision.iri, voters=result.voters,
             eligible=result.eligible, final=final)
    return final, None


async def _marked_late(
    tx: Tx, decision: Decision, part: Part, published: dict[str, Any]
) -> dict[str, Any]:
    """The final result as published, with each chapter whose tally came after the grace
    marked late."""
    late = {held.chapter_iri for held in await store.tallies(tx, decision.id, part.chapter_id)
            if held.late}
    document = {k: v for k, v in published.items() if k not in ("proof", "updated")}
    document["breakdown"] = [line | {"late": True} if line.get("chapter") in late else line
                             for line in published.get("breakdown", [])]
    return document


def _same(before: dict[str, Any], after: dict[str, Any]) -> bool:
    ignored = {"proof", "updated"}
    return {k: v for k, v in before.items() if k not in ignored} == {
        k: v for k, v in after.items() if k not in ignored}


async def process(
    db: Database, urls: Urls, decision_id: int, chapter_id: int, settings: TallySettings,
) -> None:
    """Do what is due for one chapter's part in one decision, in one transaction."""
    now = utcnow()
    async with db.transaction() as tx:
        part = await store.part(tx, decision_id, chapter_id)
        decision = await store.by_id(tx, decision_id)
        if part is None or decision is None or part.due_at is None:
            return
        seen = part.due_at
        final_result, held_back = False, None
        if part.in_scope:
            await make_own_tally(tx, urls, decision, part, now)
            if part.parent_iri is None:
                final_result, held_back = await _publish_result(tx, urls, decision, part, now,
                                                                settings)
            else:
                await _pass_up(tx, urls, decision, part, now, settings)
            if decision.closed_at is not None and part.final_sent_at is None:
                await store.set_final_sent(tx, decision.id, chapter_id, now)
        await store.clear_due(tx, decision_id, chapter_id, seen)
        if part.in_scope and part.parent_iri is None and decision.closed_at is not None \
                and not final_result:
            # Counted again when the grace is over, if nothing came before.
            await store.mark_due(tx, decision_id, chapter_id,
                                 max(decision.closes_at + settings.grace, now))
        if held_back is not None:
            await store.mark_due(tx, decision_id, chapter_id, held_back)


async def close_due(db: Database, now: datetime | None = None) -> int:
    """Close every decision whose time is up: each chapter of this node in it makes its
    final tally at once."""
    now = now or utcnow()
    closed = 0
    for decision in await store.due_to_close(db, now):
        try:
            async with db.transaction() as tx:
                if not await store.set_closed(tx, decision.id, decision.closes_at):
                    continue
                for part in await store.parts(tx, decision.id):
                    if part.in_scope:
                        await store.mark_due(tx, decision.id, part.chapter_id, utcnow())
        except asyncio.CancelledError:
            raise
        except Exception:
            # One decision that cannot close must not keep the others from closing.
            log.exception("closing a decision failed", decision=decision.iri)
            continue
        closed += 1
        log.info("decision closed", decision=decision.iri)
    return closed


class TallyWorker:
    """Closes decisions on time and makes due tallies, for as long as the node runs."""

    RETRY = timedelta(seconds=30)
    LONGEST_SLEEP = 1.0

    def __init__(self, db: Database, urls: Urls, settings: TallySettings,
                 on_queued: Any = lambda: None) -> None:
        self.db, self.urls, self.settings, self.on_queued = db, urls, settings, on_queued
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run_once(self) -> int:
        """Close what is due and do every due part once; how many parts were done."""
        done = 0
        if await close_due(self.db):
            done += 1
        for decision_id, chapter_id in await store.due_parts(self.db, utcnow()):
            try:
                await process(self.db, self.urls, decision_id, chapter_id, self.settings)
                done += 1
                # At a close a node's chapters make their finals one after another: each
                # goes up while the next is made, not once all of them are.
                self.on_queued()
            except asyncio.CancelledError:
                raise
            except Exception:
                # One decision's failure must not stop the others: logged, tried later.
                log.exception("tally failed", decision=decision_id, chapter=chapter_id)
                async with self.db.transaction() as tx:
                    await store.postpone(tx, decision_id, chapter_id, utcnow() + self.RETRY)
        if done:
            self.on_queued()
        return done

    async def run(self) -> None:
        while True:
            self._wake.clear()
            await self.run_once()
            wait = self.LONGEST_SLEEP
            for moment in (await store.next_due(self.db), await store.next_closing(self.db)):
                if moment is not None:
                    wait = min(wait, max((moment - utcnow()).total_seconds(), 0.0))
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=wait)
