"""A decision as a person reads it, on any node: the web page and `decide show` alike.

On the deciding chapter's node the result is counted from the tallies it holds, as they
are now. Elsewhere it is read from the newest version of the decision's `Question` that
reached the node, which carries the per-chapter breakdown; the shares are computed from
that breakdown the same way (hierarchy/tallies.py), so every node shows the same figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from decisions.counting import TallySettings, result_of
from federation.urls import Urls
from hierarchy.tallies import MAX_COUNT, Counted, Result, Tally, count
from storage import decisions as store
from storage import hierarchy as hierarchy_store
from storage.database import Reader
from storage.decisions import Ballot, Decision, Part
from storage.timestamps import from_wire, utcnow


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
    if deciding_part is not None:
        result, silent = await result_of(db, urls, decision, deciding_part)
        closed = decision.closed_at is not None
        final = closed and ((not result.missing_final and not silent)
                            or utcnow() >= decision.closes_at + settings.grace)
        result = Result(result.method, result.options, result.chapters, result.eligible,
                        result.voters, result.missing_final + silent)
    else:
        document = await store.remote_document(db, decision.iri) or {}
        result = result_from_document(decision, document)
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


def _number(value: object) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT
    return value if ok else None  # type: ignore[return-value]


def result_from_document(decision: Decision, document: dict[str, Any]) -> Result:
    """The result a decision's Question carries, counted again from its breakdown (a line
    that does not add up is left out rather than trusted)."""
    counted: list[Counted] = []
    lines = document.get("breakdown")
    for line in lines if isinstance(lines, list) else []:
        if not isinstance(line, dict):
            continue
        chapter, name = line.get("chapter"), line.get("name")
        eligible, voters = _number(line.get("eligible")), _number(line.get("voters"))
        raw = line.get("ballots")
        if not isinstance(chapter, str) or eligible is None or voters is None \
                or voters > eligible or not isinstance(raw, list):
            continue
        ballots: dict[str, int] = {}
        for entry in raw:
            if isinstance(entry, dict) and entry.get("name") in decision.options:
                total = _number(entry.get("totalItems"))
                if total is not None and total <= voters:
                    ballots[str(entry["name"])] = total
        heard = from_wire(line.get("updated")) or decision.opened_at
        tally = Tally(id="", chapter=chapter, decision=decision.iri, published=heard,
                      final=line.get("final") is True, eligible=eligible, voters=voters,
                      ballots=ballots, subchapters=[])
        counted.append(Counted(tally, name if isinstance(name, str) else chapter,
                               line.get("late") is True))
    return count(decision.options, decision.count_method, counted)


async def your_ballot(db: Reader, decision: Decision, member_id: int) -> Ballot | None:
    return await store.ballot(db, decision.id, member_id)
