"""The delivery worker step by step (run_once), against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from actors.registry import create_chapter
from chapterhouse.config import parse
from chapterhouse.services import Services, initialise, running
from outbox.delivery import LEASE
from outbox.publish import post_note
from storage import outbox as outbox_store
from storage import remote as remote_store
from storage.database import Database, now, utcnow
from storage.outbox import Outcome
from storage.timestamps import at
from tests.outbox.conftest import raw_config

LATER = timedelta(days=200)  # far enough ahead that every backoff has passed


@pytest.fixture
async def node(tmp_path: Path, engine: str) -> AsyncIterator[Services]:
    raw = raw_config("127.0.0.1:1")
    raw["federation"]["allow_private_addresses"] = True
    raw["delivery"]["unavailable_after"] = 3
    config = parse(raw, tmp_path)
    await initialise(config)
    async with running(config) as services:
        await create_chapter(services.db, "127.0.0.1", "dublin", "Dublin", "local")
        yield services


class Peer:
    """An inbox that answers with the statuses it is told to, in order."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str]]] = []
        self.hits = 0
        self.base = ""


@pytest.fixture
async def peer(aiohttp_server: Any) -> Peer:
    state = Peer()

    async def inbox(request: web.Request) -> web.Response:
        state.hits += 1
        status, headers = state.answers.pop(0) if state.answers else (202, {})
        return web.Response(status=status, headers=headers)

    app = web.Application()
    app.router.add_post("/inbox", inbox)
    server = await aiohttp_server(app, host="127.0.0.1")
    state.base = f"http://127.0.0.1:{server.port}"
    return state


async def follower_at(db: Database, base: str, name: str = "u1") -> None:
    iri = f"{base}/users/{name}"
    host = base.removeprefix("http://")
    await remote_store.save_actor(db, {
        "iri": iri, "type": "Person", "host": host, "inbox": f"{iri}/inbox",
        "shared_inbox": f"{base}/inbox", "username": name, "name": name}, [], {})
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO followers (actor_id, follower_iri, state, created_at)"
            " SELECT id, ?, 'accepted', ? FROM actors WHERE handle = 'dublin'", (iri, utcnow()))


async def deliveries(node: Services) -> list[tuple[Any, ...]]:
    rows = await node.db.fetchall("SELECT state, attempts, last_status FROM deliveries")
    return [tuple(r) for r in rows]


async def test_statuses_decide_retry_or_give_up(node: Services, peer: Peer) -> None:
    await follower_at(node.db, peer.base)
    peer.answers = [(500, {}), (401, {}), (401, {}), (429, {"Retry-After": "120"}), (202, {})]
    await post_note(node.db, node.urls, "dublin", "hello")
    await node.worker.run_once()
    assert await deliveries(node) == [("queued", 1, 500)]
    await node.worker.run_once(now() + LATER)
    # 401: the double knock tries the other signature scheme at once, then waits.
    assert await deliveries(node) == [("queued", 2, 401)]
    await node.worker.run_once(now() + LATER)
    assert await deliveries(node) == [("queued", 3, 429)]
    due = at(await node.db.fetchvalue("SELECT next_attempt_at FROM deliveries"))
    assert timedelta(seconds=110) < due - now() < timedelta(seconds=130)  # Retry-After
    await node.worker.run_once(now() + LATER)
    assert await deliveries(node) == [("delivered", 4, 202)]
    assert peer.hits == 5


async def test_a_final_4xx_is_not_retried(node: Services, peer: Peer) -> None:
    await follower_at(node.db, peer.base)
    peer.answers = [(404, {})]
    await post_note(node.db, node.urls, "dublin", "hello")
    await node.worker.run_once()
    assert await deliveries(node) == [("dead", 1, 404)]
    assert await node.worker.run_once(now() + LATER) == 0


async def test_a_failing_host_is_marked_unavailable_and_probed(
    node: Services, peer: Peer
) -> None:
    await follower_at(node.db, peer.base)
    peer.answers = [(503, {})] * 4
    for text in ("one", "two"):
        await post_note(node.db, node.urls, "dublin", text)
    await node.worker.run_once()  # two deliveries fail: failures = 2
    await node.worker.run_once(now() + LATER)  # 4 failures in a row: unavailable
    host = await remote_store.host_state(node.db, peer.base.removeprefix("http://"))
    assert host is not None and host.unavailable_since is not None
    hits = peer.hits
    # While unavailable, one delivery an hour is let through as a probe; it succeeds,
    # the host is available again and the rest follows.
    assert await node.worker.run_once(now() + LATER) == 1
    assert peer.hits == hits + 1
    await node.worker.run_once(now() + LATER)
    assert [r[0] for r in await deliveries(node)] == ["delivered", "delivered"]
    host = await remote_store.host_state(node.db, peer.base.removeprefix("http://"))
    assert host is not None and host.unavailable_since is None and host.failures == 0


async def test_followers_on_one_host_get_one_post(node: Services, peer: Peer) -> None:
    for name in ("u1", "u2", "u3"):
        await follower_at(node.db, peer.base, name)
    await post_note(node.db, node.urls, "dublin", "to all of you")
    await node.worker.run_once()
    assert await deliveries(node) == [("delivered", 1, 202)]
    assert peer.hits == 1


