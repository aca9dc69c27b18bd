"""Decisions this node takes part in, its chapters' parts in them, ballots and tallies.

Ballots never leave this node: what goes up the hierarchy is each chapter's tally, signed
(hierarchy/tallies.py). A local chapter holds the newest tally of every chapter at or
below it, its own included, and passes up what it has not passed up yet.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.database import Reader, Row, Tx, utcnow
from storage.timestamps import at, parse


@dataclass(frozen=True)
class Decision:
    id: int
    iri: str
    deciding_iri: str
    deciding_id: int | None  # the deciding chapter, when it is one of this node's
    question: str
    description: str
    options: list[str]
    multiple: bool
    count_method: str  # 'ballots' or 'members'
    language: str | None
    opened_at: datetime
    closes_at: datetime
    closed_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True)
class Part:
    """A local chapter's part in a decision."""

    decision_id: int
    chapter_id: int
    handle: str
    chapter_name: str
    parent_iri: str | None  # where its tallies go; None for the deciding chapter
    in_scope: bool  # False: it joined its parent after the opening, and has no say
    subchapters: list[str]  # chapters below it that were in the scope at the opening
    due_at: datetime | None
    final_sent_at: datetime | None


@dataclass(frozen=True)
class StoredTally:
    chapter_iri: str
    document: dict[str, Any]
    published: datetime
    final: bool
    late: bool
    received_at: datetime
    forwarded: bool


_DECISION_COLUMNS = (
    "d.id, d.iri, d.deciding_iri, d.deciding_id, d.question, d.description, d.options,"
    " d.multiple, d.count_method, d.language, d.opened_at, d.closes_at, d.closed_at")
_DECISION = f"SELECT {_DECISION_COLUMNS} FROM decisions d"


def _decision(row: Row | tuple[Any, ...]) -> Decision:
    return Decision(
        id=int(row[0]), iri=row[1], deciding_iri=row[2],
        deciding_id=None if row[3] is None else int(row[3]), question=row[4],
        description=row[5], options=list(json.loads(row[6])), multiple=bool(row[7]),
        count_method=row[8], language=row[9], opened_at=at(row[10]),
        closes_at=at(row[11]), closed_at=parse(row[12]))


async def insert(
    tx: Tx, iri: str, deciding_iri: str, deciding_id: int | None, question: str,
    description: str, options: list[str], multiple: bool, count_method: str,
    language: str | None, opened_at: datetime, closes_at: datetime,
) -> int:
    """The decision's row, added once (a second copy of it reaching the node is the same
    decision: the first one's row is kept)."""
    await tx.execute(
        "INSERT INTO decisions (iri, deciding_iri, deciding_id, question, description,"
        " options, multiple, count_method, language, opened_at, closes_at, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (iri) DO NOTHING",
        (iri, deciding_iri, deciding_id, question, description,
         json.dumps(options, ensure_ascii=False), multiple, count_method, language,
         opened_at, closes_at, utcnow()))
    return int(await tx.fetchvalue("SELECT id FROM decisions WHERE iri = ?", (iri,)))


async def by_iri(db: Reader, iri: str) -> Decision | None:
    row = await db.fetchone(f"{_DECISION} WHERE iri = ?", (iri,))
    return None if row is None else _decision(row)


async def by_id(db: Reader, decision_id: int) -> Decision | None:
    row = await db.fetchone(f"{_DECISION} WHERE id = ?", (decision_id,))
    return None if row is None else _decision(row)


async def set_closed(tx: Tx, decision_id: int, when: datetime) -> bool:
    changed = await tx.execute(
        "UPDATE decisions SET closed_at = ? WHERE id = ? AND closed_at IS NULL",
        (when, decision_id))
    return changed == 1


async def due_to_close(db: Reader, now: datetime) -> list[Decision]:
    rows = await db.fetchall(
        f"{_DECISION} WHERE closed_at IS NULL AND closes_at <= ? ORDER BY closes_at", (now,))
    return [_decision(row) for row in rows]


async def next_closing(db: Reader) -> datetime | None:
    return parse(await db.fetchvalue(
        "SELECT min(closes_at) FROM decisions WHERE closed_at IS NULL"))


# A chapter's part.

_PART_COLUMNS = (
    "p.decision_id, p.chapter_id, a.handle, a.name, p.parent_iri, p.in_scope,"
    " p.subchapters, p.due_at, p.final_sent_at")
_PART = (f"SELECT {_PART_COLUMNS}"
         " FROM decision_chapters p JOIN actors a ON a.id = p.chapter_id")


