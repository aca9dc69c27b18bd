"""A member edits their profile; avatars are served from the node's data directory.

Routes: GET/POST /account/profile (display name, Markdown summary, avatar upload or
removal), GET /media/avatars/{name}. A saved profile is federated to the member's
followers as an `Update` of their Person (outbox/profiles.py). The session middleware
(web/session.py) has already checked every POST's origin and CSRF token.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import structlog
from aiohttp import web

from actors import avatars
from outbox.items import body_html
from outbox.profiles import queue_profile_update
from storage import actors as actor_store
from storage import profiles as store
from web import session
from web.accounts import see_other
from web.errors import refuse
from web.i18n import _, ngettext, word
from web.pages import render
from web.state import DB, NODE
from web.uploads import allow_upload, picture_in

log = structlog.get_logger("chapterhouse.profiles")

PROFILE_PATH = "/account/profile"
MAX_NAME = 100
MAX_SUMMARY = 2000
AVATARS = web.AppKey("avatar_directory", Path)
# Avatars are named by their content, so a URL never changes what it shows.
AVATAR_HEADERS = {
    "Content-Type": avatars.MEDIA_TYPE,
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Content-Disposition": "inline",
    "Cache-Control": "public, max-age=31536000, immutable",
}


@dataclass
class ProfileForm:
    name: str
    summary: str


def _text(form: Any, name: str, limit: int) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _printable(text: str) -> str:
    """Without control characters but line breaks (PostgreSQL text holds no NUL)."""
    return "".join(c for c in text if c == "\n" or (ord(c) >= 32 and ord(c) != 127))


def _page(request: web.Request, member: actor_store.ActorRecord, form: ProfileForm,
          errors: dict[str, str], status: int = 200) -> web.Response:
    response = render(request, "profile.html", member=member, form=form, errors=errors,
                      max_name=MAX_NAME, max_summary=MAX_SUMMARY,
                      max_megabytes=avatars.MAX_BYTES // (1024 * 1024),
                      max_side=avatars.MAX_SIDE, csrf_token=session.csrf_token(request))
    response.set_status(status)
    return response


async def _member(request: web.Request) -> actor_store.ActorRecord | None:
    current = session.viewer(request)
    if current is None:
        return None
    return await actor_store.actor_by_handle(request.app[DB], current.handle)


async def profile_form(request: web.Request) -> web.Response:
    member = await _member(request)
    if member is None:
        return see_other(f"/login?next={PROFILE_PATH}")
    return _page(request, member, ProfileForm(member.name, member.summary), {})


async def save_profile(request: web.Request) -> web.Response:
    member = await _member(request)
    if member is None:
        return see_other(f"/login?next={PROFILE_PATH}")
    posted = await request.post()
    form = ProfileForm(
        name=" ".join(_printable(_text(posted, "name", MAX_NAME * 2)).split()),
        summary=_printable(_text(posted, "summary", MAX_SUMMARY * 2)
                           .replace("\r\n", "\n")).strip())
    errors: dict[str, str] = {}
    if not form.name:
        errors["name"] = _("Enter the name people see.")
    elif len(form.name) > MAX_NAME:
        errors["name"] = ngettext("A name has at most %(num)d character.",
                                  "A name has at most %(num)d characters.", MAX_NAME)
    if len(form.summary) > MAX_SUMMARY:
        errors["summary"] = ngettext("The summary has at most %(num)d character.",
                                     "The summary has at most %(num)d characters.",
                                     MAX_SUMMARY)
    avatar = None
    data = picture_in(posted)
    if data is not None:
        try:
            avatar = await asyncio.to_thread(avatars.make_avatar, data)
        except avatars.AvatarError as exc:
            errors["avatar"] = word(exc)
    if errors:
        log.info("profile refused", member=member.handle, fields=sorted(errors))
        return _page(request, member, form, errors, 400)
    remove = posted.get("remove_avatar") == "yes" and avatar is None
    directory = request.app[AVATARS]
    if avatar is not None:
        await asyncio.to_thread(avatars.save, directory, avatar)
    old_file = member.avatar_file
    new_file = avatar.name if avatar is not None else None if remove else old_file
    node = request.app[NODE]
    changed = (form.name != member.name or form.summary != member.summary
               or new_file != old_file)
    if changed:
        async with request.app[DB].transaction() as tx:
            await store.set_profile(tx, member.id, form.name, form.summary,
                                    body_html(form.summary) or None)
            if avatar is not None:
                await store.set_avatar(tx, member.id, avatar.name,
                                       f"{node.urls.base}/media/avatars/{avatar.name}")
            elif remove:
                await store.set_avatar(tx, member.id, None, None)
            await queue_profile_update(tx, node.urls, member.handle or "", node.username)
    if old_file and old_file != new_file and not await store.avatar_in_use(request.app[DB],
                                                                           old_file):
        # A removed picture of someone is gone from the node, not only unlinked.
        await asyncio.to_thread(avatars.remove, directory, old_file)
    return see_other(f"/@{quote(member.handle or '')}")


async def avatar_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    # Only names this node gives (a hash and .webp): nothing else on disk is reachable.
    if not avatars.NAME.fullmatch(name):
        raise refuse(404, _("There is no such picture on this node."))
    try:
        data = await asyncio.to_thread((request.app[AVATARS] / name).read_bytes)
    except FileNotFoundError:
        raise refuse(404, _("There is no such picture on this node.")) from None
    return web.Response(body=data, headers=AVATAR_HEADERS)


def setup(app: web.Application, directory: Path) -> None:
    """After session.setup: the upload limit is raised before the session middleware
    reads the form."""
    app[AVATARS] = directory
    allow_upload(app, PROFILE_PATH, "profile refused")
    app.router.add_get(PROFILE_PATH, profile_form)
    app.router.add_post(PROFILE_PATH, save_profile)
    app.router.add_get("/media/avatars/{name}", avatar_file)
    # No session for a picture: its response is public and cached, never with a cookie.
    session.allow_cross_site(app, avatar_file)
