"""Events for /events and /events.ics: those of this node's chapters (items) and those of
the chapters below them on other nodes (remote objects that reached one of our chapters
from, or through, an accepted subchapter).

Local events are paged in SQL by (start, id), the cursor /events hands out. A remote
event's start is only in its document, so the received ones are read (the newest that
reached us, a bounded number) and the caller orders them by start along with the page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage.database import Reader
from storage.items import _SELECT as ITEM_SELECT
from storage.items import StoredItem
from storage.items import _item as stored_item
from storage.taking_part import _RECEIVED as RECEIVED_SELECT
from storage.taking_part import ReceivedObject
from storage.taking_part import _received as received_object

# Remote events read for one page, the newest to reach us first: a node hears of a few
# hundred events a year from below, and every one of them long past is still stored.
RECEIVED_SCANNED = 2000


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
        f"{ITEM_SELECT} WHERE i.id IN (SELECT id FROM items WHERE {where}"
        " ORDER BY starts_at, object_iri LIMIT :limit) ORDER BY i.starts_at, i.object_iri",
        params)
    return [stored_item(row) for row in rows]


async def received_events(db: Reader, scanned: int = RECEIVED_SCANNED) -> list[ReceivedObject]:
    """Events from other nodes that reached one of our chapters from a chapter below it:
    written by an accepted subchapter, or passed on by one. Newest received first."""
    rows = await db.fetchall(
        f"{RECEIVED_SELECT} WHERE o.type = 'Event' AND o.deleted_at IS NULL"
        " AND o.in_reply_to IS NULL AND EXISTS ("
        " SELECT 1 FROM remote_object_audience a JOIN subchapters s"
        "  ON s.chapter_id = a.actor_id AND s.state = 'accepted'"
        "  AND (s.child_iri = o.attributed_to OR s.child_iri = o.via)"
        " WHERE a.object_id = o.id)"
        " ORDER BY o.id DESC LIMIT ?", (scanned,))
    return [received_object(row) for row in rows]
