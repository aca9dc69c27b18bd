"""Queries of publishing: local objects, outbox activities, fan-outs, deliveries, hosts."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from storage.database import Database, Reader, Tx, utcnow
from storage.timestamps import at, parse

# Notified when work is queued: the delivery worker of every process waits on it.
QUEUE_CHANNEL = "chapterhouse_queue"

PROBE_INTERVAL = timedelta(hours=1)  # between tries of a host marked unavailable


@dataclass(frozen=True)
class Published:
    activity_id: int
    activity_iri: str


@dataclass(frozen=True)
class Claimed:
    id: int
    activity_id: int
    inbox: str
    host: str
    attempts: int
    actor_id: int
    document: str


@dataclass(frozen=True)
class Outcome:
    """What became of one attempt. state: 'delivered', 'queued' (retry) or 'dead'."""

    id: int
    host: str
    state: str
    attempts: int
    next_attempt_at: datetime
    status: int | None
    error: str | None
    host_failed: bool  # the host did not answer usefully (network error, 5xx, timeout)
    host_answered: bool  # the host answered, whatever it said


@dataclass(frozen=True)
class HostQueue:
    host: str
    queued: int
    retrying: int
    dead: int
    delivered: int
    unavailable: bool
    last_error: str | None


async def insert_activity(
    tx: Tx, iri: str, actor_id: int, type_: str, public: bool,
    document: dict[str, Any], published: datetime | str,
) -> int:
    """`published` may be the document's own ActivityPub time text, as the caller has it."""
    return await tx.insert(
        "INSERT INTO activities (iri, actor_id, type, public, document, published)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (iri, actor_id, type_, public, json.dumps(document, ensure_ascii=False),
         at(published)),
    )


async def insert_object(
    tx: Tx, iri: str, actor_id: int, type_: str, document: dict[str, Any],
    published: datetime | str,
) -> None:
    await tx.execute(
        "INSERT INTO objects (iri, actor_id, type, document, published) VALUES (?, ?, ?, ?, ?)",
        (iri, actor_id, type_, json.dumps(document, ensure_ascii=False), at(published)),
    )


async def queue_fanout(tx: Tx, activity_id: int, actor_id: int) -> None:
    tx.notify(QUEUE_CHANNEL)
    await tx.execute(
        "INSERT INTO fanouts (activity_id, actor_id, created_at) VALUES (?, ?, ?)",
        (activity_id, actor_id, utcnow()),
    )


async def queue_delivery(
    tx: Tx, activity_id: int, inbox: str, due: datetime | None = None
) -> None:
    """Queue one delivery, due at `due` (now by default)."""
    tx.notify(QUEUE_CHANNEL)
    stamp = utcnow()
    await tx.execute(
        "INSERT INTO deliveries (activity_id, inbox, host, state, next_attempt_at, created_at,"
        " updated_at) VALUES (?, ?, ?, 'queued', ?, ?, ?) ON CONFLICT DO NOTHING",
        (activity_id, inbox, urlsplit(inbox).netloc.lower(), due or stamp, stamp, stamp),
    )


async def publish_in(
    tx: Tx, actor_id: int, activity_iri: str, activity_type: str,
    activity: dict[str, Any], new_object: tuple[str, str, dict[str, Any]] | None = None,
    deleted_object: str | None = None, also_to: list[str] | None = None,
) -> Published:
    """Store an activity (and the object it creates, or the deletion it records) and queue
    its delivery to the actor's followers and to the inboxes in `also_to` (actors addressed
    by name, such as a parent chapter), in the caller's transaction."""
    now = utcnow()
    if new_object is not None:
        iri, type_, document = new_object
        await insert_object(tx, iri, actor_id, type_, document, now)
    if deleted_object is not None:
        await tx.execute(
            "UPDATE objects SET deleted_at = ? WHERE iri = ? AND deleted_at IS NULL",
            (now, deleted_object),
        )
        await tx.execute(
            "UPDATE items SET deleted_at = ? WHERE object_iri = ? AND deleted_at IS NULL",
            (now, deleted_object),
        )
    activity_id = await insert_activity(
        tx, activity_iri, actor_id, activity_type, True, activity, now
    )
    await queue_fanout(tx, activity_id, actor_id)
    for inbox in dict.fromkeys(also_to or []):
        await queue_delivery(tx, activity_id, inbox, now)
    return Published(activity_id, activity_iri)


async def local_object(
    db: Reader, iri: str
) -> tuple[dict[str, Any], int, datetime | None] | None:
    """(document, actor id, deleted_at) of a local object."""
    row = await db.fetchone(
        "SELECT document, actor_id, deleted_at FROM objects WHERE iri = ?", (iri,)
    )
    return None if row is None else (json.loads(row[0]), int(row[1]), parse(row[2]))


async def local_activity(db: Database, iri: str) -> dict[str, Any] | None:
    row = await db.fetchone(
        "SELECT document FROM activities WHERE iri = ? AND public = TRUE", (iri,)
    )
    return None if row is None else json.loads(row[0])


