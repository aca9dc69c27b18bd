"""Choosing the site's language (the switcher on every page) and, for a member, the
language and time zone their account remembers.

Routes:
- `GET /language/{code}?next=PATH`: a visitor's choice, kept in a cookie. A link, so the
  switcher works on every page (error pages too) without a form token; it changes
  nothing but the visitor's own cookie.
- `POST /language` (`lang`, `next`): a logged-in member's choice, kept in their account
  too (a form with the session's CSRF token, since it changes the account).
- `GET/POST /account/reading`: the member's language and time zone, as a settings form.
"""

from __future__ import annotations

from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import structlog
from aiohttp import web

from storage import accounts as account_store
from web import i18n
from web.accounts import local_path
from web.i18n import _
from web.pages import render
from web.session import SESSION_SETTINGS, viewer
from web.state import DB

log = structlog.get_logger("chapterhouse.language")

READING_PATH = "/account/reading"


def _next(value: object) -> str:
    """Back where the switcher was; never to another site (`//host`, `/\\host`, or one
    hidden behind a tab or other control character a browser drops)."""
    if isinstance(value, str) and len(value) <= 2000:
        return local_path(value)
    return "/"


def _back(request: web.Request, code: str, target: str) -> web.HTTPException:
    response = web.HTTPSeeOther(location=target)
    i18n.remember(response, code, request.app[SESSION_SETTINGS].secure)
    return response


async def switch_for_visitor(request: web.Request) -> web.StreamResponse:
    code = request.match_info["code"]
    if code not in i18n.LANGUAGES:
        raise web.HTTPNotFound(text=_("This site is not translated into that language."))
    raise _back(request, code, _next(request.query.get("next")))


async def switch_for_member(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    code = form.get("lang")
    if not isinstance(code, str) or code not in i18n.LANGUAGES:
        raise web.HTTPBadRequest(text=_("This site is not translated into that language."))
    current = viewer(request)
    if current is not None:
        await account_store.set_language(request.app[DB], current.member_id, code)
        log.info("language chosen", member=current.handle, language=code)
    raise _back(request, code, _next(form.get("next")))


@cache
def time_zones() -> list[str]:
    """Every IANA zone the machine knows, as the form offers them."""
    return sorted(zone for zone in available_timezones()
                  if "/" in zone and not zone.startswith(("Etc/", "SystemV/", "posix/")))


def _zone_or_none(value: object) -> str | None:
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return value


async def reading(request: web.Request) -> web.StreamResponse:
    current = viewer(request)
    if current is None:
        raise web.HTTPSeeOther(location=f"/login?next={READING_PATH}")
    account = await account_store.account_by_handle(request.app[DB], current.handle)
    errors: dict[str, str] = {}
    chosen_language = account.language if account else None
    chosen_zone = account.time_zone if account else None
    status = 200
    if request.method == "POST":
        form = await request.post()
        code = form.get("language")
        zone_text = form.get("time_zone")
        chosen_language = code if isinstance(code, str) and code in i18n.LANGUAGES else None
        chosen_zone = _zone_or_none(zone_text)
        if chosen_language is None:
            errors["language"] = _("Choose one of the languages offered.")
        if zone_text and chosen_zone is None:
            errors["time_zone"] = _("Choose one of the time zones offered.")
        if not errors:
            await account_store.set_reading(request.app[DB], current.member_id,
                                            chosen_language, chosen_zone)
            log.info("reading settings saved", member=current.handle,
                     language=chosen_language, time_zone=chosen_zone)
            assert chosen_language is not None
            raise _back(request, chosen_language, f"{READING_PATH}?saved=1")
        status = 400
    response = render(request, "reading.html", errors=errors, csrf_token=current.csrf_token,
                      chosen_language=chosen_language or i18n.current().code,
                      chosen_zone=chosen_zone or "", zones=time_zones(),
                      saved=request.query.get("saved") == "1")
    response.set_status(status)
    return response


def setup(app: web.Application) -> None:
    app.router.add_get("/language/{code}", switch_for_visitor)
    app.router.add_post("/language", switch_for_member)
    app.router.add_get(READING_PATH, reading)
    app.router.add_post(READING_PATH, reading)
