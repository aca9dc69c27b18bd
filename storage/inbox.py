"""Queries of receiving: the dedupe record, follows, remote objects, reactions, blocks.

Handlers call these inside the one transaction that also records the activity, so an
activity is either wholly applied and recorded, or neither.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from storage.database import Reader, Tx, utcnow
from storage.timestamps import at, parse


@dataclass(frozen=True)
class LocalTarget:
    id: int
    handle: str | None
    kind: str
    manually_approves: bool


@dataclass(frozen=True)
class Follower:
    follower_iri: str
    state: str
    follow_iri: str | None
    created_at: datetime


async def record_activity(
    tx: Tx, iri: str, type_: str, actor_iri: str, document: dict[str, Any]
) -> bool:
    """Remember an accepted activity; False when it was seen before (a retry or a replay)."""
    changed = await tx.execute(
        "INSERT INTO inbox_activities (iri, type, actor_iri, document, received_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (iri) DO NOTHING",
        (iri, type_, actor_iri, json.dumps(document, ensure_ascii=False), utcnow()),
    )
    return changed == 1


async def local_target(tx: Tx, handle: str | None) -> LocalTarget | None:
    where = "kind = 'node'" if handle is None else "handle = ?"
    rows = await tx.fetchall(
        f"SELECT id, handle, kind, manually_approves FROM actors WHERE {where}",
        () if handle is None else (handle,),
    )
    row = next(iter(rows), None)
    return None if row is None else LocalTarget(row[0], row[1], row[2], bool(row[3]))


async def add_follower(
    tx: Tx, actor_id: int, follower_iri: str, follow_iri: str, state: str
) -> str:
    """Record a follow request; returns the state it ends in (an accepted follow stays so)."""
    rows = list(await tx.fetchall(
        "INSERT INTO followers (actor_id, follower_iri, state, follow_iri, created_at)"
        " VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (actor_id, follower_iri) DO UPDATE SET follow_iri = excluded.follow_iri"
        " RETURNING state",
        (actor_id, follower_iri, state, follow_iri, utcnow()),
    ))
    # An upsert with RETURNING always answers its one row, inserted or updated.
    return str(rows[0][0])


async def pending_follow(
    tx: Tx, actor_id: int, follower_iri: str
) -> tuple[bool, str | None]:
    """Whether this follower is waiting for an organiser, and the id of its Follow."""
    rows = await tx.fetchall(
        "SELECT follow_iri FROM followers WHERE actor_id = ? AND follower_iri = ?"
        " AND state = 'requested'", (actor_id, follower_iri))
    row = next(iter(rows), None)
    return (False, None) if row is None else (True, row[0])


async def set_follower_state(
    tx: Tx, actor_id: int, follower_iri: str, state: str | None
) -> str | None:
    """Accept (state='accepted') or drop (state=None) a follower; returns its Follow's id."""
    rows = await tx.fetchall(
        "SELECT follow_iri FROM followers WHERE actor_id = ? AND follower_iri = ?",
        (actor_id, follower_iri),
    )
    row = next(iter(rows), None)
    if row is None:
        return None
    if state is None:
        await tx.execute(
            "DELETE FROM followers WHERE actor_id = ? AND follower_iri = ?",
            (actor_id, follower_iri),
        )
    else:
        await tx.execute(
            "UPDATE followers SET state = ? WHERE actor_id = ? AND follower_iri = ?",
            (state, actor_id, follower_iri),
        )
    return row[0] or ""


async def remove_follower(
    tx: Tx, follower_iri: str, actor_id: int | None = None
) -> int:
    if actor_id is None:
        changed = await tx.execute("DELETE FROM followers WHERE follower_iri = ?", (follower_iri,))
    else:
        changed = await tx.execute(
            "DELETE FROM followers WHERE follower_iri = ? AND actor_id = ?",
            (follower_iri, actor_id),
        )
    return changed


