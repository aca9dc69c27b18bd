"""Personal access tokens: a member makes one for a script, sees it once, revokes it.

Routes: GET /account/tokens (the account's tokens and a form for a new one), POST
/account/tokens (create; the page shows the token this once), POST
/account/tokens/{id}/revoke. A token publishes with exactly its account's rights
(web/client_to_server.py). The token is 256 random bits; the node keeps only its sha256,
like a session's. "Log out everywhere" and a new password end sessions, not tokens: a
script keeps running when its owner logs out of their browsers, and revoking a token is
one button here. The session middleware has checked every POST's origin and CSRF token.
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web

from actors.accounts import new_token, token_hash
from storage import access_tokens as store
from storage.timestamps import now
from web import session
from web.accounts import see_other
from web.i18n import _, ngettext
from web.pages import render
from web.session import Viewer
from web.state import DB, NODE

log = structlog.get_logger(__name__)

PATH = "/account/tokens"
MAX_NAME = 100
MAX_ACTIVE = 20  # tokens in use per account: scripts, not one per run


def _page(request: web.Request, current: Viewer, tokens: list[store.AccessToken],
          name: str = "", error: str | None = None, new: str | None = None,
          status: int = 200) -> web.Response:
    node = request.app[NODE]
    response = render(request, "access_tokens.html", tokens=tokens, name=name, error=error,
                      new_token=new, max_name=MAX_NAME, csrf_token=session.csrf_token(request),
                      outbox=node.urls.collection(current.handle, "outbox"))
    response.set_status(status)
    return response


def _name(form: Any) -> str:
    value = form.get("name")
    text = value[: MAX_NAME * 2] if isinstance(value, str) else ""
    return " ".join(text.split())


async def tokens_page(request: web.Request) -> web.Response:
    current = session.viewer(request)
    if current is None:
        return see_other(f"/login?next={PATH}")
    return _page(request, current, await store.of_account(request.app[DB], current.member_id))


async def create(request: web.Request) -> web.Response:
    current = session.viewer(request)
    if current is None:
        return see_other(f"/login?next={PATH}")
    db = request.app[DB]
    name = _name(await request.post())
    error = None
    if not name:
        error = _("Give the token a name, such as the script that will use it.")
    elif len(name) > MAX_NAME:
        error = ngettext("A name has at most %(num)d character.",
                         "A name has at most %(num)d characters.", MAX_NAME)
    elif any(ord(c) < 32 or ord(c) == 127 for c in name):
        error = _("A name has no control characters.")
    elif await store.active_count(db, current.member_id) >= MAX_ACTIVE:
        error = ngettext("You have %(num)d token in use: revoke it first if you no longer "
                         "need it.",
                         "You have %(num)d tokens in use: revoke one you no longer need "
                         "first.", MAX_ACTIVE)
    if error is not None:
        log.info("access token refused", member=current.handle, reason=error)
        return _page(request, current, await store.of_account(db, current.member_id),
                     name[:MAX_NAME], error, status=400)
    token = new_token()
    await store.create(db, current.member_id, name, token_hash(token), now())
    log.info("access token created", member=current.handle)
    # Shown in this answer only; a reload asks to send the form again, which makes another.
    response = _page(request, current, await store.of_account(db, current.member_id),
                     new=token)
    response.headers["Cache-Control"] = "no-store"
    return response


async def revoke(request: web.Request) -> web.Response:
    current = session.viewer(request)
    if current is None:
        return see_other(f"/login?next={PATH}")
    raw = request.match_info["id"]
    revoked = (raw.isascii() and raw.isdigit() and len(raw) <= 18
               and await store.revoke(request.app[DB], current.member_id, int(raw), now()))
    if not revoked:
        # Someone else's token, one revoked already, or none: nothing to say about which.
        log.info("access token not revoked", member=current.handle, token=raw[:20])
        response = render(request, "notice.html", heading=_("No such token"),
                          message=_("You have no token in use by that number."),
                          link={"href": PATH, "text": _("Your tokens")})
        response.set_status(404)
        return response
    log.info("access token revoked", member=current.handle, token=raw)
    return see_other(PATH)


def setup(app: web.Application) -> None:
    app.router.add_get(PATH, tokens_page)
    app.router.add_post(PATH, create)
    app.router.add_post(PATH + "/{id}/revoke", revoke)
