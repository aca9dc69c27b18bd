"""The inbox endpoints that every actor document names: one per actor, and a shared one."""

from __future__ import annotations

import structlog
from aiohttp import web

from inbox.activity import Refused
from inbox.receive import Inbox

log = structlog.get_logger(__name__)

INBOX = web.AppKey("inbox", Inbox)


async def _receive(request: web.Request, target: str | None) -> web.Response:
    try:
        status = await request.app[INBOX].receive(request, target)
    except Refused as exc:
        log.info("activity refused", path=request.path, status=exc.status, reason=str(exc))
        return web.json_response({"error": str(exc)}, status=exc.status)
    except web.RequestPayloadError as exc:
        # aiohttp decodes Content-Encoding and chunked framing while we read; a body that
        # does not decode surfaces here, and only here, as this error.
        reason = f"body cannot be read: {' '.join(str(exc).split())[:200]}"
        log.info("activity refused", path=request.path, status=400, reason=reason)
        response = web.json_response({"error": reason}, status=400)
        # Nothing after a body that does not decode can be trusted to start a request:
        # close after the answer, and mark the body finished so that aiohttp does not
        # read it again while lingering (which raises, and logs a traceback, once more).
        response.force_close()
        request.content.feed_eof()
        return response
    return web.Response(status=status)


async def shared_inbox(request: web.Request) -> web.Response:
    return await _receive(request, None)


async def actor_inbox(request: web.Request) -> web.Response:
    return await _receive(request, request.match_info["handle"])


def setup(app: web.Application) -> None:
    app.router.add_post("/inbox", shared_inbox)
    app.router.add_post("/actor/inbox", shared_inbox)
    app.router.add_post("/actors/{handle}/inbox", actor_inbox)
