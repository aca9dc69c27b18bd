"""The delivery queue as the administrators' page shows it: per host, and what failed.

The per-host counts are the CLI's (storage/outbox.py queue_by_host); this adds when each
host's next attempt is due and the failed deliveries themselves, newest first, a page at
a time: a node may hold a hundred thousand rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.database import Database, Reader
from storage.outbox import HostQueue, queue_by_host
from storage.timestamps import at, parse


@dataclass(frozen=True)
class HostLine:
    host: str
    waiting: int  # queued, or retrying after a failure
    retrying: int
    failed: int  # dead: given up on
    delivered: int
    unavailable: bool
    next_attempt_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class FailedDelivery:
    id: int
    activity_iri: str
    activity_type: str
    inbox: str
    host: str
    attempts: int
    status: int | None
    error: str | None
    failed_at: datetime


async def hosts(db: Database) -> list[HostLine]:
    counts: list[HostQueue] = await queue_by_host(db)
    rows = await db.fetchall(
        "SELECT host, min(next_attempt_at) FROM deliveries WHERE state = 'queued'"
        " GROUP BY host")
    due = {r[0]: parse(r[1]) for r in rows}
    return [HostLine(host=h.host, waiting=h.queued + h.retrying, retrying=h.retrying,
                     failed=h.dead, delivered=h.delivered, unavailable=h.unavailable,
                     next_attempt_at=due.get(h.host), last_error=h.last_error)
            for h in counts]


async def failed(db: Reader, host: str | None = None, before: int | None = None,
                 limit: int = 50) -> tuple[list[FailedDelivery], int | None]:
    """Failed deliveries (to one host), newest first, from before the delivery id
    `before`; and the cursor of the next page, if there is one."""
    where, params = "", list[object]()
    if host is not None:
        where, params = where + " AND d.host = ?", [*params, host]
    if before is not None:
        where, params = where + " AND d.id < ?", [*params, before]
    rows = await db.fetchall(
        "SELECT d.id, a.iri, a.type, d.inbox, d.host, d.attempts, d.last_status,"
        " d.last_error, d.updated_at FROM deliveries d JOIN activities a ON a.id = d.activity_id"
        f" WHERE d.state = 'dead'{where} ORDER BY d.id DESC LIMIT ?", (*params, limit + 1))
    found = [FailedDelivery(
        id=int(r[0]), activity_iri=r[1], activity_type=r[2], inbox=r[3], host=r[4],
        attempts=int(r[5]), status=None if r[6] is None else int(r[6]), error=r[7],
        failed_at=at(r[8])) for r in rows[:limit]]
    return found, (found[-1].id if len(rows) > limit else None)
