"""Who is asking, and whether a form really comes from this node: one middleware.

A session is a row (storage/accounts.py) named by a hash of the random token in the
`chapterhouse_session` cookie. The middleware puts the logged-in member in
`request[VIEWER]` for every route, and refuses (403, before the handler runs, so nothing
changes) every state-changing request that does not carry
- an Origin (or, without one, a Referer) that is this node's own origin, and
- a CSRF token in its `csrf_token` field equal to the session's secret, or, for a visitor
  (the login form), to the random value of the `chapterhouse_csrf` cookie set with the
  form.
The inboxes are exempt (`allow_cross_site`): peers post to them, signed, and such a
request never acts as a logged-in member.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler

from actors.accounts import new_token, token_hash
from storage import accounts as store
from storage import profiles as profile_store
from storage.timestamps import now
from web import i18n
from web.i18n import _
from web.state import DB

SESSION_COOKIE = "chapterhouse_session"
PRESESSION_COOKIE = "chapterhouse_csrf"
CSRF_FIELD = "csrf_token"
# last_seen_at is written at most this often: a member reading pages costs no writes.
TOUCH_EVERY = timedelta(minutes=1)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class SessionSettings:
    idle: timedelta  # a session unused this long has ended
    origin: str  # scheme://domain, what a browser sends as Origin from our pages
    secure: bool  # cookies only over https


@dataclass(frozen=True)
class Viewer:
    """The logged-in member, as every page shows them."""

    session_id: int
    member_id: int
    handle: str
    name: str
    is_admin: bool
    csrf_token: str
    chapters: list[store.ChapterLink]
    organises: list[store.ChapterLink]
    icon_url: str | None = None  # their picture, beside their name in the header


SESSION_SETTINGS = web.AppKey("session_settings", SessionSettings)
CROSS_SITE = web.AppKey("cross_site_handlers", set[Callable[..., object]])
VIEWER = web.RequestKey("viewer", Viewer)
_NEW_PRESESSION = web.RequestKey("new_presession_token", str)
_SET_SESSION = web.RequestKey("set_session_token", str)
_END_SESSION = web.RequestKey("end_session", bool)


def setup(app: web.Application, idle: timedelta, origin: str) -> None:
    app[SESSION_SETTINGS] = SessionSettings(idle=idle, origin=origin.lower(),
                                            secure=origin.startswith("https://"))
    app[CROSS_SITE] = set()
    app.middlewares.append(sessions)


def allow_cross_site(app: web.Application, *handlers: Callable[..., object]) -> None:
    """Routes that peers post to (signed, server to server): no session, no CSRF check."""
    app[CROSS_SITE].update(handlers)


def viewer(request: web.Request) -> Viewer | None:
    return request.get(VIEWER)


def csrf_token(request: web.Request) -> str:
    """The token a form on this page carries: the session's, or for a visitor the
    pre-session cookie's (set with this response when the visitor has none yet)."""
    current = viewer(request)
    if current is not None:
        return current.csrf_token
    if _NEW_PRESESSION in request:
        return request[_NEW_PRESESSION]
    existing = request.cookies.get(PRESESSION_COOKIE, "")
    if 20 <= len(existing) <= 100:
        return existing
    request[_NEW_PRESESSION] = new_token()
    return request[_NEW_PRESESSION]


async def start_session(request: web.Request, member: int) -> None:
    """Log `member` in: a new session (never one the browser had before), whose cookie
    goes with this request's response. A session the browser had (someone else's, or its
    own) ends first: a new login never leaves the old one alive behind its replaced cookie."""
    settings = request.app[SESSION_SETTINGS]
    current = viewer(request)
    if current is not None:
        await store.delete_session(request.app[DB], current.session_id)
    token = new_token()
    moment = now()
    await store.create_session(request.app[DB], member, token_hash(token), new_token(),
                               moment, moment - settings.idle)
    request.pop(_END_SESSION, None)
    request[_SET_SESSION] = token
    # A language chosen with the switcher before logging in (or joining) is the account's
    # from now on, unless the member chose one for the account before.
    chosen = request.cookies.get(i18n.COOKIE)
    if chosen in i18n.LANGUAGES:
        await store.adopt_language(request.app[DB], member, chosen)


async def end_session(request: web.Request) -> None:
    current = viewer(request)
    if current is not None:
        await store.delete_session(request.app[DB], current.session_id)
    forget_session(request)


