"""The app factory: one place where config, storage, routes and state are wired together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from importlib import resources

from aiohttp import web

from chapterhouse import __version__
from chapterhouse.config import Config
from chapterhouse.mail import MailSender, Sender
from chapterhouse.services import running
from chapterhouse.supervise import Supervisor
from federation.urls import Urls
from inbox import routes as inbox_routes
from outbox.content import run_scheduler
from storage.retention import run_pruning
from web import access_tokens as token_routes
from web import accounts as account_routes
from web import actors as actor_routes
from web import admin_deliveries as delivery_queue_routes
from web import archives as archive_routes
from web import chapter_settings as chapter_settings_routes
from web import chapter_tree as chapter_tree_routes
from web import client_to_server as client_to_server_routes
from web import decisions as decision_routes
from web import (
    discovery,
    i18n,
    language_choice,
    objects,
    pages,
    password_reset,
    reactions,
    security_headers,
    session,
)
from web import events_page as events_routes
from web import joins as join_routes
from web import profiles as profile_routes
from web import projects as project_routes
from web import publishing as publishing_routes
from web import search as search_routes
from web import site_pages as site_page_routes
from web import taking_part as taking_part_routes
from web import welcome as welcome_routes
from web import workspace as workspace_routes
from web import writing as writing_routes
from web.errors import handle_errors
from web.mail import MAIL, Mailer
from web.state import DB, NODE, REMOTE_ACTORS, SETTINGS, TALLIES, TEMPLATES, Node, Settings

SUPERVISOR = web.AppKey("supervisor", Supervisor)

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


def create_app(config: Config, deliver: bool = True) -> web.Application:
    """The node's web app. `deliver=False` leaves the background tasks out (benchmarks)."""
    app = web.Application(middlewares=[handle_errors], client_max_size=MAX_REQUEST_BYTES)
    app[NODE] = node_state(config)
    app[TEMPLATES] = pages.create_templates()
    app[SETTINGS] = Settings(
        authorized_fetch=config.authorized_fetch,
        signature_window=timedelta(seconds=config.signature_window_seconds),
    )
    mailer = app[MAIL] = Mailer(enabled=config.mail is not None, node_name=config.name,
                                base_url=config.base_url)

    async def services(app: web.Application) -> AsyncIterator[None]:
        async with running(config) as node:
            app[DB] = node.db
            app[REMOTE_ACTORS] = node.actors
            app[inbox_routes.INBOX] = node.inbox
            app[TALLIES] = node.tallies
            supervisor = app[SUPERVISOR] = Supervisor()
            if deliver:
                supervisor.start("delivery worker", node.worker.run)
                supervisor.start("tally worker", node.tallies.run)
                supervisor.start("poll scheduler",
                                 lambda: run_scheduler(node.db, node.urls, node.worker.wake))
                supervisor.start("pruner", lambda: run_pruning(
                    node.db, timedelta(days=config.keep_delivered_days),
                    timedelta(days=config.keep_received_days)))
                if config.mail is not None:
                    sender = MailSender(node.db, config.mail, Sender(
                        config.name, config.mail.sender, config.hostname), mailer.wake_event)
                    supervisor.start("mail sender", sender.run)
            yield
            await supervisor.stop()

    app.cleanup_ctx.append(services)
    security_headers.setup(app)
    session.setup(app, timedelta(days=config.session_idle_days), config.base_url)
    i18n.setup(app, config.language, config.time_zone)
    language_choice.setup(app)
    # After the session middleware: it reads the viewer that one found.
    app.middlewares.append(reactions.preload)
    pages.setup(app)
    chapter_tree_routes.setup(app)
    events_routes.setup(app)
    archive_routes.setup(app)
    search_routes.setup(app)
    account_routes.setup(app)
    password_reset.setup(app)
    token_routes.setup(app)
    delivery_queue_routes.setup(app)
    join_routes.setup(app, config.commitments)
    profile_routes.setup(app, config.data_dir / "media" / "avatars")
    workspace_routes.setup(app, accept_local=config.domain in config.accept_subchapters_from,
                           allow_http=config.allow_private_addresses)
    chapter_settings_routes.setup(app)
    site_page_routes.setup(app)
    welcome_routes.setup(app)
    writing_routes.setup(app)
    publishing_routes.setup(app)
    project_routes.setup(app)
    decision_routes.setup(app)
    taking_part_routes.setup(app)
    actor_routes.setup(app)
    objects.setup(app)
    discovery.setup(app)
    inbox_routes.setup(app)
    session.allow_cross_site(app, inbox_routes.shared_inbox, inbox_routes.actor_inbox)
    # Bearer tokens only: a session cookie, which browsers attach to any site's form, must
    # never publish here (web/client_to_server.py).
    client_to_server_routes.setup(app)
    session.allow_cross_site(app, client_to_server_routes.post_to_outbox)
    app.router.add_static("/static", str(resources.files("web").joinpath("static")))
    return app
