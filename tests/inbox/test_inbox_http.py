"""The inbox of a real node against signed requests from a remote actor we control.

The remote actors are served by an aiohttp app in the test process; their keys are real
RSA keys. Every refused request must leave the node's database as it was.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import ClientSession

from federation.signatures import CAVAGE, RFC9421, SigningKey, sign_request
from tests.inbox.conftest import KEYS, Remote, follow, post, public_pem
from tests.nodes import Node

AS2 = "application/activity+json"


def state(node: Node) -> tuple[Any, ...]:
    return (node.sql("SELECT count(*) FROM inbox_activities")[0][0],
            node.sql("SELECT follower_iri, state FROM followers ORDER BY id"))


async def refused(node: Node, expected: int, body: bytes, key: SigningKey | None,
                  **kwargs: Any) -> str:
    before = state(node)
    status, text = await post(node, body, key, **kwargs)
    assert status == expected, text
    assert json.loads(text)["error"]
    assert state(node) == before
    return json.loads(text)["error"]


@pytest.mark.parametrize("scheme", [CAVAGE, RFC9421])
async def test_a_signed_follow_is_accepted_once(
    inbox_node: Node, remote: Remote, scheme: str
) -> None:
    activity = follow(remote, inbox_node)
    body = json.dumps(activity).encode()
    status, _ = await post(inbox_node, body, remote.key("alice"), scheme)
    assert status == 202
    assert (remote.actor("alice"), "accepted") in state(inbox_node)[1]
    count = state(inbox_node)[0]
    status, _ = await post(inbox_node, body, remote.key("alice"), scheme)  # a retry
    assert status == 202 and state(inbox_node)[0] == count
    assert inbox_node.sql("SELECT count(*) FROM inbox_activities WHERE iri = ?",
                          activity["id"]) == [(1,)]


async def test_unsigned_and_badly_signed_requests_are_401(
    inbox_node: Node, remote: Remote
) -> None:
    body = json.dumps(follow(remote, inbox_node)).encode()
    assert "not signed" in await refused(inbox_node, 401, body, None)
    # A signature of a different body.
    other = json.dumps(follow(remote, inbox_node)).encode()
    headers = sign_request(CAVAGE, "POST", f"{inbox_node.base}/actors/dublin/inbox",
                           {"Content-Type": AS2}, other, remote.key("alice"))
    await refused(inbox_node, 401, body, None, tamper=headers)
    # The right signature, but the Digest does not match the body.
    wrong = "SHA-256=" + base64.b64encode(hashlib.sha256(b"x").digest()).decode()
    await refused(inbox_node, 401, body, remote.key("alice"), tamper={"Digest": wrong})
    # A Date two hours old.
    old = datetime.now(UTC) - timedelta(hours=2)
    await refused(inbox_node, 401, body, remote.key("alice"), now=old)


async def test_a_key_of_another_actor_is_401(inbox_node: Node, remote: Remote) -> None:
    body = json.dumps(follow(remote, inbox_node, "alice")).encode()
    reason = await refused(inbox_node, 401, body, remote.key("mallory"))
    assert "another actor" in reason


async def test_an_hmac_forgery_over_the_public_key_is_401(
    inbox_node: Node, remote: Remote
) -> None:
    # What the httpsig package would accept: HMAC keyed with the victim's public key.
    body = json.dumps(follow(remote, inbox_node)).encode()
    url_path = "/actors/dublin/inbox"
    date = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    digest = "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
    signed = (f"(request-target): post {url_path}\nhost: {inbox_node.domain}\n"
              f"date: {date}\ndigest: {digest}")
    mac = hmac.new(public_pem(KEYS["alice"]).encode(), signed.encode(), hashlib.sha256)
    signature = (f'keyId="{remote.actor("alice")}#main-key",algorithm="hmac-sha256",'
                 f'headers="(request-target) host date digest",'
                 f'signature="{base64.b64encode(mac.digest()).decode()}"')
    await refused(inbox_node, 401, body, None,
                  tamper={"Date": date, "Digest": digest, "Signature": signature})


async def test_malformed_and_oversized_bodies(inbox_node: Node, remote: Remote) -> None:
    key = remote.key("alice")
    assert "not JSON" in await refused(inbox_node, 400, b"{not json", key)
    assert "JSON object" in await refused(inbox_node, 400, b"[1, 2]", key)
    no_id = {"type": "Follow", "actor": remote.actor("alice"), "object": "x"}
    assert "id" in await refused(inbox_node, 400, json.dumps(no_id).encode(), key)
    foreign = follow(remote, inbox_node) | {"id": "https://elsewhere.example/1"}
    assert "origin" in await refused(inbox_node, 400, json.dumps(foreign).encode(), key)
    huge = json.dumps(follow(remote, inbox_node) | {"padding": "x" * 1_100_000}).encode()
    await refused(inbox_node, 413, huge, key)


async def test_unknown_types_are_accepted_and_ignored(inbox_node: Node, remote: Remote) -> None:
    activity = {"@context": "https://www.w3.org/ns/activitystreams",
                "id": f"{remote.actor('alice')}/x/{uuid.uuid4().hex}", "type": "Arrive",
                "actor": remote.actor("alice")}
    status, _ = await post(inbox_node, json.dumps(activity).encode(), remote.key("alice"))
    assert status == 202


async def test_an_inbox_of_nobody_is_404(inbox_node: Node, remote: Remote) -> None:
    async with ClientSession() as session, session.post(
        f"{inbox_node.base}/actors/nobody/inbox", data=b"{}") as response:
        assert response.status == 404


async def test_inbox_keeps_answering_under_concurrent_posts(
    inbox_node: Node, remote: Remote
) -> None:
    bodies = [json.dumps({"@context": "https://www.w3.org/ns/activitystreams",
                          "id": f"{remote.actor('alice')}/likes/{uuid.uuid4().hex}",
                          "type": "Like", "actor": remote.actor("alice"),
                          "object": f"{inbox_node.base}/objects/{'0' * 32}"}).encode()
              for _ in range(40)]
    results = await asyncio.gather(*(post(inbox_node, b, remote.key("alice")) for b in bodies))
    assert [status for status, _ in results] == [202] * 40
