"""Input that Python's JSON parser, urlsplit, IDNA or SQLite choke on, sent to a real node.

Each case here once ended in a 500 (or would have stored something no later step can
read back). Every one must now get a 4xx with a one-line JSON reason and leave every
table of the node's database as it was.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession, web

from federation.signatures import CAVAGE, SigningKey, sign_request
from tests.federation.test_signatures import SECP112R1_PEM
from tests.inbox.conftest import KEYS, Remote
from tests.inbox.tables import row_counts, table_names
from tests.nodes import Node

AS2 = "application/activity+json"


CACHE = ("remote_actors", "remote_keys")


def tables(node: Node, but: tuple[str, ...] = ()) -> dict[str, int]:
    """Rows per table; `but` leaves out tables that may change (the actor cache, when a
    fetched actor is usable and only the activity is refused)."""
    return row_counts(node, [name for name in table_names(node) if name not in but])


def cached(node: Node, base: str) -> set[str]:
    return {iri[len(base):] for (iri,) in node.sql(
        "SELECT iri FROM remote_actors WHERE iri LIKE ?", base + "/%")}


async def send(node: Node, body: bytes, headers: dict[str, str] | None = None,
               key: SigningKey | None = None, path: str = "/inbox") -> tuple[int, str]:
    url = f"{node.base}{path}"
    sent = {"Content-Type": AS2, **(headers or {})}
    if key is not None:
        sent.update(sign_request(CAVAGE, "POST", url, sent, body, key))
    async with ClientSession() as session, session.post(url, data=body, headers=sent) as r:
        return r.status, await r.text()


async def send_raw(node: Node, head: bytes, body: bytes) -> tuple[int, bytes]:
    """A request written byte by byte, for headers no client library would send."""
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    writer.write(head + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    status = int(answer.split(b" ", 2)[1])
    return status, answer.partition(b"\r\n\r\n")[2]


def assert_refused(status: int, text: str | bytes, wanted: int | tuple[int, ...]) -> str:
    assert status in (wanted if isinstance(wanted, tuple) else (wanted,)), text
    reason = json.loads(text)["error"]
    assert reason and "\n" not in reason and "internal error" not in reason
    return str(reason)


def activity(actor: str = "http://127.0.0.1:9/users/x", **extra: Any) -> dict[str, Any]:
    return {"id": f"{actor}/activities/1", "type": "Follow", "actor": actor,
            "object": "http://127.0.0.1:9/users/y", **extra}


VALID_START = b'{"id": "http://127.0.0.1:9/u/a/1", "type": "Follow", "actor": "http://127.0.0.1:9/u"'

UNREADABLE_JSON = {
    # json.loads raises ValueError ("Exceeds the limit (4300 digits)") from int().
    "an integer of 5,000 digits": VALID_START + b', "n": ' + b"1" * 5000 + b"}",
    "an integer of 40 digits": VALID_START + b', "n": ' + b"9" * 40 + b"}",
    # The C parser recurses once per level: RecursionError.
    "arrays nested 5,000 deep": VALID_START + b', "n": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    "objects nested 3,000 deep": VALID_START + b', "n": ' + b'{"a":' * 3000 + b"1"
                                 + b"}" * 3000 + b"}",
    "arrays nested 65 deep": VALID_START + b', "n": ' + b"[" * 64 + b"]" * 64 + b"}",
    "unclosed arrays 5,000 deep": b"[" * 5000,
    # json.loads takes these by default; they are not JSON and nobody else can read them.
    "NaN": VALID_START + b', "n": NaN}',
    "-Infinity": VALID_START + b', "n": -Infinity}',
    "a number that overflows a double": VALID_START + b', "n": 1e999}',
    # A lone surrogate decodes to a str that UTF-8, SQLite and nh3 then refuse.
    "a lone surrogate in a value": VALID_START + b', "content": "\\ud800"}',
    "a lone surrogate in a key": VALID_START + b', "\\udfff": 1}',
    "a lone surrogate in the actor": b'{"id": "http://x.example/\\ud800/1", "type": "Delete",'
                                     b' "actor": "http://x.example/\\ud800",'
                                     b' "object": "http://x.example/\\ud800"}',
    "a NUL character": VALID_START + b', "content": "a\\u0000b"}',
    "a repeated key": VALID_START + b', "actor": "http://127.0.0.1:9/v"}',
    "UTF-16": json.dumps(activity()).encode("utf-16"),
    "Latin-1": VALID_START + b', "name": "caf\xe9"}',
    "trailing garbage": json.dumps(activity()).encode() + b"}",
    "nothing": b"",
    "whitespace": b" \r\n\t ",
}


@pytest.mark.parametrize("body", UNREADABLE_JSON.values(), ids=list(UNREADABLE_JSON))
async def test_json_that_the_parser_chokes_on_is_400(inbox_node: Node, body: bytes) -> None:
    before = tables(inbox_node)
    for path in ("/inbox", "/actors/dublin/inbox"):
        status, text = await send(inbox_node, body, path=path)
        assert_refused(status, text, 400)
    assert tables(inbox_node) == before


async def test_deep_but_not_too_deep_and_a_bom_still_parse(inbox_node: Node) -> None:
    # 64 levels, emoji as surrogate pairs, a UTF-8 BOM: all fine JSON, so the refusal is
    # the signature's, not the parser's.
    deep = VALID_START + b', "n": ' + b"[" * 63 + b"]" * 63 + b', "e": "\\ud83d\\ude00"}'
    for body in (deep, b"\xef\xbb\xbf" + json.dumps(activity()).encode()):
        status, text = await send(inbox_node, body)
        assert (status, json.loads(text)["error"]) == (401, "request is not signed")


ODD_URLS = [
    "http://[::1", "http://[::1/users/x", "http://[::1]x/users/x", "http://[fe80::1%25eth0",
    "http://127.0.0.1:99999/users/x", "http://127.0.0.1:-1/users/x", "http://127.0.0.1:x/u",
    "http://a b/users/x", "http://\x00/users/x", "http:///users/x", "https:",
    "http://" + "a" * 3000,
]


@pytest.mark.parametrize("url", ODD_URLS)
async def test_odd_ids_and_actors_are_400(inbox_node: Node, url: str) -> None:
    before = tables(inbox_node)
    for document in (
        {"id": url, "type": "Follow", "actor": url},
        {"id": "http://127.0.0.1:9/a/1", "type": "Follow", "actor": url},
        {"id": url, "type": "Delete", "actor": url, "object": url},
    ):
        status, text = await send(inbox_node, json.dumps(document).encode())
        assert_refused(status, text, 400)
    assert tables(inbox_node) == before


@pytest.mark.parametrize("encoding,body", [
    ("gzip", b"not gzip at all"),
    ("deflate", b"not deflate either"),
    ("gzip", zlib.compress(b"{}")[:-3]),
])
async def test_a_body_that_cannot_be_decompressed_is_400(
    inbox_node: Node, encoding: str, body: bytes
) -> None:
    before = tables(inbox_node)
    status, text = await send_raw(
        inbox_node, b"POST /inbox HTTP/1.1\r\nHost: x\r\nContent-Type: application/activity+json"
        b"\r\nContent-Encoding: " + encoding.encode() + b"\r\n", body)
    assert_refused(status, text, 400)
    assert tables(inbox_node) == before


ODD_KEY_IDS = [
    "http://[::1/users/x#main-key",  # urlsplit: ValueError
    "http://127.0.0.1:99999/users/x#main-key",
    "http://a..b/users/x#main-key",  # the idna codec: UnicodeError from getaddrinfo
    "http://" + "a" * 64 + ".example/k",  # a label longer than 63
    "http://\u00e9\u0300\u200d.example/k",  # yarl refuses the joiner
    "mailto:x@example.org",
    "/users/x#main-key",
]


@pytest.mark.parametrize("key_id", ODD_KEY_IDS)
async def test_a_key_id_that_is_no_usable_url_is_401(inbox_node: Node, key_id: str) -> None:
    before = tables(inbox_node)
    body = json.dumps(activity()).encode()
    headers = sign_request(CAVAGE, "POST", f"{inbox_node.base}/inbox", {"Content-Type": AS2},
                           body, SigningKey("http://127.0.0.1:9/k", KEYS["alice"]))
    headers["Signature"] = headers["Signature"].replace(
        'keyId="http://127.0.0.1:9/k"', f'keyId="{key_id}"')
    raw = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    status, text = await send_raw(
        inbox_node, b"POST /inbox HTTP/1.1\r\nContent-Type: application/activity+json\r\n"
        + raw.encode("utf-8"), body)
    assert_refused(status, text, 401)
    assert tables(inbox_node) == before


async def test_a_key_id_that_is_not_utf8_is_401(inbox_node: Node) -> None:
    # aiohttp decodes header bytes with surrogateescape: the keyId reaches us holding a lone
    # surrogate, which SQLite cannot bind.
    before = tables(inbox_node)
    body = json.dumps(activity()).encode()
    status, text = await send_raw(
        inbox_node, b"POST /inbox HTTP/1.1\r\nHost: x\r\nContent-Type: application/activity+json"
        b'\r\nSignature: keyId="http://127.0.0.1:9/\xff",signature="AAAA",'
        b'headers="(request-target) date digest"\r\n', body)
    assert_refused(status, text, 401)
    assert tables(inbox_node) == before


@pytest.fixture
async def documents(aiohttp_server: Any) -> AsyncIterator[tuple[str, dict[str, bytes]]]:
    """A server that answers each path with the bytes the test put there, as AS2."""
    served: dict[str, bytes] = {}

    async def answer(request: web.Request) -> web.Response:
        if request.path not in served:
            raise web.HTTPNotFound()
        return web.Response(body=served[request.path], content_type=AS2)

    app = web.Application()
    app.router.add_get("/{path:.*}", answer)
    server = await aiohttp_server(app, host="127.0.0.1")
    yield f"http://127.0.0.1:{server.port}", served


def fetched_documents(base: str) -> dict[str, bytes]:
    def actor(path: str, **extra: Any) -> dict[str, Any]:
        me = f"{base}{path}"
        return {"id": me, "type": "Person", "inbox": f"{me}/inbox", **extra}

    start = json.dumps(actor("/bigint"))[:-1].encode()
    return {
        "/bigint": start + b', "n": ' + b"1" * 5000 + b"}",
        "/deep": json.dumps(actor("/deep"))[:-1].encode() + b', "n": ' + b"[" * 3000
                 + b"]" * 3000 + b"}",
        "/nan": json.dumps(actor("/nan"))[:-1].encode() + b', "n": NaN}',
        "/surrogate": json.dumps(actor("/surrogate"))[:-1].encode() + b', "name": "\\udc00"}',
        "/nul": json.dumps(actor("/nul"))[:-1].encode() + b', "name": "\\u0000"}',
        "/repeated": json.dumps(actor("/repeated"))[:-1].encode() + b', "id": "x"}',
        "/utf16": json.dumps(actor("/utf16")).encode("utf-16"),
        "/bad-id": json.dumps(actor("/bad-id", id="http://[::1")).encode(),
        "/bad-inbox": json.dumps(actor("/bad-inbox", inbox="http://[::1/inbox")).encode(),
        "/bad-shared": json.dumps(actor("/bad-shared",
                                        endpoints={"sharedInbox": "http://x:99999/"})).encode(),
        "/bad-key-id": json.dumps(actor("/bad-key-id", publicKey={
            "id": "http://[::1/k", "owner": f"{base}/bad-key-id", "publicKeyPem": "x"})).encode(),
        "/bad-multikey": json.dumps(actor("/bad-multikey", assertionMethod={
            "id": "http://[::1/k", "type": "Multikey", "controller": f"{base}/bad-multikey",
            "publicKeyMultibase": "z6Mk"})).encode(),
        "/bad-owner": json.dumps({"id": f"{base}/bad-owner", "type": "Key",
                                  "owner": "http://[::1/x"}).encode(),
        "/owner-of-bad-id": json.dumps({"id": f"{base}/owner-of-bad-id", "type": "Key",
                                        "owner": f"{base}/bad-id"}).encode(),
        # cryptography raises UnsupportedAlgorithm, not ValueError, for this curve.
        "/odd-curve": json.dumps(actor("/odd-curve", publicKey={
            "id": f"{base}/odd-curve#main-key", "owner": f"{base}/odd-curve",
            "publicKeyPem": SECP112R1_PEM})).encode(),
        # base58 decoding is quadratic: this once held the event loop for seconds.
        "/long-multikey": json.dumps(actor("/long-multikey", assertionMethod={
            "id": f"{base}/long-multikey#ed25519-key", "type": "Multikey",
            "controller": f"{base}/long-multikey",
            "publicKeyMultibase": "z" + "2" * 300_000})).encode(),
        "/odd-type": json.dumps(actor("/odd-type", type=[["Person"], {"a": 1}, 5])).encode(),
        "/list": b"[]",
    }


# Actor documents that parse and name an inbox: cached as actors, with no usable key.
USABLE_ACTORS = {"/bad-shared", "/bad-key-id", "/bad-multikey", "/odd-curve",
                 "/long-multikey"}


async def test_unusable_fetched_key_documents_are_401(
    inbox_node: Node, documents: tuple[str, dict[str, bytes]]
) -> None:
    """The node fetches the keyId: whatever that document holds, the answer is a 401."""
    base, served = documents
    served.update(fetched_documents(base))
    before = tables(inbox_node, but=CACHE)
    body = json.dumps(activity()).encode()
    for path in served:
        status, text = await send(inbox_node, body, key=SigningKey(f"{base}{path}",
                                                                   KEYS["alice"]))
        reason = assert_refused(status, text, 401)
        assert "cannot get key" in reason, (path, reason)
    assert tables(inbox_node, but=CACHE) == before
    assert cached(inbox_node, base) == USABLE_ACTORS
    assert inbox_node.sql("SELECT count(*) FROM remote_keys WHERE key_id LIKE ?",
                          base + "/%") == [(0,)]


async def test_unusable_fetched_actors_are_400(
    inbox_node: Node, remote: Remote, documents: tuple[str, dict[str, bytes]]
) -> None:
    """The key is fine and alice signs a Create relayed for an actor elsewhere, whose
    document the node then fetches."""
    base, served = documents
    served.update(fetched_documents(base))
    before = tables(inbox_node, but=CACHE)
    for path in served:
        actor = f"{base}{path}"
        document = {"id": f"{actor}/create/1", "type": "Create", "actor": actor,
                    "object": f"{actor}/note/1"}
        status, text = await send(inbox_node, json.dumps(document).encode(),
                                  key=remote.key("alice"))
        assert_refused(status, text, (400, 401, 403))
    assert tables(inbox_node, but=CACHE) == before
    assert cached(inbox_node, base) == USABLE_ACTORS
