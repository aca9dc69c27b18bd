"""Requests to join a chapter, and whether a chapter lets people join without approval.

A request from a visitor holds the name, username and password hash of the member it
will create; a request from a member of another chapter names that member instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from storage.database import Conflict, Database, Reader, Row, Tx
from storage.mail import Mail, queue
from storage.timestamps import at, parse

REQUESTED, APPROVED, REJECTED = "requested", "approved", "rejected"


class RequestExists(Exception):
    """The username (or this member, for this chapter) already waits in a request."""


@dataclass(frozen=True)
class ChapterChoice:
    handle: str
    name: str
    level: str
    location: str | None
    joins_open: bool


@dataclass(frozen=True)
class JoinRequest:
    id: int
    chapter_id: int
    username: str
    name: str
    password_hash: str | None
    email: str | None
    message: str
    member_id: int | None
    state: str
    created_at: datetime
    decided_at: datetime | None
    # Set while the email address waits to be confirmed; organisers do not see it yet.
    confirm_by: datetime | None = None
    email_confirmed_at: datetime | None = None


_CHOICE = "SELECT a.handle, a.name, c.level, c.location, c.joins_open" \
          " FROM chapters c JOIN actors a ON a.id = c.actor_id"
_REQUEST = ("SELECT id, chapter_id, username, name, password_hash, email, message, member_id,"
            " state, created_at, decided_at, confirm_by, email_confirmed_at FROM join_requests")


def _choice(row: Row, offset: int = 0) -> ChapterChoice:
    return ChapterChoice(handle=row[offset], name=row[offset + 1], level=row[offset + 2],
                         location=row[offset + 3], joins_open=bool(row[offset + 4]))


def _request(row: Row) -> JoinRequest:
    return JoinRequest(
        id=int(row[0]), chapter_id=int(row[1]), username=row[2], name=row[3],
        password_hash=row[4], email=row[5], message=row[6],
        member_id=None if row[7] is None else int(row[7]), state=row[8],
        created_at=at(row[9]), decided_at=None if row[10] is None else at(row[10]),
        confirm_by=parse(row[11]), email_confirmed_at=parse(row[12]))


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def find_chapters(db: Reader, query: str, limit: int = 50) -> list[ChapterChoice]:
    """The node's chapters whose name or place contains `query` (any case), by name."""
    order = " ORDER BY lower(a.name), a.id LIMIT ?"
    query = query.replace("\x00", "").strip()
    if not query:
        rows = await db.fetchall(_CHOICE + order, (limit,))
    else:
        pattern = _like(query)
        rows = await db.fetchall(
            _CHOICE + " WHERE lower(a.name) LIKE ? ESCAPE '\\'"
            " OR lower(coalesce(c.location, '')) LIKE ? ESCAPE '\\'" + order,
            (pattern, pattern, limit))
    return [_choice(r) for r in rows]


async def chapter_choice(db: Reader, handle: str) -> tuple[int, ChapterChoice] | None:
    if "\x00" in handle:
        return None
    row = await db.fetchone(_CHOICE.replace("SELECT ", "SELECT c.actor_id, ", 1)
                            + " WHERE a.handle = ?", (handle.lower(),))
    return None if row is None else (int(row[0]), _choice(row, 1))


async def chapter_by_id(db: Reader, chapter: int) -> ChapterChoice | None:
    row = await db.fetchone(_CHOICE + " WHERE c.actor_id = ?", (chapter,))
    return None if row is None else _choice(row)


async def set_joins_open(db: Database, handle: str, joins_open: bool) -> bool:
    async with db.transaction() as tx:
        changed: int = await tx.execute(
            "UPDATE chapters SET joins_open = ? WHERE actor_id ="
            " (SELECT id FROM actors WHERE handle = ? AND kind = 'chapter')",
            (joins_open, handle.lower()))
    return changed == 1


async def username_pending(db: Reader, username: str) -> bool:
    return await db.fetchvalue(
        "SELECT 1 FROM join_requests WHERE username = ? AND state = 'requested'"
        " AND member_id IS NULL", (username.lower(),)) is not None


async def add_request(db: Database, chapter: int, username: str, name: str,
                      password_hash: str | None, email: str | None, message: str,
                      member: int | None, now: datetime, mail: Sequence[Mail] = (),
                      confirm_token_hash: str | None = None,
                      confirm_by: datetime | None = None) -> int:
    """A waiting request, and `mail` queued with it. With `confirm_by`, it waits for its
    email address to be confirmed (`confirm_email`) before organisers see it."""
    async with db.transaction() as tx:
        try:
            request_id: int = await tx.insert(
                "INSERT INTO join_requests (chapter_id, username, name, password_hash, email,"
                " message, member_id, state, created_at, confirm_token_hash, confirm_by)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (chapter, username.lower(), name, password_hash, email, message, member,
                 REQUESTED, now, confirm_token_hash, confirm_by))
        except Conflict:
            raise RequestExists(username) from None
        await queue(tx, mail, now)
    return request_id