def _part(row: Row | tuple[Any, ...]) -> Part:
    return Part(decision_id=int(row[0]), chapter_id=int(row[1]), handle=row[2],
                chapter_name=row[3], parent_iri=row[4], in_scope=bool(row[5]),
                subchapters=list(json.loads(row[6])), due_at=parse(row[7]),
                final_sent_at=parse(row[8]))


async def add_part(
    tx: Tx, decision_id: int, chapter_id: int, parent_iri: str | None, in_scope: bool,
    subchapters: list[str], due_at: datetime | None,
) -> bool:
    """A local chapter takes part; False if it already did (the decision reached it twice)."""
    changed = await tx.execute(
        "INSERT INTO decision_chapters (decision_id, chapter_id, parent_iri, in_scope,"
        " subchapters, due_at) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (decision_id, chapter_id) DO NOTHING",
        (decision_id, chapter_id, parent_iri, in_scope, json.dumps(subchapters), due_at))
    return changed == 1


async def part(db: Reader, decision_id: int, chapter_id: int) -> Part | None:
    row = await db.fetchone(f"{_PART} WHERE p.decision_id = ? AND p.chapter_id = ?",
                            (decision_id, chapter_id))
    return None if row is None else _part(row)


async def parts(db: Reader, decision_id: int) -> list[Part]:
    rows = await db.fetchall(f"{_PART} WHERE p.decision_id = ? ORDER BY a.name, a.id",
                             (decision_id,))
    return [_part(row) for row in rows]


async def decisions_of_chapter(
    db: Reader, chapter_id: int, limit: int = 100
) -> list[tuple[Decision, Part]]:
    """The decisions a chapter takes part in (or was shown, out of scope): open ones first,
    closing soonest, then closed ones, newest first."""
    # One query for both: the chapter page shows them on every visit.
    rows = await db.fetchall(
        f"SELECT {_DECISION_COLUMNS}, {_PART_COLUMNS} FROM decisions d"
        " JOIN decision_chapters p ON p.decision_id = d.id"
        " JOIN actors a ON a.id = p.chapter_id WHERE p.chapter_id = ?"
        " ORDER BY CASE WHEN d.closed_at IS NULL THEN 0 ELSE 1 END,"
        " CASE WHEN d.closed_at IS NULL THEN d.closes_at END,"
        " d.closes_at DESC, d.id DESC LIMIT ?", (chapter_id, limit))
    width = _DECISION_COLUMNS.count(",") + 1
    return [(_decision(tuple(row)[:width]), _part(tuple(row)[width:])) for row in rows]


async def mark_due(tx: Tx, decision_id: int, chapter_id: int, when: datetime) -> None:
    """The chapter's tally is to be sent (again) at `when`, or earlier if it already was:
    ballots cast meanwhile ride on the one tally (debounce)."""
    await tx.execute(
        "UPDATE decision_chapters SET due_at = CASE WHEN due_at IS NULL OR due_at > ?"
        " THEN ? ELSE due_at END WHERE decision_id = ? AND chapter_id = ?",
        (when, when, decision_id, chapter_id))
    tx.notify(TALLY_CHANNEL)


TALLY_CHANNEL = "chapterhouse_tallies"


async def due_parts(db: Reader, now: datetime, limit: int = 200) -> list[tuple[int, int]]:
    rows = await db.fetchall(
        "SELECT decision_id, chapter_id FROM decision_chapters"
        " WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at LIMIT ?", (now, limit))
    return [(int(r[0]), int(r[1])) for r in rows]


async def next_due(db: Reader) -> datetime | None:
    return parse(await db.fetchvalue(
        "SELECT min(due_at) FROM decision_chapters WHERE due_at IS NOT NULL"))


async def clear_due(tx: Tx, decision_id: int, chapter_id: int, seen: datetime) -> None:
    """Done with what was due at `seen`; a ballot cast while the tally was made moved it
    later and stays due."""
    await tx.execute(
        "UPDATE decision_chapters SET due_at = NULL"
        " WHERE decision_id = ? AND chapter_id = ? AND due_at <= ?",
        (decision_id, chapter_id, seen))


async def set_final_sent(tx: Tx, decision_id: int, chapter_id: int, when: datetime) -> None:
    await tx.execute(
        "UPDATE decision_chapters SET final_sent_at = ? WHERE decision_id = ? AND chapter_id = ?",
        (when, decision_id, chapter_id))


# Scope at a moment.

