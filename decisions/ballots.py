"""A member's ballot: cast on the web by the member, or entered from paper by an organiser
of the member's chapter; one path for both, so the same rules hold.

A member votes in the chapter of theirs that has a say (the first they joined, should
two of them be in the scope); once per decision, and may change it until the close. The
ballot stays on this node: only the chapter's tally leaves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import structlog

from chapterhouse.reasons import Reason, reason
from outbox.publish import PublishError
from storage import actors as actor_store
from storage import decisions as store
from storage.database import Database, Reader
from storage.decisions import Decision, Part
from storage.timestamps import iso, utcnow

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Cast:
    decision: Decision
    chapter: str  # the handle of the chapter the ballot counts in
    first: bool  # False: it replaced the member's earlier ballot


def unknown(iri: str) -> Reason:
    return reason("decision.unknown", "there is no decision %(iri)s on this node", iri=iri)


async def voting_part(
    db: Reader, decision: Decision, member_id: int
) -> tuple[Part | None, Reason | None]:
    """The member's chapter that has a say in the decision, or why they have none."""
    chapters = await store.member_chapters(db, member_id)
    out_of_scope: Part | None = None
    for chapter_id in chapters:
        found = await store.part(db, decision.id, chapter_id)
        if found is not None and found.in_scope:
            return found, None
        out_of_scope = out_of_scope or found
    if out_of_scope is not None:
        return None, reason(
            "decision.joined_later", "%(chapter)s joined its parent after this decision "
            "opened, so its members have no say in it", chapter=out_of_scope.chapter_name)
    return None, reason(
        "decision.not_electorate", "only members of the chapters this decision was put to "
        "can vote in it, each on their own chapter's node")


def _checked_choices(decision: Decision, choices: list[str]) -> list[str]:
    chosen = list(dict.fromkeys(choice.strip() for choice in choices if choice.strip()))
    if not chosen:
        raise PublishError(reason("ballot.empty", "choose an option"))
    unknown_options = [choice for choice in chosen if choice not in decision.options]
    if unknown_options:
        raise PublishError(reason("ballot.option", "%(option)r is not an option of this "
                                  "decision", option=unknown_options[0][:200]))
    if not decision.multiple and len(chosen) > 1:
        raise PublishError(reason("ballot.one", "this decision takes one option"))
    return chosen


async def cast_ballot(
    db: Database, decision_iri: str, member_handle: str, choices: list[str],
    debounce: timedelta, entered_by: str | None = None,
) -> Cast:
    """Record the member's ballot (`entered_by`: the organiser entering a paper ballot);
    PublishError says why it cannot count."""
    decision = await store.by_iri(db, decision_iri)
    if decision is None:
        raise PublishError(unknown(decision_iri))
    member = await actor_store.actor_by_handle(db, member_handle)
    if member is None or member.kind != "member":
        raise PublishError(reason("ballot.no_member", "there is no member %(handle)r on this "
                                  "node", handle=member_handle))
    if decision.closed_at is not None or decision.closes_at <= utcnow():
        raise PublishError(reason("ballot.closed", "this decision closed at %(moment)s",
                                  moment=iso(decision.closes_at)))
    chosen = _checked_choices(decision, choices)
    part, refusal = await voting_part(db, decision, member.id)
    if part is None:
        raise PublishError(refusal or unknown(decision_iri))
    organiser_id = None
    if entered_by is not None:
        organiser_id = await _organiser(db, entered_by, part)
    async with db.transaction() as tx:
        # Read again where the ballot is written: the close may have come in between, and
        # a ballot after it would change a final tally.
        if not await store.still_open(tx, decision.id, utcnow()):
            raise PublishError(reason("ballot.closed", "this decision closed at %(moment)s",
                                      moment=iso(decision.closes_at)))
        first = await store.cast(tx, decision.id, member.id, part.chapter_id, chosen,
                                 organiser_id)
        await store.mark_due(tx, decision.id, part.chapter_id, utcnow() + debounce)
    log.info("ballot", decision=decision.iri, chapter=part.handle, first=first,
             entered_by=entered_by)
    return Cast(decision, part.handle, first)


async def _organiser(db: Reader, handle: str, part: Part) -> int:
    organiser = await actor_store.actor_by_handle(db, handle)
    if organiser is None or organiser.kind != "member" or not await store.organises(
            db, organiser.id, part.chapter_id):
        raise PublishError(reason("ballot.not_organiser", "%(handle)s does not organise "
                                  "%(chapter)s, so cannot enter its members' paper ballots",
                                  handle=handle, chapter=part.chapter_name))
    return organiser.id