async def forget_unconfirmed(db: Database, now: datetime) -> int:
    """Delete requests whose email address was not confirmed in time, freeing their
    usernames; how many."""
    async with db.transaction() as tx:
        deleted: int = await tx.execute(
            "DELETE FROM join_requests WHERE state = 'requested' AND confirm_by < ?", (now,))
    return deleted


async def request_to_confirm(db: Reader, token_hash: str, now: datetime) -> JoinRequest | None:
    """The request a confirmation link is for, while it waits and is unexpired."""
    row = await db.fetchone(
        _REQUEST + " WHERE confirm_token_hash = ? AND state = 'requested' AND confirm_by > ?",
        (token_hash, now))
    return None if row is None else _request(row)


async def confirm_email(db: Database, token_hash: str, now: datetime,
                        mail: Sequence[Mail] = ()) -> bool:
    """Mark the request's email address confirmed, once, and queue `mail` with it (the
    organisers hear of it now); False when the link was used, expired or unknown."""
    async with db.transaction() as tx:
        changed: int = await tx.execute(
            "UPDATE join_requests SET confirm_token_hash = NULL, confirm_by = NULL,"
            " email_confirmed_at = ? WHERE confirm_token_hash = ? AND state = 'requested'"
            " AND confirm_by > ?", (now, token_hash, now))
        if changed != 1:
            return False
        await queue(tx, mail, now)
    return True


async def pending(db: Reader, chapter: int) -> list[JoinRequest]:
    rows = await db.fetchall(
        _REQUEST + " WHERE chapter_id = ? AND state = 'requested' AND confirm_by IS NULL"
        " ORDER BY created_at, id",
        (chapter,))
    return [_request(r) for r in rows]


async def pending_count(db: Reader, chapter: int) -> int:
    return int(await db.fetchvalue(
        "SELECT count(*) FROM join_requests WHERE chapter_id = ? AND state = 'requested'"
        " AND confirm_by IS NULL", (chapter,)))


async def request_by_id(db: Reader, request_id: int) -> JoinRequest | None:
    row = await db.fetchone(_REQUEST + " WHERE id = ?", (request_id,))
    return None if row is None else _request(row)


async def member_request_pending(db: Reader, chapter: int, member: int) -> bool:
    return await db.fetchvalue(
        "SELECT 1 FROM join_requests WHERE chapter_id = ? AND member_id = ?"
        " AND state = 'requested'", (chapter, member)) is not None


async def decide(db: Database, request_id: int, state: str, by: int | None,
                 now: datetime) -> bool:
    """Mark a waiting request approved or rejected; False when it no longer waits. A
    rejected request keeps only who asked, where and when."""
    wipe = ", password_hash = NULL, email = NULL, message = ''" if state == REJECTED else \
        ", password_hash = NULL, email = NULL"
    async with db.transaction() as tx:
        changed: int = await tx.execute(
            f"UPDATE join_requests SET state = ?, decided_at = ?, decided_by = ?{wipe}"
            " WHERE id = ? AND state = 'requested'", (state, now, by, request_id))
    return changed == 1


async def add_membership(db: Database, member: int, chapter: int, now: datetime) -> bool:
    async with db.transaction() as tx:
        added: int = await tx.execute(
            "INSERT INTO memberships (member_id, chapter_id, joined_at) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING", (member, chapter, now))
    return added == 1


async def is_member(db: Reader, member: int, chapter: int) -> bool:
    return await db.fetchvalue(
        "SELECT 1 FROM memberships WHERE member_id = ? AND chapter_id = ?",
        (member, chapter)) is not None


async def leave(db: Database, member: int, chapter: int) -> bool:
    """A member leaving a chapter also stops organising it: an organiser who left would
    otherwise go on deciding who joins a chapter they are no longer part of."""
    async with db.transaction() as tx:
        return await leave_in(tx, member, chapter)


async def leave_in(tx: Tx, member: int, chapter: int) -> bool:
    """leave(), in a transaction of the caller's (an organiser removing a member)."""
    removed: int = await tx.execute(
        "DELETE FROM memberships WHERE member_id = ? AND chapter_id = ?", (member, chapter))
    await tx.execute("DELETE FROM organisers WHERE member_id = ? AND chapter_id = ?",
                     (member, chapter))
    return removed == 1