async def subchapters_at(db: Reader, chapter_id: int, moment: datetime) -> list[str]:
    """The chapters that were accepted below a local chapter at `moment` and still are."""
    rows = await db.fetchall(
        "SELECT child_iri FROM subchapters WHERE chapter_id = ? AND state = 'accepted'"
        " AND decided_at <= ? ORDER BY child_iri", (chapter_id, moment))
    return [str(r[0]) for r in rows]


async def add_invite(tx: Tx, decision_iri: str, chapter_id: int, parent_iri: str) -> bool:
    """The parent's word that the chapter was below it at the opening; True if new."""
    changed = await tx.execute(
        "INSERT INTO decision_invites (decision_iri, chapter_id, parent_iri, received_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (decision_iri, chapter_id) DO NOTHING",
        (decision_iri, chapter_id, parent_iri, utcnow()))
    return changed == 1


async def invited_by(db: Reader, decision_iri: str, chapter_id: int) -> str | None:
    """The parent that said the chapter has a say in the decision, if one did."""
    found = await db.fetchvalue(
        "SELECT parent_iri FROM decision_invites WHERE decision_iri = ? AND chapter_id = ?",
        (decision_iri, chapter_id))
    return None if found is None else str(found)


async def give_say(
    tx: Tx, decision_id: int, chapter_id: int, parent_iri: str, subchapters: list[str],
    due_at: datetime,
) -> bool:
    """A chapter that took part without a say gets one (its parent's word came after the
    decision); True if it changed."""
    changed = await tx.execute(
        "UPDATE decision_chapters SET in_scope = ?, parent_iri = ?, subchapters = ?,"
        " due_at = ? WHERE decision_id = ? AND chapter_id = ? AND NOT in_scope",
        (True, parent_iri, json.dumps(subchapters), due_at, decision_id, chapter_id))
    return changed == 1


# Ballots.

async def cast(
    tx: Tx, decision_id: int, member_id: int, chapter_id: int, choices: list[str],
    entered_by: int | None,
) -> bool:
    """The member's ballot, replacing the one they cast before; True if it is their first."""
    before = await tx.fetchvalue(
        "SELECT 1 FROM ballots WHERE decision_id = ? AND member_id = ?",
        (decision_id, member_id))
    await tx.execute(
        "INSERT INTO ballots (decision_id, member_id, chapter_id, choices, cast_at, entered_by)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (decision_id, member_id) DO UPDATE SET"
        " chapter_id = excluded.chapter_id, choices = excluded.choices,"
        " cast_at = excluded.cast_at, entered_by = excluded.entered_by",
        (decision_id, member_id, chapter_id, json.dumps(choices, ensure_ascii=False),
         utcnow(), entered_by))
    return before is None


@dataclass(frozen=True)
class Ballot:
    choices: list[str]
    chapter_id: int
    cast_at: datetime
    entered_by: str | None  # the handle of the organiser who entered a paper ballot


async def ballot(db: Reader, decision_id: int, member_id: int) -> Ballot | None:
    row = await db.fetchone(
        "SELECT b.choices, b.chapter_id, b.cast_at, e.handle FROM ballots b"
        " LEFT JOIN actors e ON e.id = b.entered_by"
        " WHERE b.decision_id = ? AND b.member_id = ?", (decision_id, member_id))
    return None if row is None else Ballot(list(json.loads(row[0])), int(row[1]), at(row[2]),
                                           row[3])


async def own_count(
    db: Reader, decision_id: int, chapter_id: int
) -> tuple[dict[str, int], int, int]:
    """(ballots per option, voters, eligible members) of one chapter's own members: a
    ballot counts while its member still belongs to the chapter it was cast in."""
    rows = await db.fetchall(
        "SELECT b.choices FROM ballots b JOIN memberships m"
        " ON m.member_id = b.member_id AND m.chapter_id = b.chapter_id"
        " WHERE b.decision_id = ? AND b.chapter_id = ?", (decision_id, chapter_id))
    counts: Counter[str] = Counter()
    for row in rows:
        counts.update(set(json.loads(row[0])))
    eligible = await db.fetchvalue(
        "SELECT count(*) FROM memberships WHERE chapter_id = ?", (chapter_id,))
    return dict(counts), len(rows), int(eligible or 0)


# Tallies.

