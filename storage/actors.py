"""Queries about local actors: the node, chapters, members, their keys and collections."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.database import Conflict, Database, Reader, Row, Tx, utcnow
from storage.paging import Cursor, Page, keyset
from storage.timestamps import at


class HandleTaken(Exception):
    """The handle already names a chapter or member on this node."""


@dataclass(frozen=True)
class NewKey:
    algorithm: str  # 'rsa-2048' or 'ed25519'
    public_key: str
    private_key: str


@dataclass(frozen=True)
class ActorRecord:
    id: int
    kind: str  # 'node', 'chapter' or 'member'
    handle: str | None
    name: str
    summary: str
    icon_url: str | None
    discoverable: bool
    created_at: datetime
    rsa_public_pem: str
    ed25519_multibase: str
    manually_approves: bool = False
    # chapters only
    level: str | None = None
    location: str | None = None
    parent_iri: str | None = None
    # members who saved their profile on the web (migration 0012)
    avatar_file: str | None = None  # under DATA/media/avatars, made by actors/avatars.py
    summary_html: str | None = None  # the Markdown summary, sanitised
    # chapters only (migration 0015): the day it was founded (its actor's `published`),
    # and its about text, Markdown and the sanitised HTML made from it
    founded_at: datetime | None = None
    about: str = ""
    about_html: str | None = None


@dataclass(frozen=True)
class ChapterRef:
    handle: str
    name: str
    level: str
    location: str | None
    founded_at: datetime


@dataclass(frozen=True)
class MemberRef:
    handle: str
    name: str
    joined_at: datetime


_ACTOR_SELECT = """
SELECT a.id, a.kind, a.handle, a.name, a.summary, a.icon_url, a.discoverable, a.created_at,
       rsa.public_key AS rsa_public_pem, ed.public_key AS ed25519_multibase,
       a.manually_approves, c.level, c.location, p.parent_iri, a.avatar_file, a.summary_html,
       c.founded_at, coalesce(c.about, '') AS about, c.about_html
FROM actors a
JOIN actor_keys rsa ON rsa.actor_id = a.id AND rsa.algorithm = 'rsa-2048'
JOIN actor_keys ed ON ed.actor_id = a.id AND ed.algorithm = 'ed25519'
LEFT JOIN chapters c ON c.actor_id = a.id
LEFT JOIN parents p ON p.chapter_id = c.actor_id AND p.state = 'accepted'
"""


def _actor(row: Row) -> ActorRecord:
    values: dict[str, Any] = dict(row)
    values["discoverable"] = bool(values["discoverable"])
    values["manually_approves"] = bool(values["manually_approves"])
    values["created_at"] = at(values["created_at"])
    values["founded_at"] = None if values["founded_at"] is None else at(values["founded_at"])
    values["id"] = int(values["id"])
    return ActorRecord(**values)


def _chapter_ref(row: Row) -> ChapterRef:
    return ChapterRef(handle=row[0], name=row[1], level=row[2], location=row[3],
                      founded_at=at(row[4]))


def _member_ref(row: Row) -> MemberRef:
    return MemberRef(handle=row[0], name=row[1], joined_at=at(row[2]))


def _key(handle: str) -> str:
    # Handles are stored lower case (validate_handle); a lookup matches whatever case it
    # was asked in, as WebFinger's `acct:Dublin@…` must find dublin.
    return handle.lower()


def _impossible(handle: str) -> bool:
    """A handle no actor can have, and PostgreSQL cannot even compare (text holds no NUL):
    a lookup from a URL or a WebFinger query must answer "no such actor", not fail."""
    return "\x00" in handle


async def _insert_actor(
    tx: Tx, kind: str, handle: str | None, name: str, summary: str,
    icon_url: str | None, keys: list[NewKey], now: datetime,
) -> int:
    try:
        actor_id = await tx.insert(
            "INSERT INTO actors (kind, handle, name, summary, icon_url, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (kind, None if handle is None else _key(handle), name, summary, icon_url, now),
        )
    except Conflict as exc:
        if handle is not None and exc.constraint == "actors.handle":
            raise HandleTaken(handle) from None
        raise
    await tx.executemany(
        "INSERT INTO actor_keys (actor_id, algorithm, public_key, private_key, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        [(actor_id, k.algorithm, k.public_key, k.private_key, now) for k in keys],
    )
    return int(actor_id)


async def ensure_node_actor(db: Database, name: str, keys: list[NewKey]) -> bool:
    """Create the node's Application actor unless it exists; True if it was created."""
    async with db.transaction() as tx:
        if await tx.fetchone("SELECT 1 FROM actors WHERE kind = 'node'"):
            return False
        await _insert_actor(tx, "node", None, name, "", None, keys, utcnow())
    return True


