"""Local objects and activities by URL: AS2 for servers, a page for people, 410 once deleted.

An object's URL also has its replies collection (`/replies`) and, for an event, its
iCalendar file (`.ics`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from federation import collections
from outbox.activities import tombstone
from storage import actors as actor_store
from storage import decisions as decision_store
from storage import items as item_store
from storage import outbox as store
from web import feeds
from web.accounts import see_other
from web.actors import as2_response, page_document, requested_page, require_signature
from web.errors import refuse
from web.i18n import _
from web.items import item_view
from web.negotiation import activity_media_type
from web.pages import render
from web.replies import reply_section
from web.state import DB, NODE
from web.taking_part import local_part


async def _live_object(request: web.Request) -> tuple[str, dict[str, Any], int]:
    """(iri, document, actor id) of the object the URL names; 404 unknown, 410 deleted."""
    iri = request.app[NODE].urls.object(request.match_info["uuid"])
    found = await store.local_object(request.app[DB], iri)
    if found is None:
        raise refuse(404, _("There is no such post on this node."))
    document, actor_id, deleted_at = found
    if deleted_at is not None:
        raise web.HTTPGone(text=_("This post was deleted."))
    return iri, document, actor_id


async def object_view(request: web.Request) -> web.StreamResponse:
    urls = request.app[NODE].urls
    iri = urls.object(request.match_info["uuid"])
    found = await store.local_object(request.app[DB], iri)
    if found is None:
        raise refuse(404, _("There is no such post on this node."))
    document, actor_id, deleted_at = found
    media_type = activity_media_type(request.headers.get("Accept"))
    if deleted_at is not None:
        if media_type is not None:
            response = as2_response(tombstone(document, deleted_at), media_type)
            response.set_status(410)
            return response
        raise web.HTTPGone(text=_("This post was deleted."))
    if media_type is not None:
        # Authorized fetch guards what servers read; the public page stays public, as
        # Mastodon's does in secure mode.
        await require_signature(request)
        return as2_response(document, media_type)
    response = await object_page(request, iri, document, actor_id)
    response.headers["Vary"] = "Accept"
    return response


async def object_page(
    request: web.Request, iri: str, document: dict[str, Any], actor_id: int
) -> web.Response:
    """The page of an item (news, blog, minutes, event, poll), or of a note, with the
    replies that reached us from the fediverse under it."""
    db = request.app[DB]
    if document.get("type") == "Question":
        # A decision has its own page, with the ballot form and the count both ways.
        decision = await decision_store.by_iri(db, iri)
        if decision is not None:
            return see_other(f"/decisions/{decision.id}")
    replies = await reply_section(request, iri)
    counts = await store.reaction_counts(db, iri)
    row = await item_store.by_iri(db, iri)
    if row is None:
        author = await actor_store.handle_of(db, actor_id)
        # A chapter's note shows its organisers a Delete button (web/publishing.py).
        actor = None if author is None else await actor_store.actor_by_handle(db, author)
        return render(request, "object.html", object=document, author=author, counts=counts,
                      replies=replies, author_kind=actor.kind if actor else None)
    view = await item_view(db, row, datetime.now(UTC))
    return render(request, "item.html", item=view, counts=counts, replies=replies,
                  part=await local_part(request, row, view))


async def replies_collection(request: web.Request) -> web.StreamResponse:
    """`{object id}/replies`: the ids of the replies we hold, in the order they came."""
    iri, _, _ = await _live_object(request)
    await require_signature(request)
    db = request.app[DB]
    collection_id = f"{iri}/replies"
    total = await item_store.reply_count(db, iri)
    paged, cursor = requested_page(request, 1)
    if not paged:
        return as2_response(collections.ordered_collection(collection_id, total))
    rows, page = await item_store.replies_page(db, iri, cursor, collections.PAGE_SIZE)
    ids = [row.iri for row in rows]
    return as2_response(page_document(request, collection_id, total, ids, page))


async def event_calendar(request: web.Request) -> web.StreamResponse:
    """`{event id}.ics`: the event as an iCalendar file, to add it to a calendar."""
    iri = request.app[NODE].urls.object(request.match_info["uuid"])
    row = await item_store.by_iri(request.app[DB], iri)
    if row is None:
        raise refuse(404, _("There is no such event on this node."))
    if row.deleted_at is not None:
        raise web.HTTPGone(text=_("This event was deleted."))
    if row.kind != "event":
        raise refuse(404, _("This post is not an event."))
    body = feeds.event_calendar(request.app[NODE], [row])
    return feeds.calendar_response(body, download=f"{request.match_info['uuid']}.ics")


async def activity_view(request: web.Request) -> web.StreamResponse:
    await require_signature(request)
    iri = request.app[NODE].urls.activity(request.match_info["uuid"])
    document = await store.local_activity(request.app[DB], iri)
    if document is None:
        raise refuse(404, _("There is no such activity on this node."))
    return as2_response(document, activity_media_type(request.headers.get("Accept"))
                        or "application/activity+json")


def setup(app: web.Application) -> None:
    uuid = "{uuid:[0-9a-f]{32}}"
    app.router.add_get(f"/objects/{uuid}", object_view)
    app.router.add_get(f"/objects/{uuid}/replies", replies_collection)
    app.router.add_get(f"/objects/{uuid}.ics", event_calendar)
    app.router.add_get(f"/activities/{uuid}", activity_view)
    # The app factory wires this module; the actors' feeds come along with the events'.
    feeds.setup(app)
