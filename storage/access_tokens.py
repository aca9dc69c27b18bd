"""Personal access tokens: a member's scripts publish with them (client-to-server).

As with sessions, the token itself is never stored, only a hash of it (callers pass the
hash): a copy of the database publishes nothing. A token acts for its account alone and
stops working once revoked, or when the account goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.accounts import _ACCOUNT, Account, _account
from storage.database import Database, Reader
from storage.timestamps import at, parse

# last_used_at is written at most this often: a script posting in a loop costs few writes.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class AccessToken:
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


async def create(db: Database, member: int, name: str, token_hash: str,
                 now: datetime) -> int:
    async with db.transaction() as tx:
        token_id: int = await tx.insert(
            "INSERT INTO access_tokens (account_id, name, token_hash, created_at)"
            " VALUES (?, ?, ?, ?) RETURNING id", (member, name, token_hash, now))
    return token_id


async def of_account(db: Reader, member: int, limit: int = 100) -> list[AccessToken]:
    """The account's tokens, newest first: those in use before the revoked ones."""
    rows = await db.fetchall(
        "SELECT id, name, created_at, last_used_at, revoked_at FROM access_tokens"
        " WHERE account_id = ? ORDER BY revoked_at IS NOT NULL, created_at DESC, id DESC"
        " LIMIT ?", (member, limit))
    return [AccessToken(id=int(r[0]), name=r[1], created_at=at(r[2]),
                        last_used_at=parse(r[3]), revoked_at=parse(r[4])) for r in rows]


async def active_count(db: Reader, member: int) -> int:
    return int(await db.fetchvalue(
        "SELECT count(*) FROM access_tokens WHERE account_id = ? AND revoked_at IS NULL",
        (member,)))


async def revoke(db: Database, member: int, token_id: int, now: datetime) -> bool:
    """Revoke one of the account's own tokens; False when it has no such token in use."""
    async with db.transaction() as tx:
        changed: int = await tx.execute(
            "UPDATE access_tokens SET revoked_at = ?"
            " WHERE id = ? AND account_id = ? AND revoked_at IS NULL",
            (now, token_id, member))
    return changed == 1


async def account_for(db: Database, token_hash: str, now: datetime) -> Account | None:
    """The account a token in use acts for (noting that it was used), or None."""
    row = await db.fetchone(
        f"SELECT t.id, t.last_used_at, {_ACCOUNT} FROM access_tokens t"
        " JOIN accounts a ON a.member_id = t.account_id JOIN actors m ON m.id = a.member_id"
        " WHERE t.token_hash = ? AND t.revoked_at IS NULL", (token_hash,))
    if row is None:
        return None
    last_used = parse(row[1])
    if last_used is None or now - last_used >= TOUCH_EVERY:
        async with db.transaction() as tx:
            await tx.execute("UPDATE access_tokens SET last_used_at = ? WHERE id = ?",
                             (now, int(row[0])))
    return _account(row, 2)
