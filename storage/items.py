"""Queries about published items, poll votes and event participants."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from storage.database import Database, Reader, Row, Tx, utcnow
from storage.outbox import insert_activity, insert_object, queue_delivery, queue_fanout
from storage.paging import Cursor, Page, keyset
from storage.timestamps import at, parse


@dataclass
class ItemFields:
    """What an item is made of, as the store keeps it: moments are aware datetimes (an
    event's own zone is `timezone`), the options of a poll a list."""

    kind: str
    title: str
    summary: str = ""
    body: str = ""
    meeting_date: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    timezone: str | None = None
    place_name: str | None = None
    address: str | None = None
    online_url: str | None = None
    capacity: int | None = None
    options: list[str] = field(default_factory=list)
    multiple: bool = False
    closes_at: datetime | None = None
    language: str | None = None  # "eo"; None: not known (published before it was kept)
    project_status: str | None = None  # projects: proposed, active or finished
    started_by: str | None = None  # projects: the handle of the member who started it


@dataclass(frozen=True)
class StoredItem:
    """An item with its author and the AS2 document of its current version."""

    id: int
    object_iri: str
    actor_id: int
    fields: ItemFields
    published: datetime
    updated: datetime | None
    deleted_at: datetime | None
    closed_at: datetime | None
    author: str  # the author's handle
    author_name: str
    author_kind: str
    document: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.fields.kind


@dataclass(frozen=True)
class StoredNote:
    """A local note (no `items` row: the AS2 document is all there is of it)."""

    iri: str
    document: dict[str, Any]
    published: datetime
    author: str
    author_name: str
    author_kind: str


@dataclass(frozen=True)
class Reply:
    """A reply from elsewhere to a local object, with what we know of its author."""

    iri: str
    attributed_to: str | None
    content: str | None
    published: datetime | None
    author_name: str | None
    author_username: str | None
    author_host: str | None
    local_handle: str | None = None  # a member of this node, who replied from the web
    # Its versions by language (contentMap, sanitised when it arrived), when it had them.
    content_map: dict[str, str] = field(default_factory=dict)


_COLUMNS = ("kind", "title", "summary", "body", "meeting_date", "starts_at", "ends_at",
            "timezone", "place_name", "address", "online_url", "capacity", "options",
            "multiple", "closes_at", "language", "project_status", "started_by")


def _values(item: ItemFields) -> dict[str, Any]:
    values = {k: getattr(item, k) for k in _COLUMNS}
    values["options"] = json.dumps(item.options) if item.options else None
    values["multiple"] = bool(item.multiple)
    return values


def _fields(row: Row) -> ItemFields:
    return ItemFields(
        kind=row["kind"], title=row["title"], summary=row["summary"], body=row["body"],
        meeting_date=row["meeting_date"], starts_at=parse(row["starts_at"]),
        ends_at=parse(row["ends_at"]), timezone=row["timezone"],
        place_name=row["place_name"], address=row["address"], online_url=row["online_url"],
        capacity=None if row["capacity"] is None else int(row["capacity"]),
        options=json.loads(row["options"]) if row["options"] else [],
        multiple=bool(row["multiple"]), closes_at=parse(row["closes_at"]),
        language=row["language"], project_status=row["project_status"],
        started_by=row["started_by"],
    )


def _item(row: Row) -> StoredItem:
    return StoredItem(
        id=int(row["id"]), object_iri=row["object_iri"], actor_id=int(row["actor_id"]),
        fields=_fields(row), published=at(row["published"]), updated=parse(row["updated"]),
        deleted_at=parse(row["deleted_at"]), closed_at=parse(row["closed_at"]),
        author=row["author"], author_name=row["author_name"], author_kind=row["author_kind"],
        document=json.loads(row["document"]),
    )


async def create(
    tx: Tx, actor_id: int, item: ItemFields, document: dict[str, Any],
    activity: dict[str, Any], published: datetime, also_to: list[str] | None = None,
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
        await queue_delivery(tx, activity_id, inbox)


async def replace(
    tx: Tx, object_iri: str, actor_id: int, item: ItemFields,
    document: dict[str, Any], activity: dict[str, Any] | None, updated: datetime | None,
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
        for inbox in dict.fromkeys(also_to or []):
            await queue_delivery(tx, activity_id, inbox)


_SELECT = ("SELECT i.*, a.handle AS author, a.name AS author_name, a.kind AS author_kind,"
           " o.document FROM items i JOIN actors a ON a.id = i.actor_id"
           " JOIN objects o ON o.iri = i.object_iri")


async def by_iri(db: Reader, object_iri: str) -> StoredItem | None:
    """By the reader, or by a transaction that will write what it read."""
    row = await db.fetchone(f"{_SELECT} WHERE i.object_iri = ?", (object_iri,))
    return None if row is None else _item(row)


# The same, named for the call sites that read in the transaction that writes.
by_iri_tx = by_iri


async def latest(
    db: Reader, kinds: tuple[str, ...], actor_id: int | None = None, limit: int = 10,
) -> list[StoredItem]:
    marks = ",".join("?" * len(kinds))
    where = f"i.kind IN ({marks}) AND i.deleted_at IS NULL"
    params: list[Any] = list(kinds)
    if actor_id is not None:
        where += " AND i.actor_id = ?"
        params.append(actor_id)
    rows = await db.fetchall(
        f"{_SELECT} WHERE {where} ORDER BY i.published DESC, i.id DESC LIMIT ?",
        (*params, limit))
    return [_item(row) for row in rows]


async def latest_notes(db: Reader, actor_id: int, limit: int = 10) -> list[StoredNote]:
    """An actor's notes that are still published, newest first."""
    rows = await db.fetchall(
        "SELECT o.iri, o.document, o.published, a.handle AS author, a.name AS author_name,"
        " a.kind AS author_kind FROM objects o JOIN actors a ON a.id = o.actor_id"
        " WHERE o.actor_id = ? AND o.type = 'Note' AND o.deleted_at IS NULL"
        " ORDER BY o.published DESC, o.id DESC LIMIT ?",
        (actor_id, limit))
    return [StoredNote(iri=row["iri"], document=json.loads(row["document"]),
                       published=at(row["published"]), author=row["author"],
                       author_name=row["author_name"], author_kind=row["author_kind"])
            for row in rows]


async def upcoming_events(
    db: Reader, now: datetime, actor_id: int | None = None, limit: int = 50,
) -> list[StoredItem]:
    """Events that have not ended by `now`, the soonest first."""
    # The ids are chosen first and only the page of them is joined with its document:
    # sorting every event with its document along cost more than the page itself.
    where = ("kind = 'event' AND deleted_at IS NULL"
             " AND COALESCE(ends_at, starts_at) >= ?")
    params: list[Any] = [now]
    if actor_id is not None:
        where += " AND actor_id = ?"
        params.append(actor_id)
    rows = await db.fetchall(
        f"{_SELECT} WHERE i.id IN (SELECT id FROM items WHERE {where}"
        " ORDER BY starts_at, id LIMIT ?) ORDER BY i.starts_at, i.id",
        (*params, limit))
    return [_item(row) for row in rows]


async def local_events(
    db: Reader, now: datetime, after: tuple[datetime, str] | None, limit: int
) -> list[StoredItem]:
    """Events of this node that have not ended by `now`, by start (then id), beginning
    after the (start, id) `after` when given."""
    where = ("kind = 'event' AND deleted_at IS NULL AND starts_at IS NOT NULL"
             " AND COALESCE(ends_at, starts_at) >= :now")
    params: dict[str, Any] = {"now": now, "limit": limit}
    if after is not None:
        where += (" AND (starts_at > :start OR (starts_at = :start AND object_iri > :iri))")
        params |= {"start": after[0], "iri": after[1]}
    # The page's ids first, then their documents (as storage/items.py upcoming_events).
    rows = await db.fetchall(
        f"{_SELECT} WHERE i.id IN (SELECT id FROM items WHERE {where}"
        " ORDER BY starts_at, object_iri LIMIT :limit) ORDER BY i.starts_at, i.object_iri",
        params)
    return [_item(row) for row in rows]


async def current_poll(db: Reader, actor_id: int | None = None) -> StoredItem | None:
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
            return _item(row)
    return None


async def vote_counts(db: Reader, item_id: int) -> tuple[dict[str, int], int]:
    """(votes per option, distinct voters)."""
    rows = await db.fetchall(
        "SELECT choice, count(*) FROM poll_votes WHERE item_id = ? GROUP BY choice", (item_id,))
    voters = await db.fetchvalue(
        "SELECT count(DISTINCT voter) FROM poll_votes WHERE item_id = ?", (item_id,))
    return {r[0]: int(r[1]) for r in rows}, int(voters)


async def has_voted(tx: Reader, item_id: int, voter: str) -> bool:
    found = await tx.fetchone(
        "SELECT 1 FROM poll_votes WHERE item_id = ? AND voter = ? LIMIT 1", (item_id, voter)
    )
    return found is not None


async def add_vote(
    tx: Tx, item_id: int, voter: str, choice: str, note_iri: str
) -> bool:
    changed = await tx.execute(
        "INSERT INTO poll_votes (item_id, voter, choice, note_iri, created_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (item_id, voter, choice, note_iri, utcnow()))
    return changed == 1


async def participant_count(db: Reader, item_id: int) -> int:
    return int(await db.fetchvalue(
        "SELECT count(*) FROM event_participants WHERE item_id = ?", (item_id,)))


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


async def polls_to_close(db: Reader, now: datetime) -> list[StoredItem]:
    rows = await db.fetchall(
        f"{_SELECT} WHERE i.kind = 'poll' AND i.closed_at IS NULL AND i.deleted_at IS NULL"
        " AND i.closes_at <= ?", (now,))
    return [_item(row) for row in rows]


async def set_closed(tx: Tx, item_id: int, when: datetime) -> bool:
    changed = await tx.execute(
        "UPDATE items SET closed_at = ? WHERE id = ? AND closed_at IS NULL", (when, item_id))
    return changed == 1


# A member's reply from the web is kept in remote_objects too (outbox/member_actions.py);
# its author is then a local actor, found through the objects row of the reply.
_REPLY = ("SELECT o.iri, o.attributed_to, o.content, o.published, o.document,"
          " COALESCE(r.name, la.name) AS author_name, r.username AS author_username,"
          " r.host AS author_host, la.handle AS local_handle")
_REPLY_AUTHORS = ("remote_objects o LEFT JOIN remote_actors r ON r.iri = o.attributed_to"
                  " LEFT JOIN objects lo ON lo.iri = o.iri"
                  " LEFT JOIN actors la ON la.id = lo.actor_id")


def _reply(row: Row) -> Reply:
    return Reply(
        iri=row["iri"], attributed_to=row["attributed_to"], content=row["content"],
        published=parse(row["published"]), author_name=row["author_name"],
        author_username=row["author_username"], author_host=row["author_host"],
        local_handle=row["local_handle"], content_map=_content_map(row["document"]))


def _content_map(document: str | None) -> dict[str, str]:
    found = json.loads(document).get("contentMap") if document else None
    return {k: v for k, v in found.items() if isinstance(v, str)} \
        if isinstance(found, dict) else {}


async def replies_page(
    db: Reader, object_iri: str, cursor: Cursor | None, limit: int
) -> tuple[list[Reply], Page]:
    """Stored replies to a local object in the order they arrived, a page at a time."""
    page = await keyset(
        db, _REPLY, f"{_REPLY_AUTHORS} WHERE o.in_reply_to = :iri AND o.deleted_at IS NULL",
        {"iri": object_iri}, ("o.id",), False, cursor, limit)
    return [_reply(row) for row in page.rows], page


# Read-only queries for the web pages and feeds.

async def reply_count(db: Database, object_iri: str) -> int:
    """Stored replies (not deleted) to a local object."""
    return int(await db.fetchvalue(
        "SELECT count(*) FROM remote_objects WHERE in_reply_to = ? AND deleted_at IS NULL",
        (object_iri,)))
