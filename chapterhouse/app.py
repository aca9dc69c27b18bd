"""The app factory: one place where config, storage, routes and state are wired together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from importlib import resources

from aiohttp import web

from actors.registry import ensure_node_actor
from chapterhouse import __version__
from chapterhouse.config import Config
from federation.urls import Urls
from inbox import routes as inbox_routes
from storage.database import Database
from web import actors as actor_routes
from web import discovery, pages
from web.errors import handle_errors
from web.state import DB, NODE, TEMPLATES, Node

# Activities are small; Mastodon refuses anything over 1 MB and so do we.
MAX_REQUEST_BYTES = 1024 * 1024


def node_state(config: Config) -> Node:
    return Node(
        urls=Urls(config.base_url),
        domain=config.domain,
        username=config.hostname,
        name=config.name,
        version=__version__,
    )


def create_app(config: Config) -> web.Application:
    app = web.Application(middlewares=[handle_errors], client_max_size=MAX_REQUEST_BYTES)
    app[NODE] = node_state(config)
    app[TEMPLATES] = pages.create_templates()

    async def database(app: web.Application) -> AsyncIterator[None]:
        db = Database(config.database)
        await db.open()
        await ensure_node_actor(db, config.name)
        app[DB] = db
        yield
        await db.close()

    app.cleanup_ctx.append(database)
    pages.setup(app)
    actor_routes.setup(app)
    discovery.setup(app)
    inbox_routes.setup(app)
    app.router.add_static("/static", str(resources.files("web").joinpath("static")))
    return app
