"""Logging in and out, setting a password from a one-time link, changing it.

Routes: GET/POST /login, POST /logout, POST /logout/everywhere, GET/POST /password/set,
GET/POST /account/password. The session middleware (web/session.py) has already checked
every POST's origin and CSRF token before a handler here runs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from aiohttp import web

from actors.accounts import (
    MAX_PASSWORD,
    MIN_PASSWORD,
    AccountError,
    check_password,
    hash_password,
    token_hash,
    verify_password,
)
from chapterhouse.reasons import N_
from storage import accounts as store
from storage import profiles as profile_store
from storage.timestamps import now
from web import session
from web.i18n import _, ngettext, sentence
from web.pages import render
from web.state import DB
from web.welcome import welcome_path

# Failed logins within THROTTLE_WINDOW after which more attempts are refused: few per
# username (someone guessing one person's password), more per address (a household or
# an office shares one).
THROTTLE_WINDOW = timedelta(minutes=15)
PER_ACCOUNT = 5
PER_ADDRESS = 20
MAX_USERNAME = 100
WRONG = N_("Wrong username or password.")


def _throttled_message() -> str:
    return ngettext("Too many failed attempts to log in. Wait %(num)d minute, then try again.",
                    "Too many failed attempts to log in. Wait %(num)d minutes, then try "
                    "again.", int(THROTTLE_WINDOW.total_seconds() // 60))


def _field(form: Any, name: str, limit: int = MAX_PASSWORD) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def local_path(target: str | None) -> str:
    """Where to go after logging in: a path on this node, never another site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ord(c) < 32 or c == "\\" for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def _login_page(request: web.Request, next_path: str, username: str = "",
                error: str | None = None, status: int = 200) -> web.Response:
    response = render(request, "login.html", csrf_token=session.csrf_token(request),
                      next=next_path, username=username, error=error)
    response.set_status(status)
    return response


def _notice(request: web.Request, heading: str, message: str, status: int = 200,
            link: dict[str, str] | None = None) -> web.Response:
    response = render(request, "notice.html", heading=heading, message=message, link=link)
    response.set_status(status)
    return response


async def _throttled(request: web.Request, username: str) -> bool:
    counts = await store.failed_logins(request.app[DB], username,
                                       session.client_address(request),
                                       now() - THROTTLE_WINDOW)
    return counts.by_username >= PER_ACCOUNT or counts.by_address >= PER_ADDRESS


def _too_many(response: web.Response) -> web.Response:
    response.set_status(429)
    response.headers["Retry-After"] = str(int(THROTTLE_WINDOW.total_seconds()))
    return response


async def _record_failure(request: web.Request, username: str) -> None:
    moment = now()
    await store.record_failed_login(request.app[DB], username,
                                    session.client_address(request), moment,
                                    moment - THROTTLE_WINDOW)


async def login_form(request: web.Request) -> web.Response:
    next_path = local_path(request.query.get("next"))
    if session.viewer(request) is not None:
        return see_other(next_path)
    return _login_page(request, next_path)


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    username = _field(form, "username", MAX_USERNAME).strip()
    password = _field(form, "password")
    next_path = local_path(_field(form, "next", 2000))
    if not username or not password:
        return _login_page(request, next_path, username,
                           _("Enter your username and your password."), 400)
    key = username.lower()
    if await _throttled(request, key):
        return _too_many(_login_page(request, next_path, username, _throttled_message()))
    db = request.app[DB]
    account = await store.account_by_handle(db, key)
    # Unknown and wrong look the same, take as long, and count the same towards throttling.
    if not await verify_password(db, account, password) or account is None:
        await _record_failure(request, key)
        return _login_page(request, next_path, username, _(WRONG), 401)
    await store.clear_failed_logins(db, key)
    await session.start_session(request, account.member_id)
    if await profile_store.take_welcome(db, account.member_id):
        return see_other(welcome_path(next_path))  # the first login after joining
    return see_other(next_path)


async def logout(request: web.Request) -> web.Response:
    await session.end_session(request)
    return see_other("/")


