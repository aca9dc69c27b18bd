"""`chapterhouse mail test ADDRESS` (is `[mail]` right? one mail, sent now, the SMTP
server's answer printed) and `chapterhouse mail list` (the queue: what waits, what was
given up and why)."""

from __future__ import annotations

import argparse
import smtplib
import sys

from chapterhouse.cli_support import (
    Parser,
    UsageError,
    data_dir_argument,
    load_config,
    table,
    with_db,
)
from chapterhouse.mail import PermanentFailure, Sender, deliver, describe, message
from storage import mail as store
from storage.database import Database
from storage.timestamps import now


def cmd_mail_test(args: argparse.Namespace) -> int:
    config = load_config(args.data)
    if config.mail is None:
        raise UsageError("this node sends no mail: add a [mail] section to config.toml "
                         "(see config.example.toml)")
    test = store.QueuedMail(
        id=0, recipient=args.address, subject=f"A test mail from {config.name}",
        body=f"This mail comes from {config.base_url}/ (`chapterhouse mail test`): "
             "the node's [mail] settings work.\n",
        created_at=now(), attempts=0, next_attempt_at=None, sent_at=None, failed_at=None,
        last_error=None)
    mail = config.mail
    try:
        deliver(mail, message(Sender(config.name, mail.sender, config.hostname), test))
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{args.address!r} cannot be written as a mail: {exc}") from None
    except (PermanentFailure, smtplib.SMTPException, OSError) as exc:
        print(f"not sent, {mail.host}:{mail.port} ({mail.tls}): {describe(exc)}",
              file=sys.stderr)
        return 1
    print(f"sent to {args.address} through {mail.host}:{mail.port} ({mail.tls})")
    return 0


def _state(mail: store.QueuedMail) -> str:
    if mail.sent_at is not None:
        return "sent"
    if mail.failed_at is not None:
        return "given up"
    return "waiting"


def cmd_mail_list(args: argparse.Namespace) -> int:
    config = load_config(args.data)

    async def work(db: Database) -> list[store.QueuedMail]:
        return await store.all_mail(db)

    mails = [m for m in with_db(config, work) if args.all or m.sent_at is None]
    if not mails:
        print("no mail waits or was given up" if not args.all else "no mail")
        return 0
    print(table([[str(m.id), _state(m), str(m.attempts), m.created_at.strftime("%Y-%m-%d %H:%M"),
                  m.recipient, m.subject, m.last_error or ""] for m in mails],
                ["ID", "STATE", "ATTEMPTS", "QUEUED", "TO", "SUBJECT", "LAST ERROR"]))
    return 0


def add_commands(commands: argparse._SubParsersAction[Parser]) -> None:
    mail = commands.add_parser("mail", help="outgoing mail: test the settings, see the queue",
                               description="Outgoing mail ([mail] in config.toml).")
    actions = mail.add_subparsers(dest="action", required=True, metavar="ACTION",
                                  parser_class=Parser)
    test = actions.add_parser(
        "test", help="send one mail now, to check the [mail] settings",
        description="Send one mail to ADDRESS now, through the SMTP server of [mail], and "
        "print its answer; the queue is not used.")
    test.add_argument("address", metavar="ADDRESS")
    data_dir_argument(test)
    test.set_defaults(run=cmd_mail_test)
    listing = actions.add_parser(
        "list", help="mail that waits or was given up",
        description="List the mail queue: mail waiting for an attempt, and mail given up, "
        "with the last error.")
    data_dir_argument(listing)
    listing.add_argument("--all", action="store_true", help="sent mail too (kept 7 days)")
    listing.set_defaults(run=cmd_mail_list)
