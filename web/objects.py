"""Local objects and activities by URL: AS2 for servers, a page for people, 410 once deleted."""

from __future__ import annotations

from aiohttp import web

from outbox.activities import tombstone
from storage import actors as actor_store
from storage import outbox as store
from web.actors import as2_response, require_signature
from web.errors import refuse
from web.negotiation import activity_media_type
from web.pages import render
from web.state import DB, NODE


async def object_view(request: web.Request) -> web.StreamResponse:
    urls = request.app[NODE].urls
    iri = urls.object(request.match_info["uuid"])
    found = await store.local_object(request.app[DB], iri)
    if found is None:
        raise refuse(404, "no such object on this node")
    document, actor_id, deleted_at = found
    media_type = activity_media_type(request.headers.get("Accept"))
    if deleted_at is not None:
        if media_type is not None:
            response = as2_response(tombstone(document, deleted_at), media_type)
            response.set_status(410)
            return response
        raise web.HTTPGone(text="this object was deleted")
    await require_signature(request)
    if media_type is not None:
        return as2_response(document, media_type)
    author = await actor_store.handle_of(request.app[DB], actor_id)
    counts = await store.reaction_counts(request.app[DB], iri)
    return render(request, "object.html", object=document, author=author, counts=counts)


async def activity_view(request: web.Request) -> web.StreamResponse:
    await require_signature(request)
    iri = request.app[NODE].urls.activity(request.match_info["uuid"])
    document = await store.local_activity(request.app[DB], iri)
    if document is None:
        raise refuse(404, "no such activity on this node")
    return as2_response(document, activity_media_type(request.headers.get("Accept"))
                        or "application/activity+json")


def setup(app: web.Application) -> None:
    app.router.add_get("/objects/{uuid:[0-9a-f]{32}}", object_view)
    app.router.add_get("/activities/{uuid:[0-9a-f]{32}}", activity_view)
