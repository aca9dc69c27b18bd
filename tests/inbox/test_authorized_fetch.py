"""Authorized-fetch mode: objects and collections need a signed GET; actors stay open."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiohttp import ClientSession

from federation.signatures import CAVAGE, RFC9421, sign_request
from tests.inbox.conftest import Remote
from tests.nodes import FEDERATING, Node

AS2 = "application/activity+json"


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    node = Node.init(tmp_path_factory.mktemp("secure"),
                     settings={**FEDERATING, "federation.authorized_fetch": True})
    assert node.cli("chapter", "create", "dublin", "--name", "Dublin",
                    "--level", "local").returncode == 0
    node.start()
    yield node
    node.stop()


async def get(url: str, remote: Remote | None = None, scheme: str = CAVAGE) -> int:
    headers = {"Accept": AS2}
    if remote is not None:
        headers.update(sign_request(scheme, "GET", url, headers, None, remote.key("alice")))
    async with ClientSession() as session, session.get(url, headers=headers) as response:
        return response.status


async def test_actors_keys_and_discovery_stay_readable_unsigned(secure: Node) -> None:
    for path in ("/actors/dublin", "/actor", "/.well-known/webfinger?resource="
                 f"acct:dublin@{secure.domain}", "/.well-known/nodeinfo", "/nodeinfo/2.1"):
        assert await get(f"{secure.base}{path}") == 200, path


@pytest.mark.parametrize("scheme", [CAVAGE, RFC9421])
async def test_collections_and_objects_need_a_signature(
    secure: Node, remote: Remote, scheme: str
) -> None:
    note_id = secure.cli("post", "note", "members only?", "--chapter", "dublin").stdout.split()[-1]
    for url in (f"{secure.base}/actors/dublin/outbox", f"{secure.base}/actors/dublin/followers",
                note_id):
        assert await get(url) == 401, url
        assert await get(url, remote, scheme) == 200, url
