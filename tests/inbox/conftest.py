"""Remote actors we control, for tests of a real node's inbox."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import pytest
from aiohttp import ClientSession, web
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from federation.multikey import encode_ed25519
from federation.proofs import add_proof
from federation.signatures import CAVAGE, SigningKey, sign_request
from tests.nodes import Node

AS2 = "application/activity+json"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


KEYS = {"alice": new_key(), "mallory": new_key()}
# Ed25519 keys for FEP-8b32 integrity proofs, served as each actor's Multikey.
PROOF_KEYS = {name: Ed25519PrivateKey.generate() for name in KEYS}


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return key.public_key().public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.fixture(scope="module")
def inbox_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    node = Node.init(tmp_path_factory.mktemp("inbox")).federating().chapter("dublin", "IOPS Dublin")
    node.start()
    yield node
    node.stop()


class Remote:
    """Remote actors on 127.0.0.1 whose documents and keys the test controls."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.names: dict[str, str] = {}  # display names, changed by tests
        self.objects: dict[str, dict[str, Any]] = {}  # path -> document served there

    def actor(self, name: str) -> str:
        return f"{self.base}/users/{name}"

    def key(self, name: str) -> SigningKey:
        return SigningKey(f"{self.actor(name)}#main-key", KEYS[name])

    def prove(self, name: str, document: dict[str, Any]) -> dict[str, Any]:
        """The document with an integrity proof by this actor's Ed25519 key."""
        return add_proof(document, PROOF_KEYS[name], f"{self.actor(name)}#ed25519-key")


@pytest.fixture
async def remote(aiohttp_server: Any) -> AsyncIterator[Remote]:
    yield await serve_remote(aiohttp_server)


@pytest.fixture
async def elsewhere(aiohttp_server: Any) -> AsyncIterator[Remote]:
    """A second server (another origin) with actors of the same names."""
    yield await serve_remote(aiohttp_server)


async def serve_remote(aiohttp_server: Any) -> Remote:
    app = web.Application()
    holder: dict[str, Remote] = {}

    async def actor(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        me = holder["r"].actor(name)
        return web.json_response({
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": me, "type": "Person", "preferredUsername": name, "inbox": f"{me}/inbox",
            "name": holder["r"].names.get(name, name),
            "endpoints": {"sharedInbox": f"{holder['r'].base}/inbox"},
            "publicKey": {"id": f"{me}#main-key", "owner": me,
                          "publicKeyPem": public_pem(KEYS[name])},
            "assertionMethod": [{
                "id": f"{me}#ed25519-key", "type": "Multikey", "controller": me,
                "publicKeyMultibase": encode_ed25519(PROOF_KEYS[name].public_key())}],
        }, content_type=AS2)

    async def inbox(request: web.Request) -> web.Response:
        return web.Response(status=202)

    async def served(request: web.Request) -> web.Response:
        document = holder["r"].objects.get(request.path)
        if document is None:
            raise web.HTTPNotFound()
        return web.json_response(document, content_type=AS2)

    app.router.add_get("/users/{name}", actor)
    app.router.add_get("/objects/{id}", served)
    app.router.add_post("/users/{name}/inbox", inbox)
    app.router.add_post("/inbox", inbox)
    server = await aiohttp_server(app, host="127.0.0.1")
    holder["r"] = Remote(f"http://127.0.0.1:{server.port}")
    return holder["r"]


def follow(remote: Remote, node: Node, name: str = "alice") -> dict[str, Any]:
    return {"@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{remote.actor(name)}/follows/{uuid.uuid4().hex}", "type": "Follow",
            "actor": remote.actor(name), "object": f"{node.base}/actors/dublin"}


async def post(
    node: Node, body: bytes, key: SigningKey | None, scheme: str = CAVAGE,
    now: datetime | None = None, tamper: dict[str, str] | None = None,
    path: str = "/actors/dublin/inbox",
) -> tuple[int, str]:
    url = f"{node.base}{path}"
    headers = {"Content-Type": AS2}
    if key is not None:
        headers.update(sign_request(scheme, "POST", url, headers, body, key, now=now))
    headers.update(tamper or {})
    async with ClientSession() as session, session.post(url, data=body, headers=headers) as r:
        return r.status, await r.text()


def activity(remote: Remote, kind: str, obj: Any, name: str = "alice",
             **extra: Any) -> dict[str, Any]:
    return {"@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{remote.actor(name)}/activities/{uuid.uuid4().hex}", "type": kind,
            "actor": remote.actor(name), "object": obj, **extra}


