"""Bad signatures cannot turn a node into a fetcher of URLs that the sender picks.

A real node, and remote servers in the test process that count every GET. A key is
refetched after a failed signature at most once per key per few minutes, a key id that
could not be fetched is not asked for again at once, and a host whose key fetches keep
failing gets no new key fetched for a while; keys already cached keep working.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from federation.remote_actors import HOST_FAILURES
from federation.signatures import SigningKey
from tests.inbox.conftest import new_key, post, public_pem
from tests.nodes import Node

AS2 = "application/activity+json"


@dataclass
class CountingServer:
    base: str
    keys: dict[str, rsa.RSAPrivateKey] = field(default_factory=dict)
    gets: Counter[str] = field(default_factory=Counter)

    def actor(self, name: str) -> str:
        return f"{self.base}/users/{name}"

    def key(self, name: str, signer: rsa.RSAPrivateKey | None = None) -> SigningKey:
        """The key id of `name`, with their key or, to forge, another one."""
        return SigningKey(f"{self.actor(name)}#main-key", signer or self.keys[name])

    def follow(self, node: Node, name: str) -> bytes:
        return json.dumps({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{self.actor(name)}/follows/{uuid.uuid4().hex}", "type": "Follow",
            "actor": self.actor(name), "object": f"{node.base}/actors/dublin"}).encode()


Serve = Callable[[], Awaitable[CountingServer]]


@pytest.fixture
async def serve(aiohttp_server: Any) -> AsyncIterator[Serve]:
    async def start() -> CountingServer:
        holder: dict[str, CountingServer] = {}

        async def actor(request: web.Request) -> web.Response:
            me = holder["s"]
            me.gets[request.path] += 1
            name = request.match_info["name"]
            if name not in me.keys:
                raise web.HTTPNotFound()
            iri = me.actor(name)
            return web.json_response({
                "@context": ["https://www.w3.org/ns/activitystreams",
                             "https://w3id.org/security/v1"],
                "id": iri, "type": "Person", "preferredUsername": name,
                "inbox": f"{iri}/inbox",
                "publicKey": {"id": f"{iri}#main-key", "owner": iri,
                              "publicKeyPem": public_pem(me.keys[name])},
            }, content_type=AS2)

        async def inbox(request: web.Request) -> web.Response:
            return web.Response(status=202)

        app = web.Application()
        app.router.add_get("/users/{name}", actor)
        app.router.add_post("/users/{name}/inbox", inbox)
        server = await aiohttp_server(app, host="127.0.0.1")
        holder["s"] = CountingServer(f"http://127.0.0.1:{server.port}")
        return holder["s"]

    yield start


FORGER = new_key()


async def test_fifty_bad_signatures_refetch_a_known_key_once(
    inbox_node: Node, serve: Serve
) -> None:
    remote = await serve()
    remote.keys["eve"] = new_key()
    status, _ = await post(inbox_node, remote.follow(inbox_node, "eve"), remote.key("eve"))
    assert status == 202
    assert remote.gets["/users/eve"] == 1  # first contact

    forged = [remote.follow(inbox_node, "eve") for _ in range(50)]
    # Half at once (they share one refetch), half one after the other (rationed).
    answers = await asyncio.gather(*(post(inbox_node, body, remote.key("eve", FORGER))
                                      for body in forged[:25]))
    for body in forged[25:]:
        answers.append(await post(inbox_node, body, remote.key("eve", FORGER)))
    assert [status for status, _ in answers] == [401] * 50
    assert remote.gets["/users/eve"] == 2  # the first fetch and one refetch, no more
    assert any("not refetched" in text for _, text in answers)
    assert inbox_node.sql("SELECT count(*) FROM inbox_activities WHERE actor_iri = ?",
                          remote.actor("eve")) == [(1,)]
    # Eve's own key still works from the cache, without a fetch.
    status, _ = await post(inbox_node, remote.follow(inbox_node, "eve"), remote.key("eve"))
    assert status == 202 and remote.gets["/users/eve"] == 2


async def test_a_rotated_key_is_still_picked_up(inbox_node: Node, serve: Serve) -> None:
    remote = await serve()
    remote.keys["rory"] = new_key()
    status, _ = await post(inbox_node, remote.follow(inbox_node, "rory"), remote.key("rory"))
    assert status == 202
    remote.keys["rory"] = new_key()  # rotated since the node cached the old one
    status, text = await post(inbox_node, remote.follow(inbox_node, "rory"),
                              remote.key("rory"))
    assert status == 202, text
    assert remote.gets["/users/rory"] == 2


async def test_a_key_that_cannot_be_fetched_is_not_asked_for_again_at_once(
    inbox_node: Node, serve: Serve
) -> None:
    remote = await serve()
    body = remote.follow(inbox_node, "ghost")
    answers = await asyncio.gather(*(post(inbox_node, body, remote.key("ghost", FORGER))
                                      for _ in range(25)))
    for _ in range(25):
        answers.append(await post(inbox_node, body, remote.key("ghost", FORGER)))
    assert [status for status, _ in answers] == [401] * 50
    assert remote.gets["/users/ghost"] == 1


async def test_a_host_whose_key_fetches_keep_failing_is_rationed(
    inbox_node: Node, serve: Serve
) -> None:
    remote = await serve()
    remote.keys["known"] = new_key()
    remote.keys["newcomer"] = new_key()
    status, _ = await post(inbox_node, remote.follow(inbox_node, "known"),
                           remote.key("known"))
    assert status == 202
    for n in range(HOST_FAILURES + 20):  # a new made-up key id each time
        status, _ = await post(inbox_node, remote.follow(inbox_node, f"made-up-{n}"),
                               remote.key(f"made-up-{n}", FORGER))
        assert status == 401
    made_up = sum(count for path, count in remote.gets.items() if "made-up" in path)
    assert made_up == HOST_FAILURES
    # A cached key needs no fetch and still works; a key never seen must wait.
    status, _ = await post(inbox_node, remote.follow(inbox_node, "known"), remote.key("known"))
    assert status == 202
    status, text = await post(inbox_node, remote.follow(inbox_node, "newcomer"),
                              remote.key("newcomer"))
    assert status == 401 and "not asking it for new keys yet" in text
    assert remote.gets["/users/newcomer"] == 0
    # Another host is not affected.
    other = await serve()
    other.keys["newcomer"] = new_key()
    status, _ = await post(inbox_node, other.follow(inbox_node, "newcomer"),
                           other.key("newcomer"))
    assert status == 202


async def test_a_proof_key_that_cannot_be_fetched_is_401_each_time_never_503(
    inbox_node: Node, serve: Serve
) -> None:
    """The second try meets the pause, which must not read as our outage (a 503)."""
    remote = await serve()
    remote.keys["anne"] = new_key()
    missing = f"{remote.actor('nobody')}#ed25519-key"
    answers = []
    for _ in range(3):
        announce = json.dumps({
            "id": f"{remote.actor('anne')}/announces/{uuid.uuid4().hex}", "type": "Announce",
            "actor": remote.actor("anne"),
            "object": {"id": f"{remote.actor('anne')}/notes/1", "type": "Note",
                       "attributedTo": remote.actor("nobody"), "content": "x",
                       "proof": {"type": "DataIntegrityProof", "verificationMethod": missing,
                                 "proofValue": "z1"}}}).encode()
        answers.append((await post(inbox_node, announce, remote.key("anne")))[0])
    assert answers == [401, 401, 401]
    assert remote.gets["/users/nobody"] == 1
