"""The Welcome a member sees on the first login after joining, and any time later.

Route: GET /welcome[?next=PATH]. Logging in (web/accounts.py) sends a member here once,
when their account, made by joining (web/joins.py), is welcomed for the first time; `next`
is where the login was going, offered as the way on.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from storage import actors as actor_store
from web import session
from web.pages import render
from web.state import DB

WELCOME_PATH = "/welcome"


def welcome_path(next_path: str) -> str:
    """Where a first login lands: the Welcome, then on to where it was going."""
    if next_path in ("", "/"):
        return WELCOME_PATH
    return f"{WELCOME_PATH}?next={quote(next_path, safe='/')}"


async def welcome(request: web.Request) -> web.Response:
    # Here, not at the top: logging in (web.accounts) sends members here.
    from web.accounts import local_path, see_other

    current = session.viewer(request)
    if current is None:
        return see_other(f"/login?next={WELCOME_PATH}")
    next_path = local_path(request.query.get("next"))
    return render(request, "welcome.html",
                  chapters=await actor_store.member_chapters(request.app[DB],
                                                             current.member_id),
                  next=None if next_path == "/" else next_path)


def setup(app: web.Application) -> None:
    app.router.add_get(WELCOME_PATH, welcome)
