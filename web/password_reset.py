"""Getting back into an account: "forgot my password", and reset links from organisers.

Routes: GET/POST /password/forgot (a member asks for a link by mail), GET/POST
/@{slug}/reset-link (an organiser of the chapter, or an administrator, makes a one-time
link for one of its members and passes it on). Both links are the one-time password
links of actors/accounts.py, set at /password/set.

"Forgot" answers the same whether or not an account matches, and is throttled like
logging in (its attempts are rows of failed_logins under "forgot:" + what was typed), so
it tells nobody which usernames or addresses exist.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import structlog
from aiohttp import web

from actors.accounts import LINK_DAYS, AccountError, create_account, issue_password_link
from storage import accounts as store
from storage import joins as join_store
from storage.mail import Mail
from storage.timestamps import now
from web import session
from web.accounts import see_other
from web.i18n import _, ngettext
from web.mail import MAIL, Mailer, password_link
from web.pages import render
from web.state import DB

log = structlog.get_logger(__name__)

# Requests for a link within WINDOW after which more are refused: a few for one name (a
# mailbox is not to be flooded), more from one address.
WINDOW = timedelta(minutes=15)
PER_NAME = 3
PER_ADDRESS = 20
MAX_FIELD = 254
def _answer() -> str:
    return ngettext("If an account matches what you entered and has an email address, a "
                    "mail with a link to set a new password is on its way. The link works "
                    "once, within %(num)d day. Nothing came? Ask an organiser of your "
                    "chapter for a link.",
                    "If an account matches what you entered and has an email address, a "
                    "mail with a link to set a new password is on its way. The link works "
                    "once, within %(num)d days. Nothing came? Ask an organiser of your "
                    "chapter for a link.", LINK_DAYS)


def _field(form: Any, name: str) -> str:
    value = form.get(name)
    return value[:MAX_FIELD] if isinstance(value, str) else ""


def _notice(request: web.Request, heading: str, message: str, status: int = 200,
            link: dict[str, str] | None = None) -> web.Response:
    response = render(request, "notice.html", heading=heading, message=message, link=link)
    response.set_status(status)
    return response


def _forgot_page(request: web.Request, error: str | None = None, value: str = "",
                 status: int = 200) -> web.Response:
    response = render(request, "password_forgot.html", mail_on=request.app[MAIL].enabled,
                      error=error, value=value, csrf_token=session.csrf_token(request))
    response.set_status(status)
    return response


async def forgot_form(request: web.Request) -> web.Response:
    return _forgot_page(request)


def _mail_to(mailer: Mailer, account: store.Account) -> Callable[[str], list[Mail]]:
    def mails(link: str) -> list[Mail]:
        assert account.email is not None
        return [password_link(mailer, account.email, account.handle, link, LINK_DAYS)]
    return mails


async def forgot(request: web.Request) -> web.Response:
    mailer = request.app[MAIL]
    if not mailer.enabled:
        return _forgot_page(request, status=404)
    form = await request.post()
    typed = "".join(c for c in _field(form, "name") if ord(c) >= 32).strip()
    if not typed:
        return _forgot_page(request, _("Enter your username or your email address."),
                            status=400)
    db = request.app[DB]
    key = "forgot:" + typed.lower()
    address = session.client_address(request)
    moment = now()
    counts = await store.failed_logins(db, key, address, moment - WINDOW)
    if counts.by_username >= PER_NAME or counts.by_address >= PER_ADDRESS:
        response = _forgot_page(
            request, ngettext("Too many requests for a link. Wait %(num)d minute, then try "
                              "again.",
                              "Too many requests for a link. Wait %(num)d minutes, then try "
                              "again.", int(WINDOW.total_seconds() // 60)),
            typed, 429)
        response.headers["Retry-After"] = str(int(WINDOW.total_seconds()))
        return response
    await store.record_failed_login(db, key, address, moment, moment - WINDOW)
    for account in await store.accounts_to_reset(db, typed):
        await issue_password_link(db, mailer.base_url, account.member_id,
                                  _mail_to(mailer, account))
        log.info("password link mailed", member=account.handle)
    mailer.wake()
    return _notice(request, _("Check your email"), _answer(),
                   link={"href": "/login", "text": _("Log in")})


async def _organised(request: web.Request) -> tuple[int, join_store.ChapterChoice] | web.Response:
    found = await join_store.chapter_choice(request.app[DB], request.match_info["slug"])
    if found is None:
        return _notice(request, _("No such chapter"),
                       _("This node has no chapter by that name."), 404)
    current = session.viewer(request)
    if current is None:
        return see_other(f"/login?next=/@{quote(found[1].handle)}/reset-link")
    if not current.is_admin and found[1].handle not in {c.handle for c in current.organises}:
        return _notice(request, _("Not yours to do"),
                       _("Only the organisers of %(chapter)s make password links for its "
                         "members.", chapter=found[1].name), 403)
    return found


def _link_page(request: web.Request, chapter: join_store.ChapterChoice,
               error: str | None = None, value: str = "", link: str | None = None,
               member: store.Account | None = None, status: int = 200) -> web.Response:
    response = render(request, "reset_link.html", chapter=chapter, error=error, value=value,
                      link=link, member=member, link_days=LINK_DAYS,
                      csrf_token=session.csrf_token(request))
    response.set_status(status)
    # The link is shown once: keep it out of caches and history.
    response.headers["Cache-Control"] = "no-store"
    return response


async def reset_link_form(request: web.Request) -> web.Response:
    found = await _organised(request)
    if isinstance(found, web.Response):
        return found
    return _link_page(request, found[1], value=request.query.get("member", "")[:100])


async def reset_link(request: web.Request) -> web.Response:
    found = await _organised(request)
    if isinstance(found, web.Response):
        return found
    chapter_id, chapter = found
    current = session.viewer(request)
    assert current is not None
    form = await request.post()
    handle = _field(form, "member").strip().lstrip("@").lower()
    db = request.app[DB]
    member = await store.member_id(db, handle) if handle else None
    if member is None or not await join_store.is_member(db, member, chapter_id):
        return _link_page(request, chapter,
                          _("%(chapter)s has no member %(handle)r.", chapter=chapter.name,
                            handle=handle), handle, status=404)
    account = await store.account_by_handle(db, handle)
    # An organiser holding someone's link can log in as them: never as someone with more
    # rights than the organiser has (an administrator, an organiser).
    if not current.is_admin and account is not None and (
            account.is_admin or await store.organised_chapters(db, member)):
        return _link_page(request, chapter,
                          _("%(handle)s is an organiser or an administrator: only an "
                            "administrator can make a password link for them.",
                            handle=handle), handle,
                          status=403)
    if account is None:
        # Made meanwhile by another request: the link is for that account.
        with contextlib.suppress(AccountError):
            await create_account(db, handle, None)
        account = await store.account_by_handle(db, handle)
        assert account is not None
    link = await issue_password_link(db, request.app[MAIL].base_url, member)
    log.info("password link made", member=handle, by=current.handle, chapter=chapter.handle)
    return _link_page(request, chapter, link=link, member=account)


def setup(app: web.Application) -> None:
    app.router.add_get("/password/forgot", forgot_form)
    app.router.add_post("/password/forgot", forgot)
    app.router.add_get("/@{slug}/reset-link", reset_link_form)
    app.router.add_post("/@{slug}/reset-link", reset_link)
