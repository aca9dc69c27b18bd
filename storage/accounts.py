"""Accounts, sessions, organisers, one-time password links and failed logins.

Tokens (a session's cookie, a one-time link) are never stored: callers pass a hash of
them, so neither a copy of the database nor a backup can be used to log in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from storage.database import Conflict, Database, Reader, Row, Tx
from storage.mail import Mail, queue
from storage.timestamps import at


class AccountExists(Exception):
    """The member already has an account."""


@dataclass(frozen=True)
class Account:
    member_id: int
    handle: str
    name: str
    password_hash: str | None
    is_admin: bool
    created_at: datetime
    sessions_valid_after: datetime
    email: str | None = None
    language: str | None = None  # chosen by the member; None: the browser decides
    time_zone: str | None = None


@dataclass(frozen=True)
class Session:
    id: int
    account: Account
    csrf_secret: str
    created_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True)
class ChapterLink:
    handle: str
    name: str


@dataclass(frozen=True)
class Organiser:
    handle: str
    name: str
    appointed_at: datetime


@dataclass(frozen=True)
class FailedLogins:
    by_username: int
    by_address: int


_ACCOUNT = ("a.member_id, m.handle, m.name, a.password_hash, a.is_admin, a.created_at,"
            " a.sessions_valid_after, a.email, a.language, a.time_zone")


def _account(row: Row, offset: int = 0) -> Account:
    return Account(
        member_id=int(row[offset]), handle=row[offset + 1], name=row[offset + 2],
        password_hash=row[offset + 3], is_admin=bool(row[offset + 4]),
        created_at=at(row[offset + 5]), sessions_valid_after=at(row[offset + 6]),
        email=row[offset + 7], language=row[offset + 8], time_zone=row[offset + 9])


def _key(handle: str) -> str | None:
    """Handles are stored lower case; one with a NUL is no handle (PostgreSQL text holds
    none), so a lookup of it finds nothing instead of failing."""
    return None if "\x00" in handle else handle.lower()


async def member_id(db: Reader, handle: str) -> int | None:
    """The actor id of the local member with this handle."""
    key = _key(handle)
    if key is None:
        return None
    value = await db.fetchvalue(
        "SELECT id FROM actors WHERE handle = ? AND kind = 'member'", (key,))
    return None if value is None else int(value)


async def chapter_id(db: Reader, handle: str) -> int | None:
    key = _key(handle)
    if key is None:
        return None
    value = await db.fetchvalue(
        "SELECT c.actor_id FROM chapters c JOIN actors a ON a.id = c.actor_id"
        " WHERE a.handle = ?", (key,))
    return None if value is None else int(value)


async def create_account(db: Database, member: int, password_hash: str | None,
                         is_admin: bool, now: datetime, email: str | None = None) -> None:
    async with db.transaction() as tx:
        try:
            await tx.execute(
                "INSERT INTO accounts (member_id, password_hash, is_admin, created_at,"
                " sessions_valid_after, email) VALUES (?, ?, ?, ?, ?, ?)",
                (member, password_hash, is_admin, now, now, email))
        except Conflict as exc:
            if exc.constraint == "accounts.member_id":
                raise AccountExists(str(member)) from None
            raise


async def account_by_handle(db: Reader, handle: str) -> Account | None:
    key = _key(handle)
    if key is None:
        return None
    row = await db.fetchone(
        f"SELECT {_ACCOUNT} FROM accounts a JOIN actors m ON m.id = a.member_id"
        " WHERE m.handle = ?", (key,))
    return None if row is None else _account(row)


async def accounts_to_reset(db: Reader, username_or_email: str) -> list[Account]:
    """The accounts with an email address that a "forgot my password" request names: by
    username, or every account with that email address (any case)."""
    text = username_or_email.strip()
    if "\x00" in text or not text:
        return []
    rows = await db.fetchall(
        f"SELECT {_ACCOUNT} FROM accounts a JOIN actors m ON m.id = a.member_id"
        " WHERE a.email IS NOT NULL AND (m.handle = ? OR lower(a.email) = ?)"
        " ORDER BY a.member_id", (text.lower(), text.lower()))
    return [_account(r) for r in rows]


async def set_email(db: Database, member: int, email: str | None) -> None:
    async with db.transaction() as tx:
        await tx.execute("UPDATE accounts SET email = ? WHERE member_id = ?", (email, member))


async def set_reading(db: Database, member: int, language: str | None,
                      time_zone: str | None) -> None:
    """The language the member reads the site in and the zone moments are shown in."""
    async with db.transaction() as tx:
        await tx.execute("UPDATE accounts SET language = ?, time_zone = ? WHERE member_id = ?",
                         (language, time_zone, member))


async def adopt_language(db: Database, member: int, language: str) -> None:
    """The language chosen before logging in, kept unless the account has one already."""
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE accounts SET language = ? WHERE member_id = ? AND language IS NULL",
            (language, member))


async def set_language(db: Database, member: int, language: str) -> None:
    async with db.transaction() as tx:
        await tx.execute("UPDATE accounts SET language = ? WHERE member_id = ?",
                         (language, member))


async def set_admin(db: Database, member: int, is_admin: bool) -> None:
    async with db.transaction() as tx:
        await tx.execute("UPDATE accounts SET is_admin = ? WHERE member_id = ?",
                         (is_admin, member))


async def set_password(db: Database, member: int, password_hash: str,
                       keep_session: int | None = None) -> None:
    """A new password hash; every session of the account but `keep_session` ends."""
    async with db.transaction() as tx:
        await tx.execute("UPDATE accounts SET password_hash = ? WHERE member_id = ?",
                         (password_hash, member))
        await tx.execute("DELETE FROM sessions WHERE account_id = ? AND id <> ?",
                         (member, -1 if keep_session is None else keep_session))


async def rehash_password(db: Database, member: int, old_hash: str, new_hash: str) -> None:
    """Store a hash made with newer parameters, unless the password changed meanwhile."""
    async with db.transaction() as tx:
        await tx.execute(
            "UPDATE accounts SET password_hash = ? WHERE member_id = ? AND password_hash = ?",
            (new_hash, member, old_hash))


async def _end_sessions(tx: Tx, member: int, now: datetime) -> int:
    await tx.execute("UPDATE accounts SET sessions_valid_after = ? WHERE member_id = ?",
                     (now, member))
    ended: int = await tx.execute("DELETE FROM sessions WHERE account_id = ?", (member,))
    return ended


async def log_out_everywhere(db: Database, member: int, now: datetime) -> int:
    """End every session of the account; how many there were."""
    async with db.transaction() as tx:
        return await _end_sessions(tx, member, now)


# Sessions

async def create_session(db: Database, member: int, token_hash: str, csrf_secret: str,
                         now: datetime, idle_before: datetime) -> int:
    """A new session. Sessions idle since before `idle_before` (anyone's: most people
    never come back to log out) are deleted meanwhile."""
    async with db.transaction() as tx:
        await tx.execute("DELETE FROM sessions WHERE last_seen_at < ?", (idle_before,))
        session_id: int = await tx.insert(
            "INSERT INTO sessions (token_hash, account_id, csrf_secret, created_at,"
            " last_seen_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
            (token_hash, member, csrf_secret, now, now))
    return session_id


async def session_by_token(db: Reader, token_hash: str) -> Session | None:
    row = await db.fetchone(
        f"SELECT s.id, s.csrf_secret, s.created_at, s.last_seen_at, {_ACCOUNT}"
        " FROM sessions s JOIN accounts a ON a.member_id = s.account_id"
        " JOIN actors m ON m.id = a.member_id WHERE s.token_hash = ?", (token_hash,))
    if row is None:
        return None
    return Session(id=int(row[0]), csrf_secret=row[1], created_at=at(row[2]),
                   last_seen_at=at(row[3]), account=_account(row, 4))


async def touch_session(db: Database, session: int, now: datetime) -> None:
    async with db.transaction() as tx:
        await tx.execute("UPDATE sessions SET last_seen_at = ? WHERE id = ?", (now, session))


async def delete_session(db: Database, session: int) -> None:
    async with db.transaction() as tx:
        await tx.execute("DELETE FROM sessions WHERE id = ?", (session,))


async def session_count(db: Reader, member: int) -> int:
    return int(await db.fetchvalue(
        "SELECT count(*) FROM sessions WHERE account_id = ?", (member,)))


async def member_chapters(db: Reader, member: int) -> list[ChapterLink]:
    rows = await db.fetchall(
        "SELECT a.handle, a.name FROM memberships m JOIN actors a ON a.id = m.chapter_id"
        " WHERE m.member_id = ? ORDER BY m.joined_at, a.id", (member,))
    return [ChapterLink(handle=r[0], name=r[1]) for r in rows]


# Organisers

async def add_organiser(db: Database, chapter: int, member: int, now: datetime) -> bool:
    """Appoint; False when the member already organises the chapter."""
    async with db.transaction() as tx:
        changed: int = await tx.execute(
            "INSERT INTO organisers (chapter_id, member_id, appointed_at) VALUES (?, ?, ?)"
            " ON CONFLICT (chapter_id, member_id) DO NOTHING", (chapter, member, now))
    return changed == 1


async def remove_organiser(db: Database, chapter: int, member: int) -> bool:
    async with db.transaction() as tx:
        changed: int = await tx.execute(
            "DELETE FROM organisers WHERE chapter_id = ? AND member_id = ?", (chapter, member))
    return changed == 1


async def organisers(db: Reader, chapter: int) -> list[Organiser]:
    rows = await db.fetchall(
        "SELECT a.handle, a.name, o.appointed_at FROM organisers o"
        " JOIN actors a ON a.id = o.member_id WHERE o.chapter_id = ?"
        " ORDER BY o.appointed_at, a.id", (chapter,))
    return [Organiser(handle=r[0], name=r[1], appointed_at=at(r[2])) for r in rows]


async def organised_chapters(db: Reader, member: int) -> list[ChapterLink]:
    rows = await db.fetchall(
        "SELECT a.handle, a.name FROM organisers o JOIN actors a ON a.id = o.chapter_id"
        " WHERE o.member_id = ? ORDER BY o.appointed_at, a.id", (member,))
    return [ChapterLink(handle=r[0], name=r[1]) for r in rows]


# One-time password links

async def create_password_link(db: Database, member: int, token_hash: str, now: datetime,
                               expires_at: datetime, mail: Sequence[Mail] = ()) -> None:
    """A one-time link; `mail` (the link, mailed) is queued with it."""
    async with db.transaction() as tx:
        await tx.execute("DELETE FROM password_links WHERE expires_at < ?", (now,))
        await tx.execute(
            "INSERT INTO password_links (token_hash, account_id, created_at, expires_at)"
            " VALUES (?, ?, ?, ?)", (token_hash, member, now, expires_at))
        await queue(tx, mail, now)


async def password_link_account(db: Reader, token_hash: str, now: datetime) -> Account | None:
    """The account a link sets the password of, while it is unused and unexpired."""
    row = await db.fetchone(
        f"SELECT {_ACCOUNT} FROM password_links l JOIN accounts a ON a.member_id = l.account_id"
        " JOIN actors m ON m.id = a.member_id"
        " WHERE l.token_hash = ? AND l.used_at IS NULL AND l.expires_at > ?",
        (token_hash, now))
    return None if row is None else _account(row)


async def use_password_link(db: Database, token_hash: str, password_hash: str,
                            now: datetime) -> int | None:
    """Set the password through the link, once: the member's id, or None when the link is
    used, expired or unknown. Every earlier session of the account ends."""
    async with db.transaction() as tx:
        member = await tx.fetchvalue(
            "UPDATE password_links SET used_at = ? WHERE token_hash = ? AND used_at IS NULL"
            " AND expires_at > ? RETURNING account_id", (now, token_hash, now))
        if member is None:
            return None
        await tx.execute("UPDATE accounts SET password_hash = ? WHERE member_id = ?",
                         (password_hash, member))
        await _end_sessions(tx, int(member), now)
        return int(member)


# Failed logins

async def failed_logins(db: Reader, username: str, address: str,
                        since: datetime) -> FailedLogins:
    row = await db.fetchone(
        "SELECT (SELECT count(*) FROM failed_logins WHERE username = ? AND attempted_at > ?),"
        " (SELECT count(*) FROM failed_logins WHERE address = ? AND attempted_at > ?)",
        (username, since, address, since))
    assert row is not None
    return FailedLogins(by_username=int(row[0]), by_address=int(row[1]))


async def record_failed_login(db: Database, username: str, address: str, now: datetime,
                              forget_before: datetime) -> None:
    """Record one; those older than `forget_before` no longer count and are deleted."""
    async with db.transaction() as tx:
        await tx.execute("DELETE FROM failed_logins WHERE attempted_at < ?", (forget_before,))
        await tx.execute(
            "INSERT INTO failed_logins (username, address, attempted_at) VALUES (?, ?, ?)",
            (username, address, now))


async def clear_failed_logins(db: Database, username: str) -> None:
    async with db.transaction() as tx:
        await tx.execute("DELETE FROM failed_logins WHERE username = ?", (username,))

