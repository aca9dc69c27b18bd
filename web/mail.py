"""The mails the web sends, and whether the node sends mail at all.

Handlers build a mail here and pass it to the storage function that makes the change
causing it, which queues it in the same transaction; then they `wake` the sender.
Plain text, short, with the node's name, and the one link the mail is for.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

from storage.mail import Mail


@dataclass
class Mailer:
    enabled: bool  # `[mail]` is set
    node_name: str
    base_url: str
    wake_event: asyncio.Event = field(default_factory=asyncio.Event)

    def wake(self) -> None:
        """Tell the sender (in this process) that mail was queued."""
        self.wake_event.set()


MAIL = web.AppKey("mailer", Mailer)


def _signed(mailer: Mailer, text: str) -> str:
    return f"{text}\n\n-- \n{mailer.node_name}\n{mailer.base_url}/\n"


def confirm_join(mailer: Mailer, to: str, name: str, chapter: str, link: str,
                 days: int) -> Mail:
    return Mail(to, f"Confirm your email address to join {chapter}", _signed(mailer, (
        f"Hello {name},\n\n"
        f"You asked to join {chapter} on {mailer.node_name}. To confirm that this is your "
        f"email address, open this link within {days} days:\n\n{link}\n\n"
        "If you did not ask to join, ignore this mail: nothing happens without the link.")))


def new_request(mailer: Mailer, to: str, name: str, username: str, chapter: str,
                chapter_handle: str) -> Mail:
    return Mail(to, f"{name} asks to join {chapter}", _signed(mailer, (
        f"{name} ({username}) asks to join {chapter}.\n\n"
        f"Approve or reject the request here:\n\n"
        f"{mailer.base_url}/@{chapter_handle}/requests\n\n"
        f"You receive this mail because you organise {chapter}.")))


def password_link(mailer: Mailer, to: str, handle: str, link: str, days: int) -> Mail:
    return Mail(to, f"Set a new password on {mailer.node_name}", _signed(mailer, (
        f"Hello {handle},\n\n"
        f"Someone (we hope you) asked to set a new password for the account {handle} "
        f"on {mailer.node_name}. Open this link within {days} days to choose one; it "
        f"works once:\n\n{link}\n\n"
        "If you did not ask, ignore this mail: your password stays as it is.")))
