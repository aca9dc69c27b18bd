"""The mail sender: a supervised task that takes queued mail (storage/mail.py) to the
SMTP server of `[mail]`.

smtplib (the standard library) in a thread rather than aiosmtplib: a node sends a few
mails an hour, one at a time, so a thread per attempt costs nothing, and smtplib is one
dependency fewer and the client every SMTP server has met.

A mail the server refuses for good (a 5xx answer to its recipient or its content) is
given up at once; any other failure (server down, 4xx, a timeout) is tried again after a
wait that doubles, until `max_attempts`. Each outcome is logged; a mail's last error
stays in the queue for the operator.
"""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

import structlog

from chapterhouse.config import MailConfig
from storage import mail as store
from storage.database import Database
from storage.timestamps import now

log = structlog.get_logger(__name__)

FIRST_WAIT = timedelta(seconds=30)
MAX_WAIT = timedelta(hours=6)
# How long one attempt may hold a mail; a sender that dies mid-attempt leaves it for this.
LEASE = timedelta(minutes=10)
# Without a wake-up (mail queued by another process), how often the queue is looked at.
POLL_SECONDS = 30.0
KEEP_SENT = timedelta(days=7)
SMTP_TIMEOUT = 30.0


class PermanentFailure(Exception):
    """The server refused the mail for good: trying again would get the same answer."""


@dataclass(frozen=True)
class Sender:
    """Who the mail is from: the node's name and `mail.sender`."""

    name: str
    address: str
    hostname: str  # for Message-IDs


def message(sender: Sender, mail: store.QueuedMail) -> EmailMessage:
    built = EmailMessage()
    built["From"] = formataddr((sender.name, sender.address))
    built["To"] = mail.recipient
    built["Subject"] = mail.subject
    built["Date"] = format_datetime(mail.created_at)
    built["Message-ID"] = make_msgid(domain=sender.hostname)
    # RFC 3834: sent by a program; an auto-responder must not answer it.
    built["Auto-Submitted"] = "auto-generated"
    built.set_content(mail.body)
    return built


def deliver(config: MailConfig, built: EmailMessage) -> None:
    """One SMTP session that hands over one mail (blocking: run it in a thread). Raises
    PermanentFailure on a refusal for good, smtplib's errors or OSError otherwise."""
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if config.tls == "tls":
        smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=SMTP_TIMEOUT,
                                context=context)
    else:
        smtp = smtplib.SMTP(config.host, config.port, timeout=SMTP_TIMEOUT)
    with smtp:
        if config.tls == "starttls":
            smtp.starttls(context=context)
        if config.username is not None and config.password is not None:
            smtp.login(config.username, config.password)
        try:
            smtp.send_message(built)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if codes and all(code >= 500 for code in codes):
                raise PermanentFailure(describe(exc)) from exc
            raise
        except smtplib.SMTPDataError as exc:
            if exc.smtp_code >= 500:
                raise PermanentFailure(describe(exc)) from exc
            raise


def describe(exc: BaseException) -> str:
    """An SMTP failure in one line, as the queue's last_error keeps it."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{who}: {code} {text.decode('utf-8', 'replace')}"
                         for who, (code, text) in exc.recipients.items())
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        return f"{exc.smtp_code} {text}"
    return f"{type(exc).__name__}: {exc}"


class MailSender:
    """Sends the queue's mail; `wake()` after queuing some makes it look at once."""

    def __init__(self, db: Database, config: MailConfig, sender: Sender,
                 wake: asyncio.Event) -> None:
        self.db = db
        self.config = config
        self.sender = sender
        self._wake = wake
        self._pruned_at: datetime | None = None

    def backoff(self, attempts: int) -> timedelta:
        wait = FIRST_WAIT * (2 ** max(attempts - 1, 0)) * self.config.backoff_scale
        return min(wait, MAX_WAIT)

    async def run(self) -> None:
        """Until cancelled: send what is due, then wait for a wake-up or the next due."""
        while True:
            self._wake.clear()
            await self.send_due()
            await self._prune()
            due = await store.next_due(self.db)
            wait = POLL_SECONDS if due is None else \
                min(POLL_SECONDS, max((due - now()).total_seconds(), 0.0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def send_due(self) -> int:
        """Attempt every mail that is due; how many were sent."""
        sent = 0
        while True:
            batch = await store.due(self.db, now(), 20)
            if not batch:
                return sent
            for mail in batch:
                sent += await self._attempt(mail)

    async def _attempt(self, mail: store.QueuedMail) -> int:
        moment = now()
        async with self.db.transaction() as tx:
            if not await store.claim(tx, mail, moment + LEASE):
                return 0
        attempt = mail.attempts + 1
        try:
            built = message(self.sender, mail)
        except (ValueError, TypeError) as exc:  # a header no mail can carry
            await self._failed(mail, attempt, f"cannot be written as a mail: {exc}", None)
            return 0
        try:
            await asyncio.to_thread(deliver, self.config, built)
        except PermanentFailure as exc:
            await self._failed(mail, attempt, str(exc), None)
            return 0
        except (smtplib.SMTPException, OSError, ValueError) as exc:
            retry = None if attempt >= self.config.max_attempts else now() + self.backoff(attempt)
            await self._failed(mail, attempt, describe(exc), retry)
            return 0
        async with self.db.transaction() as tx:
            await store.mark_sent(tx, mail.id, now())
        log.info("mail sent", mail=mail.id, attempt=attempt, subject=mail.subject)
        return 1

    async def _failed(self, mail: store.QueuedMail, attempt: int, error: str,
                      retry_at: datetime | None) -> None:
        async with self.db.transaction() as tx:
            await store.mark_failed(tx, mail.id, error, now(), retry_at)
        if retry_at is None:
            log.error("mail given up", mail=mail.id, attempts=attempt, error=error,
                      subject=mail.subject)
        else:
            log.warning("mail not sent, will retry", mail=mail.id, attempt=attempt,
                        error=error, retry_at=retry_at.isoformat())

    async def _prune(self) -> None:
        moment = now()
        if self._pruned_at is not None and moment - self._pruned_at < timedelta(hours=1):
            return
        self._pruned_at = moment
        async with self.db.transaction() as tx:
            await store.delete_sent_before(tx, moment - KEEP_SENT)