async def followers_of(db: Reader, actor_id: int, state: str | None = None) -> list[Follower]:
    where, params = ("", (actor_id,)) if state is None else (" AND state = ?", (actor_id, state))
    rows = await db.fetchall(
        "SELECT follower_iri, state, follow_iri, created_at FROM followers"
        f" WHERE actor_id = ?{where} ORDER BY id",
        params,
    )
    return [Follower(row["follower_iri"], row["state"], row["follow_iri"], at(row["created_at"]))
            for row in rows]


async def add_following(
    tx: Tx, actor_id: int, target_iri: str, follow_iri: str
) -> None:
    await tx.execute(
        "INSERT INTO following (actor_id, target_iri, state, follow_iri, created_at)"
        " VALUES (?, ?, 'requested', ?, ?)"
        " ON CONFLICT (actor_id, target_iri) DO UPDATE SET follow_iri = excluded.follow_iri",
        (actor_id, target_iri, follow_iri, utcnow()),
    )


async def following_follow_iri(db: Reader, actor_id: int, target_iri: str) -> str | None:
    follow_iri = await db.fetchvalue(
        "SELECT follow_iri FROM following WHERE actor_id = ? AND target_iri = ?",
        (actor_id, target_iri),
    )
    return None if follow_iri is None else str(follow_iri)


async def answer_follow(
    tx: Tx, target_iri: str, follow_iri: str | None, accepted: bool
) -> int:
    """Apply a remote actor's Accept or Reject of a Follow that one of ours sent."""
    params: tuple[str, ...]
    if follow_iri:
        where, params = "target_iri = ? AND follow_iri = ?", (target_iri, follow_iri)
    else:
        where, params = "target_iri = ?", (target_iri,)
    if accepted:
        changed = await tx.execute(
            f"UPDATE following SET state = 'accepted' WHERE {where}", params
        )
    else:
        changed = await tx.execute(f"DELETE FROM following WHERE {where}", params)
    return changed


async def remove_following(tx: Tx, actor_id: int, target_iri: str) -> None:
    await tx.execute(
        "DELETE FROM following WHERE actor_id = ? AND target_iri = ?", (actor_id, target_iri)
    )


async def is_followed_by_local(tx: Tx, remote_iri: str) -> bool:
    rows = await tx.fetchall(
        "SELECT 1 FROM following WHERE target_iri = ? AND state = 'accepted'", (remote_iri,)
    )
    return next(iter(rows), None) is not None


async def actor_ids(tx: Tx, handles: list[str]) -> list[int]:
    """Ids of the local actors with these handles."""
    if not handles:
        return []
    marks = ",".join("?" * len(handles))
    rows = await tx.fetchall(f"SELECT id FROM actors WHERE handle IN ({marks})", handles)
    return [int(row[0]) for row in rows]


async def concerned_actor_ids(
    tx: Tx, handles: list[str], author: str
) -> list[int]:
    """Local actors named by these handles, and those that follow `author` (accepted)."""
    marks = ",".join("?" * len(handles)) or "NULL"
    rows = await tx.fetchall(
        f"SELECT id FROM actors WHERE handle IN ({marks})"
        " UNION SELECT actor_id FROM following WHERE target_iri = ? AND state = 'accepted'",
        (*handles, author),
    )
    return [int(row[0]) for row in rows]


class Stored(enum.Enum):
    """What became of a remote object we were given."""

    CREATED = "created"
    REPLACED = "replaced"  # a newer version by the same author
    REFRESHED = "refreshed"  # the same version sent again by its author (new totals)
    KEPT = "kept"  # ours is as new or newer: an old version cannot overwrite it
    DELETED = "deleted"  # a tombstone: ids are not reused
    NOT_THE_AUTHORS = "not the author's"  # someone else's object under the same id

    @property
    def changed(self) -> bool:
        return self in (Stored.CREATED, Stored.REPLACED)


