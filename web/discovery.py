"""WebFinger, NodeInfo and host-meta: how the fediverse finds this node and its actors."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from federation import nodeinfo, webfinger
from federation.urls import NODE as NODE_HANDLE
from storage import actors as store
from web.errors import refuse
from web.i18n import _
from web.state import DB, NODE

# Discovery documents are read by browsers' JavaScript clients too (Mastodon web, Elk).
CORS = {"Access-Control-Allow-Origin": "*"}


def _json(document: dict[str, Any], media_type: str) -> web.Response:
    headers = {"Content-Type": media_type, "Cache-Control": "max-age=300, public", **CORS}
    return web.Response(body=json.dumps(document).encode("utf-8"), headers=headers)


async def webfinger_lookup(request: web.Request) -> web.Response:
    node = request.app[NODE]
    try:
        handle = webfinger.parse_resource(
            request.query.get("resource"), node.urls, node.domain, node.username
        )
    except webfinger.BadResource as exc:
        raise refuse(400, str(exc)) from None
    except webfinger.NotHere as exc:
        raise refuse(404, str(exc)) from None
    if handle == NODE_HANDLE:
        username, key = node.username, None
    else:
        actor = await store.actor_by_handle(request.app[DB], handle)
        if actor is None or actor.handle is None:
            raise refuse(404, _("There is no one called %(handle)s on this node.",
                                handle=handle))
        username, key = actor.handle, actor.handle
    document = webfinger.jrd(
        f"acct:{username}@{node.domain}", node.urls.actor(key), node.urls.profile(key)
    )
    return _json(document, webfinger.JRD_MEDIA_TYPE)


async def nodeinfo_links(request: web.Request) -> web.Response:
    return _json(nodeinfo.discovery(request.app[NODE].urls), "application/json")


# The last NodeInfo document and the database's data_version it was counted at: crawlers
# poll NodeInfo, and its counts only change when something is written.
_NODEINFO = web.AppKey("nodeinfo_cache", dict)


async def nodeinfo_document(request: web.Request) -> web.Response:
    node, db = request.app[NODE], request.app[DB]
    cache = request.app[_NODEINFO]
    # data_version changes with every commit on another connection, and the reader never
    # writes: so an unchanged version means unchanged counts, here and from the CLI.
    version = await db.data_version()
    if cache.get("version") != version:
        cache["document"] = nodeinfo.document(
            version=node.version,
            node_name=node.name,
            users=await store.count_actors(db, "member"),
            local_posts=await store.count_local_posts(db),
            chapters_by_level=await store.chapters_by_level(db),
        )
        cache["version"] = version
    return _json(cache["document"], nodeinfo.MEDIA_TYPE_21)


async def host_meta(request: web.Request) -> web.Response:
    return web.Response(
        text=webfinger.host_meta(request.app[NODE].urls),
        content_type="application/xrd+xml",
        headers=CORS,
    )


def setup(app: web.Application) -> None:
    app[_NODEINFO] = {}
    app.router.add_get("/.well-known/webfinger", webfinger_lookup)
    app.router.add_get("/.well-known/nodeinfo", nodeinfo_links)
    app.router.add_get("/nodeinfo/2.1", nodeinfo_document)
    app.router.add_get("/.well-known/host-meta", host_meta)
