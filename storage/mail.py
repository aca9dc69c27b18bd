"""The outgoing mail queue: mail is written here, in the transaction of whatever causes
it, and a sender takes it from here to the SMTP server.

So no mail is lost when the server is down or the node stops, and no mail goes out for
something that was rolled back. A sender claims a mail by moving its next attempt past a
lease, so two `serve` processes never send one mail twice at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from storage.database import Reader, Row, Tx
from storage.timestamps import at, parse


@dataclass(frozen=True)
class Mail:
    """A plain-text mail to queue."""

    recipient: str
    subject: str
    body: str


@dataclass(frozen=True)
class QueuedMail:
    id: int
    recipient: str
    subject: str
    body: str
    created_at: datetime
    attempts: int
    next_attempt_at: datetime | None
    sent_at: datetime | None
    failed_at: datetime | None
    last_error: str | None


_QUEUED = ("SELECT id, recipient, subject, body, created_at, attempts, next_attempt_at,"
           " sent_at, failed_at, last_error FROM outgoing_mail")


def _queued(row: Row) -> QueuedMail:
    return QueuedMail(
        id=int(row[0]), recipient=row[1], subject=row[2], body=row[3],
        created_at=at(row[4]), attempts=int(row[5]), next_attempt_at=parse(row[6]),
        sent_at=parse(row[7]), failed_at=parse(row[8]), last_error=row[9])


async def queue(tx: Tx, mails: Sequence[Mail], now: datetime) -> None:
    """Queue `mails` in the caller's transaction: they go out only if it commits."""
    for mail in mails:
        await tx.execute(
            "INSERT INTO outgoing_mail (recipient, subject, body, created_at, next_attempt_at)"
            " VALUES (?, ?, ?, ?, ?)", (mail.recipient, mail.subject, mail.body, now, now))


async def due(db: Reader, now: datetime, limit: int) -> list[QueuedMail]:
    """Mail whose next attempt has come, oldest first."""
    rows = await db.fetchall(
        _QUEUED + " WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ?"
        " ORDER BY next_attempt_at, id LIMIT ?", (now, limit))
    return [_queued(r) for r in rows]


async def next_due(db: Reader) -> datetime | None:
    """When the next waiting mail is due, if any waits."""
    return parse(await db.fetchvalue(
        "SELECT min(next_attempt_at) FROM outgoing_mail WHERE next_attempt_at IS NOT NULL"))


async def claim(tx: Tx, mail: QueuedMail, lease_until: datetime) -> bool:
    """Take `mail` for one attempt: False when another sender took it first. Until
    `lease_until` no one else tries it; a sender that dies mid-attempt leaves it to be
    tried again then."""
    changed: int = await tx.execute(
        "UPDATE outgoing_mail SET attempts = attempts + 1, next_attempt_at = ?"
        " WHERE id = ? AND attempts = ? AND sent_at IS NULL AND failed_at IS NULL",
        (lease_until, mail.id, mail.attempts))
    return changed == 1


async def mark_sent(tx: Tx, mail_id: int, now: datetime) -> None:
    await tx.execute(
        "UPDATE outgoing_mail SET sent_at = ?, next_attempt_at = NULL, last_error = NULL"
        " WHERE id = ?", (now, mail_id))


async def mark_failed(tx: Tx, mail_id: int, error: str, now: datetime,
                      retry_at: datetime | None) -> None:
    """Record a failed attempt: tried again at `retry_at`, or given up when it is None."""
    await tx.execute(
        "UPDATE outgoing_mail SET last_error = ?, next_attempt_at = ?, failed_at = ?"
        " WHERE id = ?", (error[:1000], retry_at, now if retry_at is None else None, mail_id))


async def all_mail(db: Reader) -> list[QueuedMail]:
    """Every mail in the queue, oldest first (sent and given-up ones too)."""
    return [_queued(r) for r in await db.fetchall(_QUEUED + " ORDER BY id")]


async def organiser_addresses(db: Reader, chapter: int) -> list[str]:
    """The email addresses of the chapter's organisers that have one."""
    rows = await db.fetchall(
        "SELECT a.email FROM organisers o JOIN accounts a ON a.member_id = o.member_id"
        " WHERE o.chapter_id = ? AND a.email IS NOT NULL ORDER BY o.appointed_at, a.member_id",
        (chapter,))
    return [r[0] for r in rows]


async def organiser_recipients(db: Reader, chapter: int) -> list[tuple[str, str | None]]:
    """The email address of each of the chapter's organisers that has one, with the
    language their account reads in (None: they never chose one)."""
    rows = await db.fetchall(
        "SELECT a.email, a.language FROM organisers o"
        " JOIN accounts a ON a.member_id = o.member_id"
        " WHERE o.chapter_id = ? AND a.email IS NOT NULL ORDER BY o.appointed_at, a.member_id",
        (chapter,))
    return [(r[0], r[1]) for r in rows]


async def delete_sent_before(tx: Tx, before: datetime) -> int:
    """Forget mail sent or given up before `before` (the body may hold a link)."""
    deleted: int = await tx.execute(
        "DELETE FROM outgoing_mail WHERE next_attempt_at IS NULL"
        " AND coalesce(sent_at, failed_at) < ?", (before,))
    return deleted