@dataclass(frozen=True)
class RemoteObjectVersion:
    """One version of a remote object, as a handler read it from the wire."""

    iri: str
    type: str
    attributed_to: str
    content: str
    summary: str | None
    in_reply_to: str | None
    published: datetime | None
    updated: datetime | None
    # Minutes' `meetingDate` as the document gives it, for queries that list minutes.
    meeting_date: str | None
    document: dict[str, Any]


@dataclass(frozen=True)
class RemoteObject:
    iri: str
    type: str
    attributed_to: str
    content: str
    published: datetime | None


_NEVER = datetime.min.replace(tzinfo=UTC)


def _version(updated: datetime | None, published: datetime | None) -> datetime:
    """Which of two versions is newer: the later `updated` (or `published`)."""
    return updated or published or _NEVER


async def store_remote_object(
    tx: Tx, version: RemoteObjectVersion, audience: list[int],
    via: str | None = None, newer_only: bool = False,
) -> Stored:
    """Store a remote object, or replace the stored one with this version.

    Only its own author ever replaces an object: a version attributed to anyone else is
    refused, whoever vouched for it. With `newer_only` (a version passed on by a chapter,
    proven by the author's key but possibly replayed), an older version is kept out too.
    """
    existing = await tx.fetchone(
        "SELECT id, attributed_to, updated, published, deleted_at FROM remote_objects"
        " WHERE iri = ?", (version.iri,))
    document = json.dumps(version.document, ensure_ascii=False)
    if existing is None:
        object_id = await tx.insert(
            "INSERT INTO remote_objects (iri, type, attributed_to, content, summary,"
            " in_reply_to, published, updated, meeting_date, document, received_at, via)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (version.iri, version.type, version.attributed_to, version.content,
             version.summary, version.in_reply_to, version.published, version.updated,
             version.meeting_date, document, utcnow(), via))
        outcome = Stored.CREATED
    else:
        object_id = int(existing["id"])
        if existing["deleted_at"] is not None:
            return Stored.DELETED
        if existing["attributed_to"] != version.attributed_to:
            return Stored.NOT_THE_AUTHORS
        newer = _version(version.updated, version.published) > _version(
            parse(existing["updated"]), parse(existing["published"]))
        if newer_only and not newer:
            outcome = Stored.KEPT
        else:
            await tx.execute(
                "UPDATE remote_objects SET type = ?, content = ?, summary = ?,"
                " in_reply_to = ?, updated = ?, meeting_date = ?, document = ? WHERE id = ?",
                (version.type, version.content, version.summary, version.in_reply_to,
                 version.updated, version.meeting_date, document, object_id))
            outcome = Stored.REPLACED if newer else Stored.REFRESHED
        if via is not None and via != version.attributed_to and audience:
            # Minutes often reach a parent twice, from their author and passed up by a
            # subchapter, in either order: the subchapter is what its page shows ("via
            # Leinster"), so it replaces "from its author", never the reverse, and a
            # parent announcing the object back down replaces nothing.
            marks = ",".join("?" * len(audience))
            await tx.execute(
                "UPDATE remote_objects SET via = ? WHERE id = ?"
                " AND (via IS NULL OR via = attributed_to) AND EXISTS (SELECT 1 FROM"
                " subchapters s WHERE s.child_iri = ? AND s.state = 'accepted'"
                f" AND s.chapter_id IN ({marks}))",
                (via, object_id, via, *audience))
    await tx.executemany(
        "INSERT INTO remote_object_audience (object_id, actor_id) VALUES (?, ?)"
        " ON CONFLICT DO NOTHING",
        [(object_id, actor_id) for actor_id in audience],
    )
    return outcome


async def remote_object_author(tx: Reader, iri: str) -> str | None:
    author = await tx.fetchvalue("SELECT attributed_to FROM remote_objects WHERE iri = ?", (iri,))
    return None if author is None else str(author)