async def keep_tally(
    tx: Tx, decision_id: int, holder_id: int, chapter_iri: str, document: dict[str, Any],
    published: datetime, final: bool, late: bool,
) -> bool:
    """Keep a chapter's tally unless the holder has a newer one (or this one): True if kept."""
    changed = await tx.execute(
        "INSERT INTO tallies (decision_id, holder_id, chapter_iri, document, published, final,"
        " late, received_at, forwarded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (decision_id, holder_id, chapter_iri) DO UPDATE SET"
        " document = excluded.document, published = excluded.published,"
        " final = excluded.final, late = excluded.late, received_at = excluded.received_at,"
        " forwarded = excluded.forwarded WHERE excluded.published > tallies.published",
        (decision_id, holder_id, chapter_iri, json.dumps(document, ensure_ascii=False),
         published, final, late, utcnow(), False))
    return changed == 1


def _tally(row: Row) -> StoredTally:
    return StoredTally(chapter_iri=row[0], document=json.loads(row[1]), published=at(row[2]),
                       final=bool(row[3]), late=bool(row[4]), received_at=at(row[5]),
                       forwarded=bool(row[6]))


_TALLY = ("SELECT chapter_iri, document, published, final, late, received_at, forwarded"
          " FROM tallies")


async def tallies(db: Reader, decision_id: int, holder_id: int) -> list[StoredTally]:
    rows = await db.fetchall(
        f"{_TALLY} WHERE decision_id = ? AND holder_id = ? ORDER BY chapter_iri",
        (decision_id, holder_id))
    return [_tally(row) for row in rows]


async def tally(
    db: Reader, decision_id: int, holder_id: int, chapter_iri: str
) -> StoredTally | None:
    row = await db.fetchone(
        f"{_TALLY} WHERE decision_id = ? AND holder_id = ? AND chapter_iri = ?",
        (decision_id, holder_id, chapter_iri))
    return None if row is None else _tally(row)


async def not_forwarded(tx: Tx, decision_id: int, holder_id: int) -> list[StoredTally]:
    rows = await tx.fetchall(
        f"{_TALLY} WHERE decision_id = ? AND holder_id = ? AND NOT forwarded"
        " ORDER BY chapter_iri", (decision_id, holder_id))
    return [_tally(row) for row in rows]


async def set_forwarded(
    tx: Tx, decision_id: int, holder_id: int, sent: list[StoredTally]
) -> None:
    """What was passed up is marked so, unless a newer tally replaced it meanwhile."""
    for stored in sent:
        await tx.execute(
            "UPDATE tallies SET forwarded = ? WHERE decision_id = ? AND holder_id = ?"
            " AND chapter_iri = ? AND published = ?",
            (True, decision_id, holder_id, stored.chapter_iri, stored.published))


async def member_chapters(db: Reader, member_id: int) -> list[int]:
    rows = await db.fetchall(
        "SELECT chapter_id FROM memberships WHERE member_id = ? ORDER BY joined_at, chapter_id",
        (member_id,))
    return [int(r[0]) for r in rows]


async def postpone(tx: Tx, decision_id: int, chapter_id: int, when: datetime) -> None:
    """Try the chapter's tally again at `when` (after a failure), whatever was due."""
    await tx.execute(
        "UPDATE decision_chapters SET due_at = ? WHERE decision_id = ? AND chapter_id = ?",
        (when, decision_id, chapter_id))


async def replace_document(tx: Tx, iri: str, document: dict[str, Any]) -> None:
    """The deciding chapter's new version of the decision (new totals, closed)."""
    await tx.execute("UPDATE objects SET document = ? WHERE iri = ?",
                     (json.dumps(document, ensure_ascii=False), iri))


async def organises(db: Reader, member_id: int, chapter_id: int) -> bool:
    return await db.fetchvalue(
        "SELECT 1 FROM organisers WHERE member_id = ? AND chapter_id = ?",
        (member_id, chapter_id)) is not None


async def local_document(db: Reader, iri: str) -> dict[str, Any] | None:
    found = await db.fetchvalue("SELECT document FROM objects WHERE iri = ?", (iri,))
    return None if found is None else dict(json.loads(found))


async def remote_document(db: Reader, iri: str) -> dict[str, Any] | None:
    """The newest version of a decision from elsewhere, as it reached this node."""
    found = await db.fetchvalue(
        "SELECT document FROM remote_objects WHERE iri = ? AND deleted_at IS NULL", (iri,))
    return None if found is None else dict(json.loads(found))


async def still_open(tx: Tx, decision_id: int, now: datetime) -> bool:
    """Whether the decision takes ballots, read in the transaction that writes one."""
    return await tx.fetchvalue(
        "SELECT 1 FROM decisions WHERE id = ? AND closed_at IS NULL AND closes_at > ?",
        (decision_id, now)) is not None
