"""The long-lived pieces of a node, built and torn down in one place.

`serve` runs them inside the web app; CLI commands that talk to other servers (follow)
use the same pieces for the length of one command.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from actors.registry import ensure_node_actor
from actors.signing import LocalKeys
from chapterhouse import __version__
from chapterhouse.config import Config
from decisions.counting import TallySettings, TallyWorker
from federation.client import GuardedClient
from federation.remote_actors import RemoteActors
from federation.transport import Transport
from federation.urls import Urls
from inbox import handlers
from inbox.receive import Inbox
from outbox.delivery import DeliveryWorker, Policy
from storage.database import Database


@dataclass
class Services:
    config: Config
    urls: Urls
    db: Database
    client: GuardedClient
    keys: LocalKeys
    transport: Transport
    actors: RemoteActors
    worker: DeliveryWorker
    inbox: Inbox
    tallies: TallyWorker


def user_agent(config: Config) -> str:
    return f"Chapterhouse/{__version__} (+{config.base_url}/)"


async def initialise(config: Config) -> None:
    """Create the node's database with the current schema, and the node's own actor.

    The one place a schema is created from nothing (`chapterhouse init`, and tests and
    benchmarks that build a node without the CLI): `running` only opens a database whose
    schema is current.
    """
    async with Database(config.database, migrate=True) as db:
        await ensure_node_actor(db, config.name)


@asynccontextmanager
async def running(config: Config) -> AsyncIterator[Services]:
    urls = Urls(config.base_url)
    db = Database(config.database)
    await db.open()
    try:
        await ensure_node_actor(db, config.name)
        client = GuardedClient(
            allow_private_addresses=config.allow_private_addresses,
            user_agent=user_agent(config),
            limit=max(100, config.delivery_concurrency),
        )
        await client.start()
        try:
            keys = LocalKeys(db, urls)
            transport = Transport(db, client, await keys.signing_key(None))
            actors = RemoteActors(db, transport)
            worker = DeliveryWorker(db, transport, keys, Policy(
                concurrency=config.delivery_concurrency,
                max_attempts=config.delivery_max_attempts,
                backoff_scale=config.delivery_backoff_scale,
                unavailable_after=config.delivery_unavailable_after,
            ), owner=f"{socket.gethostname()}:{config.listen_host}:{config.listen_port}")
            tally_settings = TallySettings(
                debounce=timedelta(seconds=config.tally_debounce_seconds),
                grace=timedelta(seconds=config.late_tally_grace_seconds))
            tallies = TallyWorker(db, urls, tally_settings, on_queued=worker.wake)
            inbox = Inbox(
                db=db, actors=actors, transport=transport,
                context=lambda **kw: handlers.Context(
                    urls=urls, accept_subchapters_from=config.accept_subchapters_from,
                    tally_settings=tally_settings, **kw),
                window=timedelta(seconds=config.signature_window_seconds),
                on_queued=worker.wake,
                on_tallies=tallies.wake,
                node_username=config.hostname,
                local_base=config.base_url,
            )
            yield Services(config, urls, db, client, keys, transport, actors, worker, inbox,
                           tallies)
        finally:
            await client.close()
    finally:
        await db.close()