async def test_a_refused_address_is_given_up_without_retrying(
    tmp_path: Path, engine: str
) -> None:
    raw = raw_config("chapters.example.org", "https")
    config = parse(raw, tmp_path)
    await initialise(config)
    async with running(config) as node:  # private addresses not allowed
        await create_chapter(node.db, "chapters.example.org", "dublin", "Dublin", "local")
        await follower_at(node.db, "http://10.0.0.1:8080")
        await post_note(node.db, node.urls, "dublin", "hello")
        await node.worker.run_once()
        rows = await node.db.fetchall("SELECT state, last_error FROM deliveries")
        assert rows[0][0] == "dead" and "10.0.0.1" in rows[0][1]


async def test_the_signature_scheme_that_works_is_remembered(
    node: Services, aiohttp_server: Any
) -> None:
    seen: list[str] = []

    async def inbox(request: web.Request) -> web.Response:
        scheme = "rfc9421" if "Signature-Input" in request.headers else "draft-cavage"
        seen.append(scheme)
        return web.Response(status=202 if scheme == "rfc9421" else 401)

    app = web.Application()
    app.router.add_post("/inbox", inbox)
    server = await aiohttp_server(app, host="127.0.0.1")
    await follower_at(node.db, f"http://127.0.0.1:{server.port}")
    await post_note(node.db, node.urls, "dublin", "first")
    await node.worker.run_once()
    assert seen == ["draft-cavage", "rfc9421"]  # the double knock
    await post_note(node.db, node.urls, "dublin", "second")
    await node.worker.run_once()
    assert seen == ["draft-cavage", "rfc9421", "rfc9421"]  # remembered for the host
    host = await remote_store.host_state(node.db, f"127.0.0.1:{server.port}")
    assert host is not None and host.signature_scheme == "rfc9421"


async def remote_follower(node: Services, iri: str) -> None:
    """A remote actor (own inbox, no shared inbox) that follows dublin."""
    host, name = iri.split("/")[2], iri.rsplit("/", 1)[1]
    await remote_store.save_actor(node.db, {
        "iri": iri, "type": "Person", "host": host, "inbox": f"{iri}/inbox",
        "shared_inbox": None, "username": name, "name": name}, [], {})
    async with node.db.transaction() as tx:
        await tx.execute(
            "INSERT INTO followers (actor_id, follower_iri, state, created_at)"
            " SELECT id, ?, 'accepted', ? FROM actors WHERE handle = 'dublin'",
            (iri, utcnow()))


async def test_two_workers_on_one_database_share_the_queue(node: Services) -> None:
    """Two processes' workers (two connections to one database) never lease the same row,
    and record outcomes about the same hosts at the same time without waiting on each
    other for good (on PostgreSQL, neither takes the single-writer lock)."""
    hosts = [f"peer{i}.example" for i in range(6)]
    for host in hosts:
        for name in ("a", "b", "c", "d"):
            await remote_follower(node, f"https://{host}/users/{name}")
    await post_note(node.db, node.urls, "dublin", "to every inbox")
    async with Database(node.db.location) as other:
        # Both expand at once: the fan-out becomes one delivery per inbox, once.
        await asyncio.gather(outbox_store.expand_fanouts(node.db),
                             outbox_store.expand_fanouts(other))
        assert await outbox_store.pending_fanouts(node.db) == 0
        claims = await asyncio.gather(*(
            outbox_store.claim_due(db, now(), LEASE, limit=7)
            for db in (node.db, other, node.db, other)))
        leased = [c.id for claim in claims for c in claim]
        assert len(leased) == len(set(leased)) == 24
        # Each batch fails on hosts that the other batches fail on too.
        batches = [[Outcome(c.id, c.host, "queued", 1, now(), 503, "503", True, False)
                    for c in claim] for claim in claims]
        await asyncio.wait_for(asyncio.gather(*(
            outbox_store.finish(db, batch, now(), unavailable_after=3)
            for db, batch in zip((node.db, other, node.db, other), batches, strict=True))),
            timeout=30)
    for host in hosts:
        state = await remote_store.host_state(node.db, host)
        assert state is not None and state.failures == 4 and state.unavailable_since
    assert await deliveries(node) == [("queued", 1, 503)] * 24


async def test_a_restarting_worker_frees_its_own_leases_only(node: Services) -> None:
    """Two `serve` processes on one database: when one starts again it takes back at once
    what it was sending when it stopped, and leaves its neighbour's sends in flight alone
    (freeing them would send them twice)."""
    for n in range(4):
        await remote_follower(node, f"https://peer{n}.example/users/a")
    await post_note(node.db, node.urls, "dublin", "to four inboxes")
    await outbox_store.expand_fanouts(node.db)
    mine = await outbox_store.claim_due(node.db, now(), LEASE, limit=2, owner="host:8081")
    theirs = await outbox_store.claim_due(node.db, now(), LEASE, limit=2, owner="host:8082")
    assert len(mine) == len(theirs) == 2

    assert await outbox_store.release_leases(node.db, "host:8081") == 2
    # Due again at once for the restarted worker; the neighbour's two are still leased.
    again = await outbox_store.claim_due(node.db, now(), LEASE, limit=10, owner="host:8081")
    assert sorted(c.id for c in again) == sorted(c.id for c in mine)
