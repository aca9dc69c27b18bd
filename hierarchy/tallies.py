"""Tallies: what a chapter tells its parent about a decision, and how they add up.

Each chapter counts its own members' ballots and signs the count (FEP-8b32,
eddsa-jcs-2022): a `Tally` names the decision, the chapter's eligible members, how many
voted, the ballots per option, and the subchapters that were below it when the decision
opened. A level passes up its own tally with the newest tally of every chapter below it,
each still signed by its own chapter, so the deciding chapter can check every one of
them against its chapter's key without trusting the levels in between with the numbers.

The deciding chapter adds them up two ways, shown side by side:
- `ballots`: one member, one vote; an option's total is the sum of its ballots.
- `members`: each chapter's result weighted by its eligible members, so that a chapter's
  say is proportional to its size whatever its turnout: an option gets
  eligible × (its ballots / voters) from each chapter where anyone voted.

Everything here is pure: no storage, no network.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chapterhouse.reasons import reason
from federation.urls import http_url
from storage.timestamps import from_wire

METHODS = ("ballots", "members")
TALLY = "Tally"
# More members than any chapter has: a count above it is a mistake or a lie.
MAX_COUNT = 10_000_000


class BadTally(ValueError):
    """A tally that cannot count; args[0] is the Reason."""


@dataclass(frozen=True)
class Tally:
    """One chapter's own count, as it signed it."""

    id: str
    chapter: str
    decision: str
    published: datetime
    final: bool
    eligible: int
    voters: int
    ballots: dict[str, int]
    subchapters: list[str]


def tally_document(
    tally_id: str, chapter: str, decision: str, published: str, final: bool, eligible: int,
    voters: int, ballots: Mapping[str, int], options: list[str], subchapters: list[str],
    context: list[Any],
) -> dict[str, Any]:
    """A chapter's tally, to be signed by the chapter (outbox/proving.py)."""
    return {
        "@context": context,
        "id": tally_id,
        "type": TALLY,
        "attributedTo": chapter,
        "object": decision,
        "published": published,
        "final": final,
        "eligible": eligible,
        "voters": voters,
        "ballots": [{"type": "Note", "name": option,
                     "replies": {"type": "Collection", "totalItems": ballots.get(option, 0)}}
                    for option in options],
        "subchapters": list(subchapters),
    }


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise BadTally(reason("tally.count", "%(name)s must be a whole number from 0 to "
                              "%(max)d", name=name, max=MAX_COUNT))
    return value


def _id(value: object) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and http_url(value) else None


def read_tally(
    document: Mapping[str, Any], decision: str, options: list[str], multiple: bool
) -> Tally:
    """The tally a document holds, checked against the decision it is for: BadTally says
    why it cannot count. (Its proof is checked before, by whoever received it.)"""
    if document.get("type") != TALLY:
        raise BadTally(reason("tally.type", "not a Tally"))
    tally_id, chapter = _id(document.get("id")), _id(document.get("attributedTo"))
    if tally_id is None or chapter is None:
        raise BadTally(reason("tally.ids", "a tally needs an http(s) id and attributedTo"))
    if _id(document.get("object")) != decision:
        raise BadTally(reason("tally.decision", "the tally is for another decision"))
    published = from_wire(document.get("published"))
    if published is None:
        raise BadTally(reason("tally.published", "a tally needs its published time"))
    final = document.get("final", False)
    if not isinstance(final, bool):
        raise BadTally(reason("tally.final", "final must be true or false"))
    eligible = _count(document.get("eligible"), "eligible")
    voters = _count(document.get("voters"), "voters")
    if voters > eligible:
        raise BadTally(reason("tally.voters", "%(voters)d voters but only %(eligible)d "
                              "eligible members", voters=voters, eligible=eligible))
    raw = document.get("ballots")
    if not isinstance(raw, list) or len(raw) > len(options):
        raise BadTally(reason("tally.ballots", "ballots must list the decision's options"))
    ballots: dict[str, int] = {}
    for entry in raw:
        name = entry.get("name") if isinstance(entry, dict) else None
        replies = entry.get("replies") if isinstance(entry, dict) else None
        if name not in options or name in ballots or not isinstance(replies, dict):
            raise BadTally(reason("tally.option", "the ballots name an option the decision "
                                  "does not have, or one twice"))
        ballots[str(name)] = _count(replies.get("totalItems"), "totalItems")
        if ballots[str(name)] > voters:
            raise BadTally(reason("tally.option_voters", "an option has more ballots than "
                                  "there were voters"))
    if not multiple and sum(ballots.values()) > voters:
        raise BadTally(reason("tally.one_choice", "more ballots than voters in a decision "
                              "of one choice"))
    subchapters = document.get("subchapters", [])
    if not isinstance(subchapters, list) or len(subchapters) > 10_000:
        raise BadTally(reason("tally.subchapters", "subchapters must be a list of ids"))
    below = [_id(entry) for entry in subchapters]
    if any(iri is None for iri in below):
        raise BadTally(reason("tally.subchapters", "subchapters must be a list of ids"))
    return Tally(id=tally_id, chapter=chapter, decision=decision, published=published,
                 final=final, eligible=eligible, voters=voters, ballots=ballots,
                 subchapters=[iri for iri in below if iri])