async def logout_everywhere(request: web.Request) -> web.Response:
    current = session.viewer(request)
    if current is None:
        return see_other("/login?next=/account/password")
    await store.log_out_everywhere(request.app[DB], current.member_id, now())
    session.forget_session(request)
    request.pop(session.VIEWER)
    return _notice(request, _("Logged out everywhere"),
                   _("Every session of your account has ended, on every device."),
                   link={"href": "/login", "text": _("Log in again")})


def _password_errors(password: str, confirm: str) -> dict[str, str]:
    try:
        check_password(password)
    except AccountError as exc:
        return {"password": sentence(exc)}
    if confirm != password:
        return {"confirm": _("The two passwords are not the same.")}
    return {}


def _bad_link(request: web.Request) -> web.Response:
    return _notice(request, _("This link cannot be used"),
                   _("It was used already, it has expired, or this node never issued it. "
                     "Ask an organiser of your chapter for a new one."), 404)


def _set_page(request: web.Request, account: store.Account, token: str,
              errors: dict[str, str], status: int = 200) -> web.Response:
    response = render(request, "password_set.html", account=account, token=token,
                      errors=errors, min_password=MIN_PASSWORD,
                      csrf_token=session.csrf_token(request))
    response.set_status(status)
    # The token is in this page's address: keep it out of caches and history sync.
    response.headers["Cache-Control"] = "no-store"
    return response


async def password_set_form(request: web.Request) -> web.Response:
    token = request.query.get("token", "")[:200]
    account = await store.password_link_account(request.app[DB], token_hash(token), now()) \
        if token else None
    if account is None:
        return _bad_link(request)
    return _set_page(request, account, token, {})


async def password_set(request: web.Request) -> web.Response:
    form = await request.post()
    token = _field(form, "token", 200)
    db = request.app[DB]
    account = await store.password_link_account(db, token_hash(token), now()) \
        if token else None
    if account is None:
        return _bad_link(request)
    password, confirm = _field(form, "password"), _field(form, "confirm")
    errors = _password_errors(password, confirm)
    if errors:
        return _set_page(request, account, token, errors, 400)
    member = await store.use_password_link(db, token_hash(token),
                                           await hash_password(password), now())
    if member is None:  # used by another request meanwhile
        return _bad_link(request)
    await session.start_session(request, member)
    return see_other(f"/@{quote(account.handle)}")


def _change_page(request: web.Request, errors: dict[str, str],
                 status: int = 200) -> web.Response:
    response = render(request, "password_change.html", errors=errors,
                      min_password=MIN_PASSWORD, csrf_token=session.csrf_token(request))
    response.set_status(status)
    return response


async def password_change_form(request: web.Request) -> web.Response:
    if session.viewer(request) is None:
        return see_other("/login?next=/account/password")
    return _change_page(request, {})


async def password_change(request: web.Request) -> web.Response:
    current = session.viewer(request)
    if current is None:
        return see_other("/login?next=/account/password")
    form = await request.post()
    db = request.app[DB]
    # Guessing the current password from a session left open is throttled like a login.
    if await _throttled(request, current.handle):
        return _too_many(_change_page(request, {"current": _throttled_message()}))
    account = await store.account_by_handle(db, current.handle)
    if not await verify_password(db, account, _field(form, "current")):
        await _record_failure(request, current.handle)
        return _change_page(request, {"current": _("That is not your current password.")},
                            400)
    password, confirm = _field(form, "password"), _field(form, "confirm")
    errors = _password_errors(password, confirm)
    if errors:
        return _change_page(request, errors, 400)
    await store.set_password(db, current.member_id, await hash_password(password),
                             keep_session=current.session_id)
    return _notice(request, _("Password changed"),
                   _("Your password is changed. You are still logged in here, and logged "
                     "out on every other device."))


def setup(app: web.Application) -> None:
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_post("/logout/everywhere", logout_everywhere)
    app.router.add_get("/password/set", password_set_form)
    app.router.add_post("/password/set", password_set)
    app.router.add_get("/account/password", password_change_form)
    app.router.add_post("/account/password", password_change)