async def create_chapter(
    db: Database, handle: str, name: str, level: str, location: str | None,
    summary: str, icon_url: str | None, keys: list[NewKey], manually_approves: bool = False,
) -> int:
    now = utcnow()
    async with db.transaction() as tx:
        actor_id = await _insert_actor(tx, "chapter", handle, name, summary, icon_url, keys, now)
        if manually_approves:
            # In the creating transaction: a chapter must never exist, even for a moment,
            # accepting followers its organisers wanted to approve.
            await tx.execute("UPDATE actors SET manually_approves = TRUE WHERE id = ?",
                             (actor_id,))
        await tx.execute(
            "INSERT INTO chapters (actor_id, level, location, founded_at) VALUES (?, ?, ?, ?)",
            (actor_id, level, location, now),
        )
    return actor_id


async def create_member(
    db: Database, handle: str, name: str, chapter_handle: str,
    icon_url: str | None, keys: list[NewKey],
) -> int | None:
    """Create a member of a chapter; None when the chapter does not exist (nothing written)."""
    now = utcnow()
    async with db.transaction() as tx:
        chapter_id = await tx.fetchvalue(
            "SELECT c.actor_id FROM chapters c JOIN actors a ON a.id = c.actor_id"
            " WHERE a.handle = ?",
            (_key(chapter_handle),),
        )
        if chapter_id is None:
            return None
        actor_id = await _insert_actor(tx, "member", handle, name, "", icon_url, keys, now)
        await tx.execute(
            "INSERT INTO memberships (member_id, chapter_id, joined_at) VALUES (?, ?, ?)",
            (actor_id, chapter_id, now),
        )
    return actor_id


async def node_actor(db: Reader) -> ActorRecord | None:
    row = await db.fetchone(_ACTOR_SELECT + " WHERE a.kind = 'node'")
    return None if row is None else _actor(row)


async def actor_by_handle(
    db: Reader, handle: str
) -> ActorRecord | None:
    """By the reader, or inside a transaction that is about to describe the actor."""
    if _impossible(handle):
        return None
    row = await db.fetchone(_ACTOR_SELECT + " WHERE a.handle = ?", (_key(handle),))
    return None if row is None else _actor(row)


async def handle_exists(db: Reader, handle: str) -> bool:
    if _impossible(handle):
        return False
    return await db.fetchvalue("SELECT 1 FROM actors WHERE handle = ?",
                               (_key(handle),)) is not None


def _limit(limit: int | None) -> str:
    return "" if limit is None else f" LIMIT {int(limit)}"


async def chapters(db: Reader, limit: int | None = None) -> list[ChapterRef]:
    """The node's chapters, newest founded first."""
    rows = await db.fetchall(
        "SELECT a.handle, a.name, c.level, c.location, c.founded_at"
        " FROM chapters c JOIN actors a ON a.id = c.actor_id"
        " ORDER BY c.founded_at DESC, a.id DESC" + _limit(limit))
    return [_chapter_ref(r) for r in rows]


async def members(
    db: Reader, chapter_id: int | None = None, limit: int | None = None
) -> list[MemberRef]:
    """Members of one chapter (by its actor id), or the node's newest members."""
    if chapter_id is None:
        rows = await db.fetchall(
            "SELECT handle, name, created_at AS joined_at FROM actors WHERE kind = 'member'"
            " ORDER BY created_at DESC, id DESC" + _limit(limit))
    else:
        rows = await db.fetchall(
            "SELECT a.handle, a.name, m.joined_at FROM memberships m"
            " JOIN actors a ON a.id = m.member_id WHERE m.chapter_id = ?"
            # member_id (not a.id, the same value) so the index gives the order
            " ORDER BY m.joined_at DESC, m.member_id DESC" + _limit(limit),
            (chapter_id,),
        )
    return [_member_ref(r) for r in rows]


async def member_count(db: Reader, chapter_id: int) -> int:
    return await collection_size(db, chapter_id, "members")


async def members_page(
    db: Database, chapter_id: int, cursor: Cursor | None, limit: int
) -> tuple[list[MemberRef], Page]:
    """Members of a chapter, newest first, one page at a time (the members list page)."""
    page = await keyset(
        db, "SELECT a.handle, a.name, m.joined_at",
        "memberships m JOIN actors a ON a.id = m.member_id WHERE m.chapter_id = :c",
        {"c": chapter_id}, ("m.joined_at", "m.member_id"), True, cursor, limit,
        times=frozenset({"m.joined_at"}))
    return [_member_ref(r) for r in page.rows], page


async def member_chapters(db: Reader, member_id: int) -> list[ChapterRef]:
    rows = await db.fetchall(
        "SELECT a.handle, a.name, c.level, c.location, c.founded_at FROM memberships m"
        " JOIN chapters c ON c.actor_id = m.chapter_id JOIN actors a ON a.id = c.actor_id"
        " WHERE m.member_id = ? ORDER BY m.joined_at, a.id",
        (member_id,),
    )
    return [_chapter_ref(r) for r in rows]


