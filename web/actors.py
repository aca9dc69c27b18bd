"""Actor URLs and their collections: AS2 JSON for servers, a page for people."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from actors.documents import actor_to_ap
from federation import collections
from federation.verification import Unverified, verify_signed
from federation.vocab import AS2_MEDIA_TYPE
from storage import actors as store
from storage import paging
from storage.actors import ActorRecord
from storage.database import Database
from storage.paging import Cursor, Page
from web.errors import refuse
from web.i18n import _
from web.negotiation import activity_media_type
from web.pages import render_actor_page
from web.state import DB, REMOTE_ACTORS, SETTINGS
from web.state import NODE as NODE_STATE

log = structlog.get_logger("chapterhouse.http")

# Actor documents change rarely; a short public cache spares peers and us repeated work.
CACHE_CONTROL = "max-age=60, public"


def as2_response(document: dict[str, Any], media_type: str = AS2_MEDIA_TYPE) -> web.Response:
    return web.Response(
        body=json.dumps(document, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": media_type, "Vary": "Accept", "Cache-Control": CACHE_CONTROL},
    )


async def require_signature(request: web.Request) -> None:
    """In authorized-fetch mode, only signed GETs may read objects and collections."""
    settings = request.app[SETTINGS]
    if not settings.authorized_fetch:
        return
    try:
        await verify_signed(request.app[REMOTE_ACTORS], request.method, request.raw_path,
                            request.headers, None, settings.signature_window)
    except Unverified as exc:
        log.info("unsigned fetch refused", path=request.path, reason=str(exc))
        raise web.HTTPUnauthorized(text=_(
            "This node answers signed requests only, and this one could not be verified."
        )) from None


async def find_actor(request: web.Request) -> ActorRecord:
    db = request.app[DB]
    handle = request.match_info.get("handle")
    if handle is None:
        actor = await store.node_actor(db)
    else:
        actor = await store.actor_by_handle(db, handle)
    if actor is None:
        raise refuse(404, _("There is no one called %(handle)s on this node.", handle=handle))
    return actor


async def actor_document(request: web.Request, actor: ActorRecord) -> dict[str, Any]:
    node = request.app[NODE_STATE]
    member_of, member_count = None, None
    if actor.kind == "member":
        member_of = [c.handle for c in await store.member_chapters(request.app[DB], actor.id)]
    elif actor.kind == "chapter":
        member_count = await store.member_count(request.app[DB], actor.id)
    return actor_to_ap(actor, node.urls, node.username, member_of, member_count)


async def actor(request: web.Request) -> web.StreamResponse:
    found = await find_actor(request)
    media_type = activity_media_type(request.headers.get("Accept"))
    if media_type is not None:
        return as2_response(await actor_document(request, found), media_type)
    if found.kind == "node":
        raise web.HTTPFound(request.app[NODE_STATE].urls.profile(None))
    response = await render_actor_page(request, found)
    response.headers["Vary"] = "Accept"
    return response


Counter = Callable[[Database, int], Awaitable[int]]
Pager = Callable[[Database, int, Cursor | None, int], Awaitable[tuple[list[Any], Page]]]

COLLECTIONS: dict[str, tuple[Counter, Pager, int]] = {  # counter, pager, cursor width
    "outbox": (store.outbox_count, store.outbox_page, 1),
    "followers": (store.followers_count, store.followers_page, 1),
    "following": (store.following_count, store.following_page, 1),
    "subchapters": (store.subchapters_count, store.subchapters_page, 2),
}


def page_number(request: web.Request) -> int | None:
    raw = request.query.get("page")
    if raw is None:
        return None
    if raw == "true":
        return 1
    if not raw.isdigit() or int(raw) < 1 or len(raw) > 9:
        raise refuse(400, _("page must be a positive whole number"))
    return int(raw)


def requested_page(request: web.Request, width: int) -> tuple[bool, Cursor | None]:
    """(whether a page was asked for, the cursor it starts at). `?page=true` is the first
    page (as is `?page=1`, the first page's link before pages had cursors); later pages are
    `?cursor=`, as their links say. Numbered pages past the first no longer exist: reading
    them meant reading every row before them."""
    token = request.query.get("cursor")
    if token is not None:
        try:
            return True, paging.decode(token, width)
        except paging.BadCursor:
            raise refuse(400, _("This link to another page is not one this site made.")
                         ) from None
    page = page_number(request)
    if page is None:
        return False, None
    if page > 1:
        raise refuse(404, _("pages are reached from the first one, by their `next` links"))
    return True, None


def page_document(
    request: web.Request, collection_id: str, total: int, items: list[Any], page: Page
) -> dict[str, Any]:
    token = request.query.get("cursor")
    page_id = (collections.cursor_page(collection_id, token) if token is not None
               else collections.first_page(collection_id))
    return collections.ordered_collection_page(
        collection_id, page_id, total, items,
        next_cursor=paging.encode(page.next) if page.next else None,
        prev_cursor=paging.encode(page.prev) if page.prev else None)


async def collection(request: web.Request) -> web.StreamResponse:
    found = await find_actor(request)
    await require_signature(request)
    name = request.match_info["collection"]
    if name == "subchapters" and found.kind != "chapter":
        raise refuse(404, _("only chapters have subchapters"))
    db, urls = request.app[DB], request.app[NODE_STATE].urls
    count, page_of, width = COLLECTIONS[name]
    collection_id = urls.collection(found.handle, name)
    total = await count(db, found.id)
    paged, cursor = requested_page(request, width)
    if not paged:
        return as2_response(collections.ordered_collection(collection_id, total))
    items, page = await page_of(db, found.id, cursor, collections.PAGE_SIZE)
    return as2_response(page_document(request, collection_id, total, items, page))


def setup(app: web.Application) -> None:
    names = "|".join(COLLECTIONS)
    app.router.add_get("/actor", actor)
    app.router.add_get("/actors/{handle}", actor)
    app.router.add_get("/@{handle}", actor)
    app.router.add_get(f"/actor/{{collection:{names}}}", collection)
    app.router.add_get(f"/actors/{{handle}}/{{collection:{names}}}", collection)