def in_scope(top_subchapters: Iterable[str], tallies: Mapping[str, Tally]) -> set[str]:
    """The chapters below a holder that the scope at the opening reaches: its own
    subchapters then, and theirs as each one's tally says, level by level."""
    reached: set[str] = set()
    waiting = list(top_subchapters)
    while waiting:
        chapter = waiting.pop()
        if chapter in reached:
            continue
        reached.add(chapter)
        below = tallies.get(chapter)
        if below is not None:
            waiting.extend(below.subchapters)
    return reached


@dataclass(frozen=True)
class Counted:
    """A chapter's tally as the deciding chapter counts it."""

    tally: Tally
    name: str
    late: bool = False  # it came after the close and the grace period


@dataclass(frozen=True)
class ChapterLine:
    chapter: str
    name: str
    eligible: int
    voters: int
    ballots: dict[str, int]
    turnout: float  # voters / eligible
    say: float  # its eligible members' part of the electorate: its say by `members`
    final: bool
    late: bool
    last_heard: datetime


@dataclass(frozen=True)
class OptionLine:
    name: str
    ballots: int
    ballot_share: float
    weighted: float
    weighted_share: float


@dataclass(frozen=True)
class Result:
    method: str
    options: list[OptionLine]
    chapters: list[ChapterLine]
    eligible: int
    voters: int
    missing_final: list[str] = field(default_factory=list)  # chapters, by name

    @property
    def turnout(self) -> float:
        return self.voters / self.eligible if self.eligible else 0.0

    def share(self, option: OptionLine, method: str | None = None) -> float:
        return option.weighted_share if (method or self.method) == "members" \
            else option.ballot_share

    def leading(self, method: str | None = None) -> list[str]:
        """The option or options with the largest share by a method (the decision's own
        by default); none while nobody voted."""
        shares = {option.name: self.share(option, method) for option in self.options}
        best = max(shares.values(), default=0.0)
        return [] if best <= 0 else [name for name, share in shares.items() if share == best]


def count(options: list[str], method: str, counted: Iterable[Counted]) -> Result:
    """Add up the chapters' tallies both ways; `method` says which one decides."""
    lines = sorted(counted, key=lambda c: (c.name.casefold(), c.tally.chapter))
    eligible = sum(c.tally.eligible for c in lines)
    ballots = {option: sum(c.tally.ballots.get(option, 0) for c in lines) for option in options}
    weighted = {option: sum(c.tally.eligible * c.tally.ballots.get(option, 0) / c.tally.voters
                            for c in lines if c.tally.voters)
                for option in options}
    all_ballots, all_weighted = sum(ballots.values()), sum(weighted.values())
    return Result(
        method=method,
        options=[OptionLine(
            name=option, ballots=ballots[option],
            ballot_share=ballots[option] / all_ballots if all_ballots else 0.0,
            weighted=round(weighted[option], 3),
            weighted_share=weighted[option] / all_weighted if all_weighted else 0.0)
            for option in options],
        chapters=[ChapterLine(
            chapter=c.tally.chapter, name=c.name, eligible=c.tally.eligible,
            voters=c.tally.voters, ballots=dict(c.tally.ballots),
            turnout=c.tally.voters / c.tally.eligible if c.tally.eligible else 0.0,
            say=c.tally.eligible / eligible if eligible else 0.0, final=c.tally.final,
            late=c.late, last_heard=c.tally.published) for c in lines],
        eligible=eligible,
        voters=sum(c.tally.voters for c in lines),
        missing_final=[c.name for c in lines if not c.tally.final],
    )
