"""What members do with polls and events from the web: their votes and participations in
local items (poll_votes, event_participants, under the member's actor IRI), their votes in
remote polls and Joins of remote events (member_votes, member_event_joins), and the remote
objects a page shows them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.database import Reader, Row, Tx, utcnow
from storage.timestamps import parse

PENDING, GOING, REFUSED = "pending", "going", "refused"


@dataclass(frozen=True)
class ReceivedObject:
    """A remote object (a poll, an event, news) as a page shows or lists it."""

    id: int
    iri: str
    type: str
    attributed_to: str
    published: datetime | None
    document: dict[str, Any]
    author_name: str | None
    author_username: str | None
    author_host: str | None
    via: str | None
    via_name: str | None


@dataclass(frozen=True)
class EventJoin:
    member_id: int
    event_iri: str
    organiser: str
    state: str
    join_iri: str


_RECEIVED = (
    "SELECT o.id, o.iri, o.type, o.attributed_to, o.published, o.document, o.via,"
    " r.name AS author_name, r.username AS author_username, r.host AS author_host,"
    " v.name AS via_name"
    " FROM remote_objects o LEFT JOIN remote_actors r ON r.iri = o.attributed_to"
    " LEFT JOIN remote_actors v ON v.iri = o.via")


def _received(row: Row) -> ReceivedObject:
    return ReceivedObject(
        id=int(row["id"]), iri=row["iri"], type=row["type"],
        attributed_to=row["attributed_to"], published=parse(row["published"]),
        document=json.loads(row["document"] or "{}"), author_name=row["author_name"],
        author_username=row["author_username"], author_host=row["author_host"],
        via=row["via"], via_name=row["via_name"])


async def received(db: Reader, object_id: int) -> ReceivedObject | None:
    """A stored remote object that is not deleted, by its row id."""
    row = await db.fetchone(f"{_RECEIVED} WHERE o.id = ? AND o.deleted_at IS NULL",
                            (object_id,))
    return None if row is None else _received(row)


async def received_by_iri(db: Reader, iri: str) -> ReceivedObject | None:
    row = await db.fetchone(f"{_RECEIVED} WHERE o.iri = ? AND o.deleted_at IS NULL", (iri,))
    return None if row is None else _received(row)


async def received_for(
    db: Reader, actor_id: int, types: tuple[str, ...], limit: int = 10
) -> list[ReceivedObject]:
    """The newest remote objects of these types that reached a local actor (addressed to
    it, from an actor it follows, or passed down by its parent), replies left out."""
    marks = ",".join("?" * len(types))
    rows = await db.fetchall(
        f"{_RECEIVED} JOIN remote_object_audience a ON a.object_id = o.id"
        f" WHERE a.actor_id = ? AND o.deleted_at IS NULL AND o.type IN ({marks})"
        " AND o.in_reply_to IS NULL ORDER BY o.id DESC LIMIT ?",
        (actor_id, *types, limit))
    return [_received(row) for row in rows]


async def audience_of(db: Reader, object_id: int) -> list[str]:
    """The handles of the local actors a remote object reached."""
    rows = await db.fetchall(
        "SELECT a.handle FROM remote_object_audience r JOIN actors a ON a.id = r.actor_id"
        " WHERE r.object_id = ?", (object_id,))
    return [str(row[0]) for row in rows if row[0] is not None]


# Local items, under the member's actor IRI.

async def local_choices(db: Reader, item_id: int, voter: str) -> list[str]:
    rows = await db.fetchall(
        "SELECT choice FROM poll_votes WHERE item_id = ? AND voter = ? ORDER BY id",
        (item_id, voter))
    return [str(row[0]) for row in rows]


async def is_participant(db: Reader, item_id: int, participant: str) -> bool:
    found = await db.fetchone(
        "SELECT 1 FROM event_participants WHERE item_id = ? AND participant = ?",
        (item_id, participant))
    return found is not None


# Remote polls.

async def remote_choices(db: Reader, member_id: int, question_iri: str) -> list[str]:
    rows = await db.fetchall(
        "SELECT choice FROM member_votes WHERE member_id = ? AND question_iri = ?"
        " ORDER BY id", (member_id, question_iri))
    return [str(row[0]) for row in rows]


async def add_remote_vote(
    tx: Tx, member_id: int, question_iri: str, choice: str, activity_iri: str
) -> bool:
    """False when the member chose this already."""
    changed = await tx.execute(
        "INSERT INTO member_votes (member_id, question_iri, choice, activity_iri, created_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (member_id, question_iri, choice, activity_iri, utcnow()))
    return changed == 1


# Remote events.

def _join(row: Row) -> EventJoin:
    return EventJoin(member_id=int(row["member_id"]), event_iri=row["event_iri"],
                     organiser=row["organiser"], state=row["state"], join_iri=row["join_iri"])


_JOIN = "SELECT member_id, event_iri, organiser, state, join_iri FROM member_event_joins"


async def event_join(db: Reader, member_id: int, event_iri: str) -> EventJoin | None:
    row = await db.fetchone(f"{_JOIN} WHERE member_id = ? AND event_iri = ?",
                            (member_id, event_iri))
    return None if row is None else _join(row)


async def add_event_join(
    tx: Tx, member_id: int, event_iri: str, organiser: str, join_iri: str
) -> bool:
    """A Join sent; False when the member has one for this event already. A refused one
    is replaced: the member may ask again once there is room."""
    await tx.execute(
        "DELETE FROM member_event_joins WHERE member_id = ? AND event_iri = ? AND state = ?",
        (member_id, event_iri, REFUSED))
    changed = await tx.execute(
        "INSERT INTO member_event_joins (member_id, event_iri, organiser, state, join_iri,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (member_id, event_iri)"
        " DO NOTHING", (member_id, event_iri, organiser, PENDING, join_iri, utcnow()))
    return changed == 1


async def remove_event_join(tx: Tx, member_id: int, event_iri: str) -> EventJoin | None:
    row = await tx.fetchone(f"{_JOIN} WHERE member_id = ? AND event_iri = ?",
                            (member_id, event_iri))
    if row is None:
        return None
    await tx.execute("DELETE FROM member_event_joins WHERE member_id = ? AND event_iri = ?",
                     (member_id, event_iri))
    return _join(row)


async def answer_event_join(
    tx: Tx, organiser: str, join_iri: str | None, accepted: bool
) -> EventJoin | None:
    """The organiser's Accept or Reject of one of our members' Joins, matched by the Join's
    id and by who answers: nobody else decides. None when it names no such Join."""
    if join_iri is None:
        return None
    row = await tx.fetchone(f"{_JOIN} WHERE join_iri = ? AND organiser = ?",
                            (join_iri, organiser))
    if row is None:
        return None
    await tx.execute(
        "UPDATE member_event_joins SET state = ?, answered_at = ? WHERE join_iri = ?",
        (GOING if accepted else REFUSED, utcnow(), join_iri))
    return _join(row)


# Remote events read for /events, the newest to reach us first: a remote event's start is
# only in its document, so the caller orders them by start. A node hears of a few hundred
# events a year from below, and every one of them long past is still stored.
RECEIVED_SCANNED = 2000


async def received_events(db: Reader, scanned: int = RECEIVED_SCANNED) -> list[ReceivedObject]:
    """Events from other nodes that reached one of our chapters from a chapter below it:
    written by an accepted subchapter, or passed on by one. Newest received first."""
    rows = await db.fetchall(
        f"{_RECEIVED} WHERE o.type = 'Event' AND o.deleted_at IS NULL"
        " AND o.in_reply_to IS NULL AND EXISTS ("
        " SELECT 1 FROM remote_object_audience a JOIN subchapters s"
        "  ON s.chapter_id = a.actor_id AND s.state = 'accepted'"
        "  AND (s.child_iri = o.attributed_to OR s.child_iri = o.via)"
        " WHERE a.object_id = o.id)"
        " ORDER BY o.id DESC LIMIT ?", (scanned,))
    return [_received(row) for row in rows]