def forget_session(request: web.Request) -> None:
    """The session cookie is cleared with this response (its session already ended)."""
    request.pop(_SET_SESSION, None)
    request[_END_SESSION] = True


def client_address(request: web.Request) -> str:
    """The client's address. Behind a reverse proxy on the same machine (the node listens
    on loopback) that is the last address the proxy appended to X-Forwarded-For; no one
    else's X-Forwarded-For is believed."""
    remote = request.remote or ""
    forwarded = request.headers.get("X-Forwarded-For")
    if forwarded:
        try:
            loopback = ipaddress.ip_address(remote).is_loopback
        except ValueError:
            loopback = False
        if loopback:
            last = forwarded.split(",")[-1].strip()
            if last:
                return last[:64]
    return remote


async def _load(request: web.Request, token: str) -> Viewer | None:
    if len(token) > 100:
        return None
    db = request.app[DB]
    settings = request.app[SESSION_SETTINGS]
    session = await store.session_by_token(db, token_hash(token))
    if session is None:
        return None
    moment = now()
    if (session.last_seen_at < moment - settings.idle
            or session.created_at <= session.account.sessions_valid_after):
        await store.delete_session(db, session.id)
        return None
    if moment - session.last_seen_at >= TOUCH_EVERY:
        await store.touch_session(db, session.id, moment)
        request[_SET_SESSION] = token  # the cookie's lifetime starts again too
    account = session.account
    # What the member chose for their account outranks the browser's cookie.
    i18n.use(account.language or i18n.current().code, account.time_zone)
    return Viewer(
        session_id=session.id, member_id=account.member_id, handle=account.handle,
        name=account.name, is_admin=account.is_admin, csrf_token=session.csrf_secret,
        chapters=await store.member_chapters(db, account.member_id),
        organises=await store.organised_chapters(db, account.member_id),
        icon_url=await profile_store.icon_url(db, account.member_id))


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else None


def _same_origin(request: web.Request) -> bool:
    expected = request.app[SESSION_SETTINGS].origin
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin.strip().lower() == expected
    referer = request.headers.get("Referer")
    return referer is not None and _origin_of(referer) == expected


async def _check_form(request: web.Request, current: Viewer | None) -> None:
    if not _same_origin(request):
        raise web.HTTPForbidden(text=_("This form was not sent from this site's own pages."))
    form = await request.post()
    sent = form.get(CSRF_FIELD)
    expected = current.csrf_token if current is not None \
        else request.cookies.get(PRESESSION_COOKIE, "")
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(
            sent.encode("utf-8", "surrogatepass"), expected.encode()):
        raise web.HTTPForbidden(
            text=_("The form's security token is missing or out of date; reload the page and "
                   "send the form again."))


def _cookie(response: web.StreamResponse, settings: SessionSettings, name: str, value: str,
            max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True,
                        samesite="Lax", secure=settings.secure)


@web.middleware
async def sessions(request: web.Request, handler: Handler) -> web.StreamResponse:
    settings = request.app[SESSION_SETTINGS]
    route = request.match_info
    if route.http_exception is not None:
        # Not a route (404, 405): nothing to act on, but its error page still shows a
        # logged-in member as logged in.
        token = request.cookies.get(SESSION_COOKIE)
        found = await _load(request, token) if token and request.method in SAFE_METHODS \
            else None
        if found is not None:
            request[VIEWER] = found
        return await handler(request)
    if (route.handler in request.app[CROSS_SITE]
            or isinstance(route.route.resource, web.StaticResource)):
        # Nothing here to act for a member: a peer's inbox, or a stylesheet (which costs no
        # session lookup).
        return await handler(request)
    stale = False
    current = None
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        current = await _load(request, token)
        stale = current is None
    if current is not None:
        request[VIEWER] = current
    if request.method not in SAFE_METHODS:
        await _check_form(request, current)
    response = await handler(request)
    if _SET_SESSION in request:
        _cookie(response, settings, SESSION_COOKIE, request[_SET_SESSION],
                int(settings.idle.total_seconds()))
        response.del_cookie(PRESESSION_COOKIE, path="/")
    elif request.get(_END_SESSION) or stale:
        response.del_cookie(SESSION_COOKIE, path="/")
    if _NEW_PRESESSION in request and _SET_SESSION not in request:
        _cookie(response, settings, PRESESSION_COOKIE, request[_NEW_PRESESSION], None)
    if current is not None or _SET_SESSION in request:
        # A page made for one member must not be kept by a shared cache.
        response.headers.setdefault("Cache-Control", "private, no-store")
    return response
