"""The likes and boosts members give from the web (member_reactions), whatever server the
object lives on."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from storage.database import Reader, Tx, utcnow


@dataclass(frozen=True)
class Given:
    """A like or boost a member gave: the activity an Undo takes back."""

    object_iri: str
    kind: str  # 'like' | 'announce'
    activity_iri: str


async def given(db: Reader, actor_id: int, object_iri: str, kind: str) -> Given | None:
    row = await db.fetchone(
        "SELECT activity_iri FROM member_reactions"
        " WHERE actor_id = ? AND object_iri = ? AND kind = ?", (actor_id, object_iri, kind))
    return None if row is None else Given(object_iri, kind, row[0])


async def record(tx: Tx, actor_id: int, object_iri: str, kind: str, activity_iri: str) -> bool:
    """Record a like or boost; False when the member had given it already."""
    changed = await tx.execute(
        "INSERT INTO member_reactions (actor_id, object_iri, kind, activity_iri, created_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (actor_id, object_iri, kind, activity_iri, utcnow()))
    return changed > 0


async def forget(tx: Tx, actor_id: int, object_iri: str, kind: str) -> Given | None:
    """Take back a like or boost; what was taken back, None when there was none."""
    found = await given(tx, actor_id, object_iri, kind)
    if found is not None:
        await tx.execute(
            "DELETE FROM member_reactions WHERE actor_id = ? AND object_iri = ? AND kind = ?",
            (actor_id, object_iri, kind))
    return found


async def kinds_of(db: Reader, actor_id: int, object_iri: str) -> set[str]:
    """What the member gave this object: a subset of {'like', 'announce'}."""
    rows = await db.fetchall(
        "SELECT kind FROM member_reactions WHERE actor_id = ? AND object_iri = ?",
        (actor_id, object_iri))
    return {row[0] for row in rows}


async def recent_of(db: Reader, actor_id: int, limit: int) -> list[tuple[str, str]]:
    """(object iri, kind) of the member's newest likes and boosts."""
    rows = await db.fetchall(
        "SELECT object_iri, kind FROM member_reactions WHERE actor_id = ?"
        " ORDER BY id DESC LIMIT ?", (actor_id, limit))
    return [(row[0], row[1]) for row in rows]


async def remote_object(db: Reader, iri: str) -> tuple[str, dict[str, Any]] | None:
    """(author, document) of a remote object we hold and that was not deleted."""
    row = await db.fetchone(
        "SELECT attributed_to, document FROM remote_objects WHERE iri = ?"
        " AND deleted_at IS NULL", (iri,))
    return None if row is None else (row[0], json.loads(row[1]))


async def reached(db: Reader, iri: str, handles: list[str]) -> bool:
    """Whether a remote object was addressed to one of these local actors (its audience)."""
    if not handles:
        return False
    marks = ", ".join("?" for _ in handles)
    found = await db.fetchvalue(
        "SELECT 1 FROM remote_object_audience a JOIN remote_objects o ON o.id = a.object_id"
        f" JOIN actors x ON x.id = a.actor_id WHERE o.iri = ? AND x.handle IN ({marks})",
        (iri, *handles))
    return found is not None
