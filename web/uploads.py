"""Forms that carry a picture: for their routes alone, a request may be as large as the
picture allowed (actors/avatars.py), rather than the node's usual limit
(chapterhouse/app.py MAX_REQUEST_BYTES)."""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from actors import avatars
from web import session
from web.i18n import word

log = structlog.get_logger(__name__)

# The whole form: the largest image we take, and room for the text fields around it.
UPLOAD_LIMIT = avatars.MAX_BYTES + 64 * 1024
# A route's canonical path -> the event logged when its upload is refused as too large.
UPLOAD_ROUTES = web.AppKey("upload_routes", dict[str, str])


@web.middleware
async def larger_upload(request: web.Request, handler: Handler) -> web.StreamResponse:
    resource = request.match_info.route.resource
    routes = request.app[UPLOAD_ROUTES]
    if request.method != "POST" or resource is None or resource.canonical not in routes:
        return await handler(request)
    try:
        return await handler(request.clone(client_max_size=UPLOAD_LIMIT))
    except web.HTTPRequestEntityTooLarge:
        log.info(routes[resource.canonical], reason="upload too large")
        raise web.HTTPRequestEntityTooLarge(
            UPLOAD_LIMIT, text=word(avatars.too_many_bytes())) from None


def allow_upload(app: web.Application, route: str, refused_event: str) -> None:
    """After session.setup: the limit is raised before the session middleware reads the
    form. One middleware for every such route."""
    if UPLOAD_ROUTES not in app:
        app[UPLOAD_ROUTES] = {}
        app.middlewares.insert(app.middlewares.index(session.sessions), larger_upload)
    app[UPLOAD_ROUTES][route] = refused_event


def picture_in(form: Any) -> bytes | None:
    """The file chosen in a form's `avatar` field; None when none was (browsers then send
    an empty part without a file name). Read up to one byte past the largest allowed, so
    that a larger one is told apart without reading all of it."""
    field = form.get("avatar")
    if not isinstance(field, web.FileField):
        return None
    data = field.file.read(avatars.MAX_BYTES + 1)
    if not data and not field.filename:
        return None
    return bytes(data)
