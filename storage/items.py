"""Queries about published items, poll votes and event participants."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Any

from storage.database import Database, Reader, Row, Tx, utcnow
from storage.outbox import insert_activity, insert_object, queue_delivery, queue_fanout
from storage.paging import Cursor, Page, keyset

_COLUMNS = ("kind", "title", "summary", "body", "meeting_date", "starts_at", "ends_at",
            "timezone", "place_name", "address", "online_url", "capacity", "options",
            "multiple", "closes_at")


def _values(item: Any) -> dict[str, Any]:
    values = {k: v for k, v in asdict(item).items() if k in _COLUMNS}
    values["options"] = json.dumps(values["options"]) if values["options"] else None
    values["multiple"] = int(values["multiple"])
    return values


async def create(
    tx: Tx, actor_id: int, item: Any, document: dict[str, Any],
    activity: dict[str, Any], published: str, also_to: list[str] | None = None,
) -> None:
    """Store an item, its AS2 object and its Create, and queue the fan-out (and the
    deliveries to `also_to`, such as a parent chapter's inbox), in the caller's
    transaction, which may add what else the publication causes (the hierarchy's part)."""
    await insert_object(tx, document["id"], actor_id, document["type"], document, published)
    values = _values(item)
    columns = ", ".join(values)
    marks = ", ".join(f":{k}" for k in values)
    await tx.execute(
        f"INSERT INTO items (object_iri, actor_id, published, {columns})"
        f" VALUES (:object_iri, :actor_id, :published, {marks})",
        {**values, "object_iri": document["id"], "actor_id": actor_id,
         "published": published},
    )
    activity_id = await insert_activity(
        tx, activity["id"], actor_id, "Create", True, activity, published)
    await queue_fanout(tx, activity_id, actor_id)
    for inbox in also_to or []:
        await queue_delivery(tx, activity_id, inbox, time.time())


async def replace(
    tx: Tx, object_iri: str, actor_id: int, item: Any,
    document: dict[str, Any], activity: dict[str, Any] | None, updated: str | None,
    also_to: list[str] | None = None,
) -> None:
    """Store a new version of an item (an edit, or new totals) and, with an activity,
    queue its Update to the followers and to the inboxes in `also_to`. In the caller's
    transaction, which must also be the one that read what the new version is made of:
    a version built from an older read would undo whatever was committed in between."""
    values = _values(item)
    sets = ", ".join(f"{k} = :{k}" for k in values)
    await tx.execute(
        f"UPDATE items SET {sets}, updated = COALESCE(:updated, updated)"
        " WHERE object_iri = :iri",
        {**values, "updated": updated, "iri": object_iri},
    )
    await tx.execute("UPDATE objects SET document = ? WHERE iri = ?",
                     (json.dumps(document, ensure_ascii=False), object_iri))
    if activity is not None:
        activity_id = await insert_activity(
            tx, activity["id"], actor_id, activity["type"], True, activity, utcnow())
        await queue_fanout(tx, activity_id, actor_id)
        now = time.time()
        for inbox in dict.fromkeys(also_to or []):
            await queue_delivery(tx, activity_id, inbox, now)


_SELECT = ("SELECT i.*, a.handle AS author, a.name AS author_name, a.kind AS author_kind,"
           " o.document FROM items i JOIN actors a ON a.id = i.actor_id"
           " JOIN objects o ON o.iri = i.object_iri")


async def by_iri(db: Database, object_iri: str) -> Row | None:
    return await db.fetchone(f"{_SELECT} WHERE i.object_iri = ?", (object_iri,))


async def by_iri_tx(
    tx: Reader, object_iri: str
) -> Row | None:
    """By a transaction that will write what it read (or by the reader)."""
    rows = await tx.execute_fetchall(f"{_SELECT} WHERE i.object_iri = ?", (object_iri,))
    return next(iter(rows), None)


async def latest(
    db: Database, kinds: tuple[str, ...], actor_id: int | None = None, limit: int = 10,
) -> list[Row]:
    marks = ",".join("?" * len(kinds))
    where = f"i.kind IN ({marks}) AND i.deleted_at IS NULL"
    params: list[Any] = list(kinds)
    if actor_id is not None:
        where += " AND i.actor_id = ?"
        params.append(actor_id)
    return await db.fetchall(
        f"{_SELECT} WHERE {where} ORDER BY i.published DESC, i.id DESC LIMIT ?",
        (*params, limit))


async def latest_notes(db: Database, actor_id: int, limit: int = 10) -> list[Row]:
    """An actor's notes that are still published, newest first. Notes have no `items` row:
    the AS2 document is all there is of them."""
    return await db.fetchall(
        "SELECT o.iri, o.document, o.published, a.handle AS author, a.name AS author_name,"
        " a.kind AS author_kind FROM objects o JOIN actors a ON a.id = o.actor_id"
        " WHERE o.actor_id = ? AND o.type = 'Note' AND o.deleted_at IS NULL"
        " ORDER BY o.published DESC, o.id DESC LIMIT ?",
        (actor_id, limit))


async def upcoming_events(
    db: Database, now_iso: str, actor_id: int | None = None, limit: int = 50,
) -> list[Row]:
    """Events that have not ended; starts_at keeps its offset, so compare in UTC."""
    # The ids are chosen first and only the page of them is joined with its document:
    # sorting every event with its document along cost more than the page itself.
    where = ("kind = 'event' AND deleted_at IS NULL"
             " AND datetime(COALESCE(ends_at, starts_at)) >= datetime(?)")
    params: list[Any] = [now_iso]
    if actor_id is not None:
        where += " AND actor_id = ?"
        params.append(actor_id)
    return await db.fetchall(
        f"{_SELECT} WHERE i.id IN (SELECT id FROM items WHERE {where}"
        " ORDER BY datetime(starts_at), id LIMIT ?) ORDER BY datetime(i.starts_at), i.id",
        (*params, limit))


async def current_poll(db: Database, actor_id: int | None = None) -> Row | None:
    """The newest open poll, else the newest closed one."""
    # Two walks down the index by date, each stopping at the first match, rather than one
    # sort of every poll (with its document) by "closed, then date".
    for open_ in (True, False):
        where = ("i.kind = 'poll' AND i.deleted_at IS NULL AND i.closed_at IS "
                 + ("NULL" if open_ else "NOT NULL"))
        params: list[Any] = []
        if actor_id is not None:
            where += " AND i.actor_id = ?"
            params.append(actor_id)
        row = await db.fetchone(
            f"{_SELECT} WHERE {where} ORDER BY i.published DESC LIMIT 1", params)
        if row is not None:
            return row
    return None


async def vote_counts(
    db: Reader, item_id: int
) -> tuple[dict[str, int], int]:
    """(votes per option, distinct voters)."""
    rows = await db.execute_fetchall(
        "SELECT choice, count(*) FROM poll_votes WHERE item_id = ? GROUP BY choice", (item_id,))
    voters = await db.execute_fetchall(
        "SELECT count(DISTINCT voter) FROM poll_votes WHERE item_id = ?", (item_id,))
    return {r[0]: int(r[1]) for r in rows}, int(next(iter(voters))[0])


async def has_voted(tx: Tx, item_id: int, voter: str) -> bool:
    rows = await tx.execute_fetchall(
        "SELECT 1 FROM poll_votes WHERE item_id = ? AND voter = ? LIMIT 1", (item_id, voter)
    )
    return next(iter(rows), None) is not None


async def add_vote(
    tx: Tx, item_id: int, voter: str, choice: str, note_iri: str
) -> bool:
    changed = await tx.execute(
        "INSERT INTO poll_votes (item_id, voter, choice, note_iri, created_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (item_id, voter, choice, note_iri, utcnow()))
    return changed == 1


async def participant_count(db: Reader, item_id: int) -> int:
    rows = await db.execute_fetchall(
        "SELECT count(*) FROM event_participants WHERE item_id = ?", (item_id,))
    return int(next(iter(rows))[0])


async def add_participant(
    tx: Tx, item_id: int, participant: str, join_iri: str
) -> bool:
    changed = await tx.execute(
        "INSERT INTO event_participants (item_id, participant, join_iri, created_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (item_id, participant, join_iri, utcnow()))
    return changed == 1


async def remove_participant(tx: Tx, item_id: int, participant: str) -> bool:
    changed = await tx.execute(
        "DELETE FROM event_participants WHERE item_id = ? AND participant = ?",
        (item_id, participant))
    return changed == 1


async def polls_to_close(db: Database, now_iso: str) -> list[Row]:
    return await db.fetchall(
        f"{_SELECT} WHERE i.kind = 'poll' AND i.closed_at IS NULL AND i.deleted_at IS NULL"
        " AND i.closes_at <= ?", (now_iso,))


async def set_closed(tx: Tx, item_id: int, when: str) -> bool:
    changed = await tx.execute(
        "UPDATE items SET closed_at = ? WHERE id = ? AND closed_at IS NULL", (when, item_id))
    return changed == 1


_REPLY = ("SELECT o.iri, o.attributed_to, o.content, o.published, r.name AS author_name,"
          " r.username AS author_username, r.host AS author_host")


async def replies_page(
    db: Database, object_iri: str, cursor: Cursor | None, limit: int
) -> tuple[list[Row], Page]:
    """Stored replies to a local object in the order they arrived, a page at a time."""
    page = await keyset(
        db, _REPLY, "remote_objects o LEFT JOIN remote_actors r ON r.iri = o.attributed_to"
        " WHERE o.in_reply_to = :iri AND o.deleted_at IS NULL",
        {"iri": object_iri}, ("o.id",), False, cursor, limit)
    return page.rows, page


# Read-only queries for the web pages and feeds.

async def reply_count(db: Database, object_iri: str) -> int:
    """Stored replies (not deleted) to a local object."""
    return int(await db.fetchvalue(
        "SELECT count(*) FROM remote_objects WHERE in_reply_to = ? AND deleted_at IS NULL",
        (object_iri,)))
