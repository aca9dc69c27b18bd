"""The inbox endpoints that every actor document names.

Until this node verifies HTTP signatures it accepts nothing: it answers 503 with
Retry-After, which Mastodon, Fedify and GoToSocial all retry, so a Follow sent now is
delivered again (and accepted) once the signed inbox is in place, instead of being lost to
a 4xx that senders treat as final.
"""

from __future__ import annotations

from aiohttp import web

RETRY_AFTER_SECONDS = 3600


async def not_accepting(request: web.Request) -> web.Response:
    raise web.HTTPServiceUnavailable(
        text="this node does not accept activities yet; retry later",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def setup(app: web.Application) -> None:
    app.router.add_post("/inbox", not_accepting)
    app.router.add_post("/actor/inbox", not_accepting)
    app.router.add_post("/actors/{handle}/inbox", not_accepting)
