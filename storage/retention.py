"""Pruning: finished deliveries and old received-activity records are not kept for ever.

Both tables only grow at the end: a row's id is larger than that of every row before it,
and `created_at` / `received_at` is stamped at insert, so the rows older than a cut-off
are a prefix of the table in id order. The prune walks that prefix by primary key, a
batch at a time, and stops at the first row newer than the cut-off: it never scans the
table and needs no index (one on `deliveries.updated_at` would be rewritten on every
attempt). Each batch is chosen on the reader and deleted in its own short transaction,
so the single writer is never held for long.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import structlog

from storage.database import Database
from storage.timestamps import at

log = structlog.get_logger(__name__)

BATCH = 1000
EVERY = 3600.0  # seconds between rounds: a day's rows are few, and a round is cheap


async def prune_deliveries(db: Database, before: datetime, batch: int = BATCH) -> int:
    """Delete deliveries that finished (delivered, or given up) before `before`.

    A queued delivery is never deleted, however old: it is still work to do. A finished
    one is kept until it finished (`updated_at`) before the cut-off, so the operator sees
    what failed for the whole window. Returns how many rows went.
    """
    cutoff, after, removed = before, 0, 0
    while True:
        rows = await db.fetchall(
            "SELECT id, state, created_at, updated_at FROM deliveries WHERE id > ?"
            " ORDER BY id LIMIT ?",
            (after, batch),
        )
        doomed = [r[0] for r in rows if r[1] != "queued" and at(r[3]) < cutoff]
        removed += await _delete(db, "deliveries", doomed,
                                 " AND state <> 'queued' AND updated_at < ?", cutoff)
        # updated_at >= created_at: once a row was created after the cut-off, so were all
        # the rows after it, and none of them can have finished before it.
        if len(rows) < batch or any(at(r[2]) >= cutoff for r in rows):
            return removed
        after = rows[-1][0]


async def prune_received(db: Database, before: datetime, batch: int = BATCH) -> int:
    """Delete records of activities received before `before` (the inbox's dedupe record).

    A record that something still standing was made from is kept: the Follow of a
    follower, the Join of a subchapter, the Like or Announce of a reaction. An `Undo` that
    names the activity only by its id needs the record to know what to undo, and an
    organiser's answer to a follow or join request quotes it. Returns how many rows went.
    """
    cutoff, after, removed = before, 0, 0
    while True:
        rows = await db.fetchall(
            "SELECT a.id, a.received_at,"
            " a.iri IN (SELECT follow_iri FROM followers WHERE follow_iri IS NOT NULL)"
            " OR a.iri IN (SELECT join_iri FROM subchapters)"
            " OR a.iri IN (SELECT activity_iri FROM reactions) AS referenced"
            " FROM (SELECT id, iri, received_at FROM inbox_activities WHERE id > ?"
            "       ORDER BY id LIMIT ?) a ORDER BY a.id",
            (after, batch),
        )
        doomed = [r[0] for r in rows if at(r[1]) < cutoff and not r[2]]
        # Nothing refers to an activity that arrived before the cut-off unless it already
        # did when the batch was read: references are made as an activity is received.
        removed += await _delete(db, "inbox_activities", doomed, " AND received_at < ?", cutoff)
        if len(rows) < batch or at(rows[-1][1]) >= cutoff:
            return removed
        after = rows[-1][0]


async def _delete(db: Database, table: str, ids: list[int], guard: str, cutoff: datetime) -> int:
    if not ids:
        return 0
    marks = ",".join("?" * len(ids))
    async with db.transaction() as tx:
        # The guard repeats the test: a row that changed since it was read stays.
        changed: int = await tx.execute(
            f"DELETE FROM {table} WHERE id IN ({marks}){guard}", (*ids, cutoff)
        )
    await asyncio.sleep(0)  # let the writers that waited go first
    return changed


async def prune(
    db: Database, keep_delivered: timedelta, keep_received: timedelta,
    now: datetime | None = None,
) -> tuple[int, int]:
    """One round of pruning: (deliveries removed, received records removed)."""
    now = now or datetime.now(UTC)
    return (await prune_deliveries(db, now - keep_delivered),
            await prune_received(db, now - keep_received))


async def run_pruning(
    db: Database, keep_delivered: timedelta, keep_received: timedelta, every: float = EVERY,
) -> None:
    """Prune once a round, for as long as the node runs. A failure (say `database is
    locked`) is left to the supervisor, which logs it and starts the task again."""
    while True:
        delivered, received = await prune(db, keep_delivered, keep_received)
        if delivered or received:
            log.info("pruned old rows", deliveries=delivered, received_activities=received)
        await asyncio.sleep(every)
