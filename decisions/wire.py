"""A decision on the wire: a `Question` as Mastodon reads it, with our terms beside.

Mastodon (and any poll-reading peer) sees the question, its options with their ballots
(`replies.totalItems`), `votersCount` and `endTime`. Chapterhouse nodes read the rest:
`countMethod` ('ballots' or 'members'), `electorateSize` (the eligible members of every
chapter counted), `scope` (those chapters), the share of each option by the weighted
count (`weightedVotes`), and the `breakdown`, one line per chapter.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from federation.languages import WRITTEN, maps
from federation.sanitize import clean_text
from federation.urls import Urls, http_url
from federation.vocab import AS_CONTEXT, DECISION_TERMS, PUBLIC
from hierarchy.tallies import MAX_COUNT, METHODS, ChapterLine, Counted, Result, Tally, count
from outbox.items import CONTENT_TERMS, MAX_OPTION, MAX_OPTIONS, body_html
from storage.decisions import Decision
from storage.timestamps import from_wire, iso

DECISION_CONTEXT: list[Any] = [AS_CONTEXT, {**CONTENT_TERMS, **DECISION_TERMS}]
MAX_QUESTION = 500
LONGEST = timedelta(days=367)


def _iso(moment: datetime) -> str:
    return iso(moment) or ""


def question_document(
    urls: Urls, decision: Decision, handle: str, result: Result | None,
    result_final: bool = False,
) -> dict[str, Any]:
    """The decision as its deciding chapter publishes it, with the result so far."""
    by_name = {line.name: line for line in result.options} if result else {}
    options = [{
        "type": "Note", "name": option,
        "replies": {"type": "Collection",
                    "totalItems": by_name[option].ballots if option in by_name else 0},
        "weightedVotes": by_name[option].weighted if option in by_name else 0,
    } for option in decision.options]
    content = f"<p>{clean_text(decision.question)}</p>{body_html(decision.description)}"
    document: dict[str, Any] = {
        "@context": DECISION_CONTEXT,
        "id": decision.iri,
        "type": "Question",
        "attributedTo": urls.actor(handle),
        "url": decision.iri,
        "published": _iso(decision.opened_at),
        "to": [PUBLIC],
        "cc": [urls.collection(handle, "followers")],
        "name": decision.question,
        "content": content,
        "mediaType": "text/html",
        "endTime": _iso(decision.closes_at),
        "anyOf" if decision.multiple else "oneOf": options,
        "votersCount": result.voters if result else 0,
        "countMethod": decision.count_method,
        "electorateSize": result.eligible if result else 0,
        "scope": [line.chapter for line in result.chapters] if result else [],
        "breakdown": [_line(line) for line in result.chapters] if result else [],
        "resultFinal": result_final,
        "tag": [{"type": "Hashtag", "name": "#decision"}],
    }
    document |= maps(decision.language, content=content, name=decision.question)
    if decision.closed_at is not None:
        document["closed"] = _iso(decision.closed_at)
    return document


def _line(line: ChapterLine) -> dict[str, Any]:
    return {
        "chapter": line.chapter,
        "name": line.name,
        "eligible": line.eligible,
        "voters": line.voters,
        "ballots": [{"name": name, "totalItems": total} for name, total in line.ballots.items()],
        "final": line.final,
        "late": line.late,
        "updated": _iso(line.last_heard),
    }


@dataclass(frozen=True)
class Announced:
    """What a node reads from a decision's `Question` that reached one of its chapters."""

    iri: str
    deciding: str
    question: str
    description: str
    options: list[str]
    multiple: bool
    count_method: str
    language: str | None
    opened_at: datetime
    closes_at: datetime


def is_decision(document: dict[str, Any]) -> bool:
    return document.get("type") == "Question" and document.get("countMethod") in METHODS


def read_question(document: dict[str, Any]) -> Announced | None:
    """The decision a Question describes, or None if it is not one we can take part in
    (a plain poll, or one whose options or times are unreadable)."""
    if not is_decision(document):
        return None
    iri, deciding = document.get("id"), document.get("attributedTo")
    if not isinstance(iri, str) or not http_url(iri) or not isinstance(deciding, str):
        return None
    multiple = "anyOf" in document
    raw = document.get("anyOf" if multiple else "oneOf")
    if not isinstance(raw, list) or not 2 <= len(raw) <= MAX_OPTIONS:
        return None
    options = [entry.get("name") for entry in raw if isinstance(entry, dict)]
    if len(options) != len(raw) or not all(
            isinstance(o, str) and 0 < len(o) <= MAX_OPTION for o in options) \
            or len(set(options)) != len(options):
        return None
    opened_at, closes_at = from_wire(document.get("published")), from_wire(
        document.get("endTime"))
    # As a decision opened here: it closes after it opens, within a year (and a day).
    if opened_at is None or closes_at is None or not \
            opened_at < closes_at <= opened_at + LONGEST:
        return None
    name = document.get("name")
    language = None
    content_map = document.get("contentMap")
    if isinstance(content_map, dict) and len(content_map) == 1:
        tag = next(iter(content_map))
        language = tag if WRITTEN.fullmatch(tag) else None
    return Announced(
        iri=iri, deciding=deciding,
        # Plain text, as a decision opened here keeps it (pages escape it when shown).
        question=html.unescape(clean_text(name, MAX_QUESTION)) if isinstance(name, str)
        and name.strip() else iri,
        description="", options=[str(o) for o in options], multiple=multiple,
        count_method=str(document["countMethod"]), language=language,
        opened_at=opened_at, closes_at=closes_at)


def _number(value: object) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT
    return value if ok else None  # type: ignore[return-value]


def result_from_breakdown(decision: Decision, document: dict[str, Any]) -> Result:
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