async def reaction_counts(db: Database, object_iri: str) -> dict[str, int]:
    rows = await db.fetchall(
        "SELECT r.kind, count(*) FROM reactions r JOIN objects o ON o.id = r.object_id"
        " WHERE o.iri = ? GROUP BY r.kind",
        (object_iri,),
    )
    return {"like": 0, "announce": 0} | {r[0]: int(r[1]) for r in rows}


# The worker side. Its transactions pass `serial=False`: on PostgreSQL the workers of
# several processes share the queue, each leasing rows the others skip (SKIP LOCKED), and
# none of them waits for the inbox's writers. Rows are always locked in one order (by id,
# hosts by name), so two workers never wait on each other in a circle.

async def expand_fanouts(db: Database, limit: int = 10) -> int:
    """Turn "send to the followers of X" rows into one delivery per distinct inbox; how
    many fan-outs were expanded.

    Followers on one host that share an inbox get one delivery. Each fan-out is expanded
    and removed in one transaction: after a crash it is either whole or not begun. A
    fan-out another process is expanding is skipped; what both queue for one inbox is
    one delivery (UNIQUE (activity_id, inbox)).
    """
    expanded = 0
    for _ in range(limit):
        async with db.transaction(serial=False) as tx:
            row = await tx.fetchone(
                "SELECT id, activity_id, actor_id FROM fanouts ORDER BY id LIMIT 1"
                + tx.dialect.skip_locked
            )
            if row is None:
                return expanded
            fanout_id, activity_id, actor_id = int(row[0]), int(row[1]), int(row[2])
            inboxes = await tx.fetchall(
                "SELECT DISTINCT COALESCE(r.shared_inbox, r.inbox), r.host"
                " FROM followers fo JOIN remote_actors r ON r.iri = fo.follower_iri"
                " WHERE fo.actor_id = ? AND fo.state = 'accepted'"
                " ORDER BY 1",
                (actor_id,),
            )
            stamp = utcnow()
            await tx.executemany(
                "INSERT INTO deliveries (activity_id, inbox, host, state, next_attempt_at,"
                " created_at, updated_at) VALUES (?, ?, ?, 'queued', ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                [(activity_id, inbox, host, stamp, stamp, stamp) for inbox, host in inboxes],
            )
            await tx.execute("DELETE FROM fanouts WHERE id = ?", (fanout_id,))
            if inboxes:
                tx.notify(QUEUE_CHANNEL)
        expanded += 1
    return expanded


async def claim_due(db: Database, now: datetime, lease: timedelta, limit: int,
                    owner: str = "") -> list[Claimed]:
    """Lease due deliveries to this worker (`owner` names it). A host marked unavailable
    gets one probe an hour; a lease that outlives its worker (crash, kill -9) expires and
    the row is due again, or sooner when the same worker starts again."""
    async with db.transaction(serial=False) as tx:
        candidates = await tx.fetchall(
            "SELECT d.id, d.host, EXISTS (SELECT 1 FROM hosts h WHERE h.host = d.host"
            "  AND h.unavailable_since IS NOT NULL) AS unavailable"
            " FROM deliveries d"
            " WHERE d.state = 'queued' AND d.next_attempt_at <= :now"
            " AND (d.locked_until IS NULL OR d.locked_until <= :now)"
            " AND NOT EXISTS (SELECT 1 FROM hosts h WHERE h.host = d.host"
            "  AND h.unavailable_since IS NOT NULL AND h.next_probe_at > :now)"
            " ORDER BY d.next_attempt_at, d.id LIMIT :limit" + tx.dialect.skip_locked,
            {"now": now, "limit": limit},
        )
        chosen: list[int] = []
        probes: dict[str, int] = {}
        for delivery_id, host, unavailable in candidates:
            if not unavailable:
                chosen.append(int(delivery_id))
            elif host not in probes:
                probes[host] = int(delivery_id)
        for host in sorted(probes):
            # Taken only if no other worker took this hour's probe first.
            if await tx.execute(
                "UPDATE hosts SET next_probe_at = ? WHERE host = ? AND next_probe_at <= ?",
                (now + PROBE_INTERVAL, host, now),
            ):
                chosen.append(probes[host])
        if not chosen:
            return []
        chosen.sort()
        marks = ",".join("?" * len(chosen))
        await tx.execute(
            f"UPDATE deliveries SET locked_until = ?, locked_by = ? WHERE id IN ({marks})",
            (now + lease, owner or None, *chosen),
        )
        rows = await tx.fetchall(
            "SELECT d.id, d.activity_id, d.inbox, d.host, d.attempts, a.actor_id, a.document"
            " FROM deliveries d JOIN activities a ON a.id = d.activity_id"
            f" WHERE d.id IN ({marks}) ORDER BY d.id",
            chosen,
        )
        return [Claimed(int(r[0]), int(r[1]), r[2], r[3], int(r[4]), int(r[5]), r[6])
                for r in rows]