async def count_actors(db: Reader, kind: str) -> int:
    return int(await db.fetchvalue("SELECT count(*) FROM actors WHERE kind = ?", (kind,)))


async def count_local_posts(db: Database) -> int:
    """Notes and items that are still published: a Create stays in the outbox after its
    object is deleted, so the objects are counted, not the Creates."""
    return int(await db.fetchvalue("SELECT count(*) FROM objects WHERE deleted_at IS NULL"))


# The collections every actor has. Each is (count, page) over one table, newest first.

async def collection_size(db: Reader, actor_id: int, name: str) -> int:
    """How many rows a collection has ('followers', 'following', 'outbox', 'members'),
    kept by triggers (migration 0006) instead of counted on each request."""
    total = await db.fetchvalue(
        "SELECT total FROM collection_sizes WHERE actor_id = ? AND name = ?", (actor_id, name))
    return int(total or 0)


async def outbox_count(db: Reader, actor_id: int) -> int:
    return await collection_size(db, actor_id, "outbox")


async def outbox_page(
    db: Database, actor_id: int, cursor: Cursor | None, limit: int
) -> tuple[list[Any], Page]:
    page = await keyset(db, "SELECT document", "activities WHERE actor_id = :a AND public = TRUE",
                        {"a": actor_id}, ("id",), True, cursor, limit)
    return [json.loads(r[0]) for r in page.rows], page


async def followers_count(db: Reader, actor_id: int) -> int:
    return await collection_size(db, actor_id, "followers")


async def followers_page(
    db: Database, actor_id: int, cursor: Cursor | None, limit: int
) -> tuple[list[Any], Page]:
    page = await keyset(db, "SELECT follower_iri",
                        "followers WHERE actor_id = :a AND state = 'accepted'",
                        {"a": actor_id}, ("id",), True, cursor, limit)
    return [r[0] for r in page.rows], page


async def following_count(db: Reader, actor_id: int) -> int:
    return await collection_size(db, actor_id, "following")


async def following_page(
    db: Database, actor_id: int, cursor: Cursor | None, limit: int
) -> tuple[list[Any], Page]:
    page = await keyset(db, "SELECT target_iri",
                        "following WHERE actor_id = :a AND state = 'accepted'",
                        {"a": actor_id}, ("id",), True, cursor, limit)
    return [r[0] for r in page.rows], page


async def subchapters_count(db: Reader, chapter_id: int) -> int:
    return int(await db.fetchvalue(
        "SELECT count(*) FROM subchapters WHERE chapter_id = ? AND state = 'accepted'",
        (chapter_id,),
    ))


async def subchapters_page(
    db: Database, chapter_id: int, cursor: Cursor | None, limit: int
) -> tuple[list[Any], Page]:
    """Actor ids of the accepted subchapters, newest accepted first."""
    page = await keyset(db, "SELECT child_iri",
                        "subchapters WHERE chapter_id = :a AND state = 'accepted'",
                        {"a": chapter_id}, ("decided_at", "id"), True, cursor, limit,
                        times=frozenset({"decided_at"}))
    return [r[0] for r in page.rows], page


async def chapters_by_level(db: Database) -> dict[str, int]:
    rows = await db.fetchall("SELECT level, count(*) FROM chapters GROUP BY level ORDER BY level")
    return {r[0]: int(r[1]) for r in rows}


async def signing_key(db: Reader, actor_id: int | None) -> tuple[str, str | None] | None:
    """(RSA private key PEM, handle) of a local actor, or of the node actor when None.

    Only the code that signs requests calls this; the PEM never leaves the process.
    """
    where = "a.kind = 'node'" if actor_id is None else "a.id = ?"
    row = await db.fetchone(
        "SELECT k.private_key, a.handle FROM actor_keys k JOIN actors a ON a.id = k.actor_id"
        f" WHERE k.algorithm = 'rsa-2048' AND {where}",
        () if actor_id is None else (actor_id,),
    )
    return None if row is None else (row[0], row[1])


async def set_manual_approval(db: Database, handle: str, manual: bool) -> bool:
    async with db.transaction() as tx:
        changed: int = await tx.execute(
            "UPDATE actors SET manually_approves = ? WHERE handle = ?", (manual, _key(handle))
        )
    return changed == 1


async def handle_of(db: Reader, actor_id: int) -> str | None:
    """The handle of a local actor (None for the node actor)."""
    handle = await db.fetchvalue("SELECT handle FROM actors WHERE id = ?", (actor_id,))
    return None if handle is None else str(handle)


async def proof_key(
    db: Reader, actor_id: int
) -> tuple[str, str | None] | None:
    """(Ed25519 private key PEM, handle) of a local actor, for object integrity proofs."""
    row = await db.fetchone(
        "SELECT k.private_key, a.handle FROM actor_keys k JOIN actors a ON a.id = k.actor_id"
        " WHERE k.algorithm = 'ed25519' AND a.id = ?",
        (actor_id,),
    )
    return None if row is None else (row[0], row[1])
