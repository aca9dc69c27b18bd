"""The guarded HTTP client against real aiohttp servers on 127.0.0.1; no network mocks.

Names other than localhost resolve through a fake resolver on the client's connector (the
seam aiohttp's own fake_server example uses), so redirects between two hosts are real HTTP.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import pytest
import structlog
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from pytest_aiohttp import AiohttpServer
from yarl import URL

from federation.client import (
    FetchError,
    GuardedClient,
    HttpResponse,
    PublicOnlyResolver,
    RefusedAddressError,
    check_target,
    is_public_address,
)

HITS = web.AppKey("hits", list[web.Request])
RELEASE = web.AppKey("release", asyncio.Event)

# --- the test server -----------------------------------------------------------------------


@web.middleware
async def count_hits(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    request.app[HITS].append(request)
    return await handler(request)


async def hello(request: web.Request) -> web.Response:
    seen = {"X-Seen-UA": request.headers["User-Agent"]}
    return web.json_response({"hello": "world"}, headers=seen)


async def inbox(request: web.Request) -> web.Response:
    body = await request.read()
    return web.Response(status=202, body=body[::-1],
                        headers={"X-Seen-Type": request.headers["Content-Type"]})


async def redirect(request: web.Request) -> web.Response:
    """/r/{n} redirects n times, alternating between the hosts a.example and b.example.

    Every hop insists on a signature made for its own URL, as a peer checking HTTP signatures
    would; the last hop before /r/0 uses a relative Location.
    """
    if request.headers.get("Signature") != f"sig {request.method} {request.url}":
        return web.Response(status=401, text="signature not for this URL")
    n = int(request.match_info["n"])
    if n == 0:
        return web.Response(text="arrived")
    if n == 1:
        location = "/r/0"
    else:
        other = "b.example" if request.url.host == "a.example" else "a.example"
        location = f"http://{other}:{request.url.port}/r/{n - 1}"
    raise web.HTTPFound(location)


async def redirect_to(request: web.Request) -> web.Response:
    raise web.HTTPFound(request.query["to"])


async def big(request: web.Request) -> web.Response:
    return web.Response(body=b"x" * int(request.match_info["size"]))


async def stream(request: web.Request) -> web.StreamResponse:
    """A chunked body (no Content-Length) of `chunks` KiB, about forever by default."""
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    try:
        for _ in range(int(request.query.get("chunks", 100_000))):
            await response.write(b"y" * 1024)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client stopped reading, as it should
    return response


async def slow(request: web.Request) -> web.Response:
    await request.app[RELEASE].wait()
    return web.Response(text="late")


async def drip(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(b"first bytes, then nothing")
    await request.app[RELEASE].wait()
    return response


def make_app() -> web.Application:
    app = web.Application(middlewares=[count_hits])
    app[HITS] = []
    app[RELEASE] = asyncio.Event()
    app.router.add_get("/hello", hello)
    app.router.add_post("/inbox", inbox)
    app.router.add_route("*", "/r/{n}", redirect)
    app.router.add_get("/to", redirect_to)
    app.router.add_get("/big/{size}", big)
    app.router.add_get("/stream", stream)
    app.router.add_get("/slow", slow)
    app.router.add_get("/drip", drip)
    return app


@dataclass
class Served:
    app: web.Application
    port: int

    @property
    def hits(self) -> list[web.Request]:
        return self.app[HITS]

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
async def server(aiohttp_server: AiohttpServer) -> AsyncIterator[Served]:
    app = make_app()
    test_server = await aiohttp_server(app)
    assert test_server.port is not None
    yield Served(app, test_server.port)
    # Let handlers that wait for the release end, so the server closes at once.
    app[RELEASE].set()


class FakeResolver(AbstractResolver):
    """Answers from a table, like DNS would; unknown names fail like NXDOMAIN."""

    def __init__(self, table: Mapping[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            ResolveResult(
                hostname=host, host=address, port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0, flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for address in self.table[host]
        ]

    async def close(self) -> None:
        pass


LOOPBACK_NAMES = {"a.example": ["127.0.0.1"], "b.example": ["127.0.0.1"]}


def signer(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> dict:
    return {"Signature": f"sig {method} {url}"}


async def fails(coro: object) -> FetchError:
    with pytest.raises(FetchError) as caught:
        await coro  # type: ignore[misc]
    return caught.value


# --- requests that work ------------------------------------------------------------------


async def test_get_on_loopback_when_private_addresses_are_allowed(
    server: Served,
) -> None:
    async with GuardedClient(allow_private_addresses=True, user_agent="Chapterhouse/test") as c:
        response = await c.get(server.url("/hello"))
    assert isinstance(response, HttpResponse)
    assert response.status == 200
    assert response.body == b'{"hello": "world"}'
    assert response.headers["content-type"].startswith("application/json")  # any case
    assert response.headers["X-SEEN-UA"] == "Chapterhouse/test"
    assert response.url == server.url("/hello")


async def test_post_sends_body_and_headers(server: Served) -> None:
    async with GuardedClient(allow_private_addresses=True) as client:
        response = await client.post(
            server.url("/inbox"), body=b"activity",
            headers={"Content-Type": "application/activity+json"},
        )
    assert (response.status, response.body) == (202, b"ytivitca")
    assert response.headers["X-Seen-Type"] == "application/activity+json"


# --- the private-address guard -----------------------------------------------------------


@pytest.fixture
async def listener() -> AsyncIterator[tuple[int, list[int]]]:
    """A bare TCP listener on 127.0.0.1 that counts connections, not just HTTP requests."""
    connections: list[int] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        writer.close()

    tcp = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = tcp.sockets[0].getsockname()[1]
    yield port, connections
    tcp.close()
    await tcp.wait_closed()


@pytest.mark.parametrize("host", [
    "127.0.0.1", "localhost", "[::1]", "0.0.0.0", "[::]", "[::ffff:127.0.0.1]",
    "169.254.169.254", "10.0.0.1", "[::ffff:10.0.0.1]", "100.64.0.1", "192.168.1.1",
])
async def test_private_addresses_are_refused_before_connecting(
    listener: tuple[int, list[int]], host: str,
) -> None:
    port, connections = listener
    async with GuardedClient() as client:
        started = time.monotonic()
        error = await fails(client.get(f"http://{host}:{port}/hello"))
        elapsed = time.monotonic() - started
    assert error.temporary is False
    assert "refused" in str(error)
    assert elapsed < 1  # refused, not a connect that times out (10.0.0.1 would hang)
    assert connections == []


async def test_same_names_work_when_private_addresses_are_allowed(
    listener: tuple[int, list[int]],
) -> None:
    # The listener hangs up at once, so the request fails, but only after connecting:
    # proof that the refusals above came from the guard and not from the address.
    port, connections = listener
    async with GuardedClient(allow_private_addresses=True) as client:
        for host in ("127.0.0.1", "localhost", "0.0.0.0", "[::ffff:127.0.0.1]"):
            error = await fails(client.get(f"http://{host}:{port}/hello"))
            assert error.temporary is True
    # At least: aiohttp resends an idempotent request once when the server hangs up.
    assert len(connections) >= 4


async def test_a_name_is_checked_where_it_is_resolved_for_the_connection(
    server: Served,
) -> None:
    # A public-looking name that (now) resolves to loopback: the DNS-rebinding case. Only the
    # resolver on the connector can see it.
    names = FakeResolver({"rebound.example": ["127.0.0.1", "::1"]})
    async with GuardedClient(resolver=names) as client:
        error = await fails(client.get(server.url("/hello", "rebound.example")))
    assert error.temporary is False
    assert "rebound.example" in str(error)
    assert names.asked == ["rebound.example"]
    assert server.hits == []
    async with GuardedClient(resolver=names, allow_private_addresses=True) as client:
        assert (await client.get(server.url("/hello", "rebound.example"))).status == 200


async def test_dns_failure_is_temporary() -> None:
    async with GuardedClient(resolver=FakeResolver({})) as client:
        error = await fails(client.get("https://gone.example/users/a"))
    assert error.temporary is True
    assert "gone.example" in str(error)


@pytest.mark.parametrize("url", [
    "http://a..b/users/a",  # an empty label
    "http://" + "a" * 64 + ".example/users/a",  # a label over 63 characters
])
@pytest.mark.parametrize("private", [True, False])
async def test_a_host_name_idna_refuses_is_a_permanent_fetch_error(
    url: str, private: bool
) -> None:
    # The system resolver, as a node uses it: the idna codec fails before any lookup.
    async with GuardedClient(allow_private_addresses=private) as client:
        error = await fails(client.get(url))
    assert error.temporary is False
    assert "bad host name" in str(error)


def results(*addresses: str) -> list[ResolveResult]:
    return [
        ResolveResult(hostname="peer.example", host=a, port=443,
                      family=socket.AF_INET6 if ":" in a else socket.AF_INET, proto=0, flags=0)
        for a in addresses
    ]


class Answers(AbstractResolver):
    def __init__(self, answers: list[ResolveResult]) -> None:
        self.answers = answers

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return self.answers

    async def close(self) -> None:
        pass


async def test_resolver_keeps_only_public_answers_in_order() -> None:
    answers = results("10.0.0.7", "93.184.215.14", "::ffff:127.0.0.1", "2606:4700::1111",
                      "169.254.169.254", "0.0.0.0", "::")
    kept = await PublicOnlyResolver(Answers(answers)).resolve("peer.example", 443)
    assert [r["host"] for r in kept] == ["93.184.215.14", "2606:4700::1111"]
    assert kept[0] == answers[1]  # passed through untouched


@pytest.mark.parametrize("answers", [
    results("127.0.0.1", "::1"),
    results("10.0.0.1", "::ffff:10.0.0.1", "fd00::1"),
    results("0.0.0.0"),
    results(),
])
async def test_resolver_fails_when_no_public_answer_remains(answers: list) -> None:
    with pytest.raises(RefusedAddressError, match=r"peer\.example"):
        await PublicOnlyResolver(Answers(answers)).resolve("peer.example", 443)


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.255.0.1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "0.0.0.0", "0.1.2.3", "100.64.0.1", "100.127.255.254", "224.0.0.1", "239.255.255.250",
    "240.0.0.1", "255.255.255.255", "192.0.2.1", "198.18.0.1", "192.0.0.8",
    "::", "::1", "fe80::1", "fe80::1%eth0", "fc00::1", "fd12:3456::1", "fec0::1", "ff02::1",
    "ff0e::1", "2001:db8::1", "2001::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:0.0.0.0",
    "::127.0.0.1",  # IPv4-compatible (deprecated)
    "64:ff9b::7f00:1", "64:ff9b::a00:1",  # NAT64 of 127.0.0.1 and 10.0.0.1
    "2002:7f00:1::1", "2002:a00:1::",  # 6to4 of 127.0.0.1 and 10.0.0.1
    "not-an-ip", "", "2130706433", "127.1",
])
def test_non_public_addresses(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize("address", [
    "8.8.8.8", "1.1.1.1", "93.184.215.14", "2606:4700:4700::1111", "2a01:4f8::1",
    "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
])
def test_public_addresses(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize("url", [
    "http://10.0.0.1/inbox", "https://[::ffff:10.0.0.1]/", "http://127.0.0.1:8080/",
    "http://0.0.0.0/", "http://[::]/", "http://[::1]/", "http://169.254.169.254/latest",
    "http://[fe80::1%25eth0]/", "http://[64:ff9b::7f00:1]/",
    # legacy numeric forms the socket layer maps onto 127.0.0.1
    "http://2130706433/", "http://127.1/", "http://127.0.0.1./",
])
def test_a_redirect_hop_to_a_private_literal_is_refused(url: str) -> None:
    with pytest.raises(FetchError) as caught:
        check_target(URL(url))
    assert caught.value.temporary is False


@pytest.mark.parametrize("url", [
    "https://social.example/users/a", "https://8.8.8.8/inbox", "http://[2606:4700::1111]/",
    "https://localhost/",  # a name: left to the resolver at connect time
])
def test_public_and_named_targets_pass_the_url_check(url: str) -> None:
    check_target(URL(url))


def test_private_literals_pass_when_allowed() -> None:
    check_target(URL("http://127.0.0.1:8080/"), allow_private_addresses=True)
    check_target(URL("http://[::1]/"), allow_private_addresses=True)


# --- redirects ---------------------------------------------------------------------------


async def test_redirects_within_the_limit_are_followed_and_signed_per_hop(
    server: Served,
) -> None:
    signed: list[str] = []

    def record(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> dict:
        signed.append(url)
        assert headers["Accept"] == "application/activity+json"
        return signer(method, url, headers, body)

    async with GuardedClient(allow_private_addresses=True, max_redirects=3,
                             resolver=FakeResolver(LOOPBACK_NAMES)) as client:
        response = await client.get(
            server.url("/r/3", "a.example"), signer=record,
            headers={"Accept": "application/activity+json", "Authorization": "Bearer a"},
        )
    hops = [server.url(p, h)
            for h, p in [("a.example", "/r/3"), ("b.example", "/r/2"), ("a.example", "/r/1"),
                         ("a.example", "/r/0")]]
    assert (response.status, response.body) == (200, b"arrived")
    assert response.url == hops[-1]
    assert signed == hops
    seen = server.hits
    assert [str(r.url) for r in seen] == hops
    assert [r.headers["Signature"] for r in seen] == [f"sig GET {h}" for h in hops]
    # The credential was for a.example; once the chain left that origin it was dropped.
    assert [r.headers.get("Authorization") for r in seen] == ["Bearer a", None, None, None]
    assert all(r.headers["Accept"] == "application/activity+json" for r in seen)


async def test_one_redirect_over_the_limit_fails(server: Served) -> None:
    async with GuardedClient(allow_private_addresses=True, max_redirects=3,
                             resolver=FakeResolver(LOOPBACK_NAMES)) as client:
        error = await fails(client.get(server.url("/r/4", "a.example"), signer=signer))
    assert error.temporary is False
    assert "redirects" in str(error)
    assert len(server.hits) == 4  # the first request and three redirects, no fifth


async def test_post_returns_the_redirect_instead_of_following(server: Served) -> None:
    async with GuardedClient(allow_private_addresses=True) as client:
        response = await client.post(server.url("/r/2"), body=b"{}", signer=signer)
    assert response.status == 302
    assert response.headers["Location"].endswith("/r/1")
    assert response.url == server.url("/r/2")
    assert len(server.hits) == 1


@pytest.mark.parametrize("target", ["ftp://a.example/x", "file:///etc/passwd"])
async def test_every_hop_is_checked_again(server: Served, target: str) -> None:
    async with GuardedClient(allow_private_addresses=True) as client:
        error = await fails(client.get(server.url(f"/to?to={target}")))
    assert error.temporary is False
    assert "scheme" in str(error)


# --- body size, timeouts, connection failures, bad URLs ------------------------------------


async def test_body_up_to_the_limit_is_read(server: Served) -> None:
    async with GuardedClient(allow_private_addresses=True, max_body=3072) as client:
        assert len((await client.get(server.url("/big/3072"))).body) == 3072
        chunked = await client.get(server.url("/stream?chunks=3"))
    assert "Content-Length" not in chunked.headers
    assert chunked.body == b"y" * 3072


async def test_body_over_the_limit_with_content_length_is_refused(
    server: Served,
) -> None:
    async with GuardedClient(allow_private_addresses=True, max_body=1000) as client:
        error = await fails(client.get(server.url("/big/1001")))
    assert error.temporary is False
    assert "1001" in str(error)


async def test_endless_chunked_body_is_cut_off(server: Served) -> None:
    # About 100 MiB are on offer; the client must stop soon after the first 10 KB.
    async with GuardedClient(allow_private_addresses=True, max_body=10_000) as client:
        started = time.monotonic()
        error = await fails(client.get(server.url("/stream")))
    assert error.temporary is False
    assert "over 10000" in str(error)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("path", ["/slow", "/drip"])
async def test_a_server_slower_than_the_total_timeout_fails_quickly(
    server: Served, path: str,
) -> None:
    async with GuardedClient(allow_private_addresses=True, total_timeout=0.3,
                             connect_timeout=0.2) as client:
        started = time.monotonic()
        error = await fails(client.get(server.url(path)))
    assert error.temporary is True
    assert "127.0.0.1" in str(error)
    assert time.monotonic() - started < 2


async def test_a_redirect_chain_shares_one_deadline(server: Served) -> None:
    async with GuardedClient(allow_private_addresses=True, total_timeout=0.3) as client:
        started = time.monotonic()
        error = await fails(client.get(server.url("/to?to=/slow")))
    assert error.temporary is True
    assert time.monotonic() - started < 2


async def test_a_closed_port_is_a_temporary_failure() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with GuardedClient(allow_private_addresses=True) as client:
        error = await fails(client.get(f"http://127.0.0.1:{port}/hello"))
    assert error.temporary is True
    assert "127.0.0.1" in str(error)
    assert "\n" not in str(error)


@pytest.mark.parametrize("url", [
    "ftp://social.example/x", "file:///etc/passwd", "javascript:alert(1)", "not a url", "",
    "http:///no-host", "gopher://127.0.0.1:70/",
])
@pytest.mark.parametrize("allow", [False, True])
async def test_anything_but_http_and_https_is_refused(url: str, allow: bool) -> None:
    async with GuardedClient(allow_private_addresses=allow) as client:
        error = await fails(client.get(url))
    assert error.temporary is False


async def test_requests_need_start() -> None:
    with pytest.raises(RuntimeError):
        await GuardedClient().get("https://social.example/")


# --- logs --------------------------------------------------------------------------------


async def test_requests_are_logged_without_headers_or_bodies(server: Served) -> None:
    def secret_signer(method: str, url: str, headers: Mapping[str, str],
                      body: bytes | None) -> dict:
        return {"Signature": "keyId=k,signature=SECRETSIG"}

    with structlog.testing.capture_logs() as logs:
        async with GuardedClient(allow_private_addresses=True) as client:
            await client.post(server.url("/inbox"), body=b"SECRETBODY",
                              headers={"Authorization": "Bearer SECRETTOKEN",
                                       "Content-Type": "text/plain"},
                              signer=secret_signer)
    (entry,) = [e for e in logs if e["event"] == "http request"]
    assert entry["log_level"] == "debug"
    assert (entry["method"], entry["host"], entry["status"]) == ("POST", "127.0.0.1", 202)
    assert isinstance(entry["ms"], int)
    assert not any(secret in repr(logs) for secret in ("SECRET", "/inbox"))