async def delete_remote_object(tx: Tx, iri: str) -> bool:
    """Keep a tombstone: a later Create with the same id is refused. False when it was
    already one."""
    changed = await tx.execute(
        "UPDATE remote_objects SET deleted_at = ?, content = '', summary = NULL,"
        " meeting_date = NULL, document = '{}' WHERE iri = ? AND deleted_at IS NULL",
        (utcnow(), iri),
    )
    return changed > 0


async def remote_objects_for(db: Reader, actor_id: int) -> list[RemoteObject]:
    rows = await db.fetchall(
        "SELECT o.iri, o.type, o.attributed_to, o.content, o.published FROM remote_objects o"
        " JOIN remote_object_audience a ON a.object_id = o.id"
        " WHERE a.actor_id = ? AND o.deleted_at IS NULL ORDER BY o.id DESC",
        (actor_id,),
    )
    return [RemoteObject(row["iri"], row["type"], row["attributed_to"], row["content"],
                         parse(row["published"])) for row in rows]


async def add_reaction(
    tx: Tx, object_iri: str, kind: str, actor_iri: str, activity_iri: str
) -> bool:
    rows = await tx.fetchall(
        "SELECT id FROM objects WHERE iri = ? AND deleted_at IS NULL", (object_iri,)
    )
    row = next(iter(rows), None)
    if row is None:
        return False
    await tx.execute(
        "INSERT INTO reactions (object_id, kind, actor_iri, activity_iri, created_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (row[0], kind, actor_iri, activity_iri, utcnow()),
    )
    return True


async def remove_reaction(
    tx: Tx, kind: str, actor_iri: str, activity_iri: str | None,
    object_iri: str | None,
) -> None:
    if activity_iri:
        await tx.execute(
            "DELETE FROM reactions WHERE activity_iri = ? AND actor_iri = ?",
            (activity_iri, actor_iri),
        )
    if object_iri:
        await tx.execute(
            "DELETE FROM reactions WHERE kind = ? AND actor_iri = ?"
            " AND object_id = (SELECT id FROM objects WHERE iri = ?)",
            (kind, actor_iri, object_iri),
        )


async def add_block(tx: Tx, actor_id: int, blocker: str) -> None:
    await tx.execute(
        "INSERT INTO blocks (actor_id, blocker, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (actor_id, blocker, utcnow()),
    )
    await tx.execute(
        "DELETE FROM followers WHERE actor_id = ? AND follower_iri = ?", (actor_id, blocker)
    )
    await tx.execute(
        "DELETE FROM following WHERE actor_id = ? AND target_iri = ?", (actor_id, blocker)
    )


async def remove_block(tx: Tx, actor_id: int, blocker: str) -> None:
    await tx.execute("DELETE FROM blocks WHERE actor_id = ? AND blocker = ?", (actor_id, blocker))


async def recorded_activity(tx: Tx, iri: str) -> dict[str, Any] | None:
    """An activity this node accepted earlier, as it arrived."""
    rows = await tx.fetchall("SELECT document FROM inbox_activities WHERE iri = ?", (iri,))
    row = next(iter(rows), None)
    return json.loads(row[0]) if row else None


async def local_object_actor(tx: Tx, iri: str) -> int | None:
    rows = await tx.fetchall("SELECT actor_id FROM objects WHERE iri = ?", (iri,))
    row = next(iter(rows), None)
    return None if row is None else int(row[0])


async def forget_remote_actor(tx: Tx, iri: str) -> None:
    """A remote actor deleted itself: its follows go, its cached document and keys too."""
    await tx.execute("DELETE FROM followers WHERE follower_iri = ?", (iri,))
    await tx.execute("DELETE FROM following WHERE target_iri = ?", (iri,))
    await tx.execute("DELETE FROM remote_actors WHERE iri = ?", (iri,))


async def handle_of_tx(tx: Tx, actor_id: int) -> str | None:
    rows = list(await tx.fetchall("SELECT handle FROM actors WHERE id = ?",
                                          (actor_id,)))
    return rows[0][0] if rows else None
