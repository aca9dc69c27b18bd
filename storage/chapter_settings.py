"""A chapter's settings, and what its organisers' workspace lists: members with their
roles, followers and subchapters waiting for an answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.database import Database, Reader, Row, Tx
from storage.joins import leave_in
from storage.paging import Cursor, Page, keyset
from storage.timestamps import at


class LastOrganiser(Exception):
    """The change would leave the chapter without an organiser."""


@dataclass(frozen=True)
class Settings:
    name: str
    summary: str
    location: str | None
    founded_at: datetime
    about: str
    about_html: str | None
    manually_approves: bool
    joins_open: bool
    # What its items are written in unless their author says; None: the node's language.
    language: str | None = None


@dataclass(frozen=True)
class Member:
    id: int
    handle: str
    name: str
    joined_at: datetime
    organiser: bool


@dataclass(frozen=True)
class Waiting:
    """What the workspace's landing page counts."""

    join_requests: int
    followers: int
    subchapters: int


async def settings(db: Reader, chapter: int) -> Settings | None:
    row = await db.fetchone(
        "SELECT a.name, a.summary, c.location, c.founded_at, c.about, c.about_html,"
        " a.manually_approves, c.joins_open, c.language"
        " FROM chapters c JOIN actors a ON a.id = c.actor_id WHERE c.actor_id = ?", (chapter,))
    if row is None:
        return None
    return Settings(name=row[0], summary=row[1], location=row[2], founded_at=at(row[3]),
                    about=row[4] or "", about_html=row[5], manually_approves=bool(row[6]),
                    joins_open=bool(row[7]), language=row[8])


async def save(tx: Tx, chapter: int, new: Settings) -> None:
    """Everything the settings form holds, in the transaction that also queues the
    chapter's Update."""
    await tx.execute(
        "UPDATE actors SET name = ?, summary = ?, manually_approves = ?"
        " WHERE id = ? AND kind = 'chapter'",
        (new.name, new.summary, new.manually_approves, chapter))
    await tx.execute(
        "UPDATE chapters SET location = ?, founded_at = ?, about = ?, about_html = ?,"
        " joins_open = ?, language = ? WHERE actor_id = ?",
        (new.location, new.founded_at, new.about, new.about_html, new.joins_open,
         new.language, chapter))


async def set_founded(tx: Tx, chapter: int, founded_at: datetime) -> bool:
    """The day a chapter was founded (the CLI's --founded; the form saves it with the rest)."""
    changed = await tx.execute(
        "UPDATE chapters SET founded_at = ? WHERE actor_id = ?", (founded_at, chapter))
    return changed == 1


async def set_language(tx: Tx, chapter: int, language: str | None) -> bool:
    """What the chapter's items are written in unless their author says (the CLI's
    --language); None: the node's language."""
    changed = await tx.execute(
        "UPDATE chapters SET language = ? WHERE actor_id = ?", (language, chapter))
    return changed == 1


async def written_in(db: Reader, actor: int) -> str | None:
    """The language an actor's items are written in unless their author says: a chapter's
    setting, or for a member that of their chapter; None: the node's language."""
    own = await db.fetchone("SELECT language FROM chapters WHERE actor_id = ?", (actor,))
    if own is not None:
        return None if own[0] is None else str(own[0])
    found = await db.fetchvalue(
        "SELECT c.language FROM memberships m JOIN chapters c ON c.actor_id = m.chapter_id"
        " WHERE m.member_id = ? ORDER BY m.joined_at LIMIT 1", (actor,))
    return None if found is None else str(found)


async def set_avatar(tx: Tx, chapter: int, file_name: str | None, icon_url: str | None) -> None:
    """The picture this node made from an organiser's upload, and the URL it is served at;
    None for both removes it."""
    await tx.execute(
        "UPDATE actors SET avatar_file = ?, icon_url = ? WHERE id = ? AND kind = 'chapter'",
        (file_name, icon_url, chapter))


async def waiting(db: Reader, chapter: int) -> Waiting:
    joins = await db.fetchvalue(
        "SELECT count(*) FROM join_requests WHERE chapter_id = ? AND state = 'requested'"
        " AND confirm_by IS NULL", (chapter,))
    followers = await db.fetchvalue(
        "SELECT count(*) FROM followers WHERE actor_id = ? AND state = 'requested'", (chapter,))
    subchapters = await db.fetchvalue(
        "SELECT count(*) FROM subchapters WHERE chapter_id = ? AND state = 'requested'",
        (chapter,))
    return Waiting(int(joins or 0), int(followers or 0), int(subchapters or 0))


_MEMBER = ("SELECT a.id, a.handle, a.name, m.joined_at, o.member_id IS NOT NULL AS organiser")
_MEMBERS = ("memberships m JOIN actors a ON a.id = m.member_id"
            " LEFT JOIN organisers o ON o.chapter_id = m.chapter_id AND o.member_id = m.member_id"
            " WHERE m.chapter_id = :c")


def _member(row: Row) -> Member:
    return Member(id=int(row[0]), handle=row[1], name=row[2], joined_at=at(row[3]),
                  organiser=bool(row[4]))


async def organisers(db: Reader, chapter: int) -> list[Member]:
    """The chapter's organisers who are its members (a few), by name."""
    rows = await db.fetchall(
        f"{_MEMBER} FROM {_MEMBERS} AND o.member_id IS NOT NULL ORDER BY lower(a.name), a.id",
        {"c": chapter})
    return [_member(r) for r in rows]


async def members_page(db: Database, chapter: int, cursor: Cursor | None, limit: int
                       ) -> tuple[list[Member], Page]:
    """The chapter's members with whether each organises it, newest first, a page at a
    time (a chapter may have thousands)."""
    page = await keyset(db, _MEMBER, _MEMBERS, {"c": chapter}, ("m.joined_at", "m.member_id"),
                        True, cursor, limit, times=frozenset({"m.joined_at"}))
    return [_member(r) for r in page.rows], page


async def member(db: Reader, chapter: int, handle: str) -> Member | None:
    if "\x00" in handle:
        return None
    row = await db.fetchone(f"{_MEMBER} FROM {_MEMBERS} AND a.handle = :h",
                            {"c": chapter, "h": handle.lower()})
    return None if row is None else _member(row)


async def _organises(tx: Tx, chapter: int, member: int) -> bool:
    return await tx.fetchvalue(
        "SELECT 1 FROM organisers WHERE chapter_id = ? AND member_id = ?",
        (chapter, member)) is not None


async def _others_organise(tx: Tx, chapter: int, member: int) -> bool:
    return await tx.fetchvalue(
        "SELECT 1 FROM organisers WHERE chapter_id = ? AND member_id <> ?",
        (chapter, member)) is not None


async def remove_member(db: Database, chapter: int, member: int) -> bool:
    """The member leaves the chapter (and stops organising it, as leaving does); raises
    LastOrganiser rather than leave the chapter with nobody to run it."""
    async with db.transaction() as tx:
        if (await _organises(tx, chapter, member)
                and not await _others_organise(tx, chapter, member)):
            raise LastOrganiser(member)
        return await leave_in(tx, member, chapter)


async def stop_organising(db: Database, chapter: int, member: int) -> bool:
    """Raises LastOrganiser when the member is the chapter's only organiser."""
    async with db.transaction() as tx:
        if not await _organises(tx, chapter, member):
            return False
        if not await _others_organise(tx, chapter, member):
            raise LastOrganiser(member)
        changed: int = await tx.execute(
            "DELETE FROM organisers WHERE chapter_id = ? AND member_id = ?", (chapter, member))
    return changed == 1