async def finish(
    db: Database, outcomes: list[Outcome], now: datetime, unavailable_after: int
) -> None:
    """Record a batch of attempts and what they say about each host, in one transaction."""
    stamp = utcnow()
    async with db.transaction(serial=False) as tx:
        await tx.executemany(
            "UPDATE deliveries SET state = ?, attempts = ?, next_attempt_at = ?,"
            " locked_until = NULL, locked_by = NULL, last_status = ?, last_error = ?,"
            " updated_at = ? WHERE id = ?",
            [(o.state, o.attempts, o.next_attempt_at, o.status, o.error, stamp, o.id)
             for o in sorted(outcomes, key=lambda o: o.id)],
        )
        answered = {o.host for o in outcomes if o.host_answered}
        failed = Counter(o.host for o in outcomes if o.host_failed and o.host not in answered)
        for host in sorted(answered | failed.keys()):
            if host in answered:
                await tx.execute(
                    "INSERT INTO hosts (host, last_success_at) VALUES (?, ?)"
                    " ON CONFLICT (host) DO UPDATE SET failures = 0, unavailable_since = NULL,"
                    " next_probe_at = NULL, last_success_at = excluded.last_success_at",
                    (host, now),
                )
                continue
            await tx.execute(
                "INSERT INTO hosts (host, failures, last_failure_at) VALUES (?, ?, ?)"
                " ON CONFLICT (host) DO UPDATE SET failures = hosts.failures + excluded.failures,"
                " last_failure_at = excluded.last_failure_at",
                (host, failed[host], now),
            )
            await tx.execute(
                "UPDATE hosts SET unavailable_since = ?, next_probe_at = ?"
                " WHERE host = ? AND unavailable_since IS NULL AND failures >= ?",
                (now, now + PROBE_INTERVAL, host, unavailable_after),
            )


async def next_due(db: Database) -> datetime | None:
    return parse(await db.fetchvalue(
        "SELECT min(next_attempt_at) FROM deliveries WHERE state = 'queued'"
    ))


async def pending_fanouts(db: Database) -> int:
    return int(await db.fetchvalue("SELECT count(*) FROM fanouts"))


async def overdue(db: Database, before: datetime) -> int:
    """Deliveries and fan-outs that a running worker would have taken up before `before`:
    due, not leased, to a host that is not waiting for its hourly probe. Many of them mean
    the worker is far behind or not running at all."""
    deliveries = await db.fetchvalue(
        "SELECT count(*) FROM deliveries d LEFT JOIN hosts h ON h.host = d.host"
        " WHERE d.state = 'queued' AND d.next_attempt_at < :before"
        " AND (d.locked_until IS NULL OR d.locked_until < :before)"
        " AND (h.unavailable_since IS NULL OR h.next_probe_at < :before)",
        {"before": before},
    )
    fanouts = await db.fetchvalue("SELECT count(*) FROM fanouts WHERE created_at < ?", (before,))
    return int(deliveries) + int(fanouts)


async def queue_by_host(db: Database) -> list[HostQueue]:
    rows = await db.fetchall(
        "SELECT d.host,"
        " count(*) FILTER (WHERE d.state = 'queued' AND d.attempts = 0) AS queued,"
        " count(*) FILTER (WHERE d.state = 'queued' AND d.attempts > 0) AS retrying,"
        " count(*) FILTER (WHERE d.state = 'dead') AS dead,"
        " count(*) FILTER (WHERE d.state = 'delivered') AS delivered,"
        " h.unavailable_since IS NOT NULL AS unavailable,"
        " (SELECT last_error FROM deliveries e WHERE e.host = d.host AND e.last_error IS NOT NULL"
        "  ORDER BY e.updated_at DESC LIMIT 1) AS last_error"
        " FROM deliveries d LEFT JOIN hosts h ON h.host = d.host"
        " GROUP BY d.host, h.unavailable_since ORDER BY d.host"
    )
    return [HostQueue(r[0], int(r[1]), int(r[2]), int(r[3]), int(r[4]), bool(r[5]), r[6])
            for r in rows]


async def retry_now(db: Database, now: datetime, host: str | None = None) -> int:
    """Make every waiting delivery (to one host) due now and forget the host's failures."""
    where, params = ("", ()) if host is None else (" AND host = ?", (host,))
    async with db.transaction() as tx:
        tx.notify(QUEUE_CHANNEL)
        changed = await tx.execute(
            "UPDATE deliveries SET next_attempt_at = ?, locked_until = NULL"
            f" WHERE state = 'queued'{where}",
            (now, *params),
        )
        await tx.execute(
            f"UPDATE hosts SET failures = 0, unavailable_since = NULL, next_probe_at = NULL"
            f" WHERE 1 = 1{where}",
            params,
        )
        return int(changed)


async def release_leases(db: Database, owner: str = "") -> int:
    """Free the leases this worker (`owner`) held when its process stopped: what it was
    sending is due again at once, not when the lease would have run out. Leases of other
    workers (other `serve` processes on the same PostgreSQL database) are left alone."""
    async with db.transaction() as tx:
        changed = await tx.execute(
            "UPDATE deliveries SET locked_until = NULL, locked_by = NULL"
            " WHERE state = 'queued' AND locked_until IS NOT NULL"
            " AND (locked_by = ? OR locked_by IS NULL)",
            (owner,),
        )
        return int(changed)
