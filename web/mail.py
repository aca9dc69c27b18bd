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
from web.i18n import _, ngettext


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
    """Worded in the language of the request: the visitor who asked reads it."""
    return Mail(to, _("Confirm your email address to join %(chapter)s", chapter=chapter),
                _signed(mailer, "\n\n".join((
                    _("Hello %(name)s,", name=name),
                    ngettext("You asked to join %(chapter)s on %(node)s. To confirm that this "
                             "is your email address, open this link within %(num)d day:",
                             "You asked to join %(chapter)s on %(node)s. To confirm that this "
                             "is your email address, open this link within %(num)d days:",
                             days, chapter=chapter, node=mailer.node_name),
                    link,
                    _("If you did not ask to join, ignore this mail: nothing happens without "
                      "the link.")))))


def new_request(mailer: Mailer, to: str, name: str, username: str, chapter: str,
                chapter_handle: str) -> Mail:
    """Worded in the current language: the caller speaks the organiser's (`speaking`)."""
    return Mail(to, _("%(name)s asks to join %(chapter)s", name=name, chapter=chapter),
                _signed(mailer, "\n\n".join((
                    _("%(name)s (%(username)s) asks to join %(chapter)s.", name=name,
                      username=username, chapter=chapter),
                    _("Approve or reject the request here:"),
                    f"{mailer.base_url}/@{chapter_handle}/requests",
                    _("You receive this mail because you organise %(chapter)s.",
                      chapter=chapter)))))


def password_link(mailer: Mailer, to: str, handle: str, link: str, days: int) -> Mail:
    """Worded in the language of the request: the person who asked for the link reads it."""
    return Mail(to, _("Set a new password on %(node)s", node=mailer.node_name),
                _signed(mailer, "\n\n".join((
                    _("Hello %(name)s,", name=handle),
                    ngettext("Someone (we hope you) asked to set a new password for the "
                             "account %(handle)s on %(node)s. Open this link within %(num)d "
                             "day to choose one; it works once:",
                             "Someone (we hope you) asked to set a new password for the "
                             "account %(handle)s on %(node)s. Open this link within %(num)d "
                             "days to choose one; it works once:",
                             days, handle=handle, node=mailer.node_name),
                    link,
                    _("If you did not ask, ignore this mail: your password stays as it "
                      "is.")))))
