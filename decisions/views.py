"""A decision as a person reads it, on any node: the web page and `decide show` alike.

On the deciding chapter's node the result is counted from the tallies it holds, as they
are now. Elsewhere it is read from the newest version of the decision's `Question` that
reached the node, which carries the per-chapter breakdown; the shares are computed from
that breakdown the same way (hierarchy/tallies.py), so every node shows the same figures.
"""

from __future__ import annotations

from dataclasses import dataclass

from decisions.counting import TallySettings, result_of
from decisions.wire import result_from_breakdown
from federation.urls import Urls
from hierarchy.tallies import Result
from storage import decisions as store
from storage import hierarchy as hierarchy_store
from storage.database import Reader
from storage.decisions import Decision, Part
from storage.timestamps import utcnow


@dataclass(frozen=True)
class Standing:
    """A chapter of this node in a decision: its own members' count so far."""

    part: Part
    ballots: dict[str, int]
    voters: int
    eligible: int


@dataclass(frozen=True)
class DecisionView:
    decision: Decision
    deciding: str  # the deciding chapter's id
    deciding_name: str
    deciding_here: bool
    result: Result
    result_final: bool  # closed, and every final tally in (or the grace over)
    standings: list[Standing]  # this node's chapters that have a say


async def decision_view(
    db: Reader, urls: Urls, decision: Decision, settings: TallySettings | None = None,
) -> DecisionView:
    settings = settings or TallySettings()
    parts = await store.parts(db, decision.id)
    deciding_part = next((p for p in parts if p.parent_iri is None), None)
    published = await store.local_document(db, decision.iri) if deciding_part else None
    if published is not None and published.get("resultFinal") is True:
        # The final result as it was published: later (late) tallies change no total.
        result, final = result_from_breakdown(decision, published), True
    elif deciding_part is not None:
        result, silent = await result_of(db, urls, decision, deciding_part)
        closed = decision.closed_at is not None
        final = closed and ((not result.missing_final and not silent)
                            or utcnow() >= decision.closes_at + settings.grace)
        result = Result(result.method, result.options, result.chapters, result.eligible,
                        result.voters, result.missing_final + silent)
    else:
        document = await store.remote_document(db, decision.iri) or {}
        result = result_from_breakdown(decision, document)
        final = document.get("resultFinal") is True
    standings = []
    for part in parts:
        if part.in_scope:
            ballots, voters, eligible = await store.own_count(db, decision.id, part.chapter_id)
            standings.append(Standing(part, ballots, voters, eligible))
    name = (await hierarchy_store.chapter_ref(db, decision.deciding_iri, urls.actor(""))).name
    return DecisionView(decision=decision, deciding=decision.deciding_iri, deciding_name=name,
                        deciding_here=deciding_part is not None, result=result,
                        result_final=final, standings=standings)
