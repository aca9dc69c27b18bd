"""The one HTTP client every outgoing request of a node goes through.

Deliveries and actor/key fetches all use `GuardedClient`, so its guards hold everywhere:

- only http and https;
- no private, loopback, link-local or otherwise non-public addresses, checked where the
  connection is made (the resolver on the connector) and, for IP literals that aiohttp never
  hands to a resolver, on the URL of every hop;
- redirects followed by us, a few at most, each hop checked again and signed anew;
- a deadline in seconds for the whole exchange and a hard cap on the body size.

Every failure to get a usable answer becomes one `FetchError` that says whether trying again
later makes sense.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import aiohttp
import structlog
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

log = structlog.get_logger(__name__)

Signer = Callable[[str, str, Mapping[str, str], bytes | None], Mapping[str, str]]
"""signer(method, url, headers, body) -> extra headers to add; called once per hop."""

_SCHEMES = frozenset({"http", "https"})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Only safe methods follow redirects: a redirected POST would re-send an activity somewhere
# the sender never chose, so the caller gets the 3xx and decides.
_FOLLOWING_METHODS = frozenset({"GET", "HEAD"})
# Statuses and methods whose responses never carry a body, so a Content-Length on them
# describes something we will not read.
_BODYLESS_STATUSES = frozenset({204, 304})
# Caller-supplied credentials (and an explicit Host) belong to the origin they were meant for;
# a redirect to another origin must not carry them along. Signatures for each hop come from
# the signer.
_ORIGIN_BOUND_HEADERS = ("Authorization", "Cookie", "Proxy-Authorization", "Signature",
                         "Signature-Input", "Host")

# Not globally reachable, yet `is_global` on Python 3.11 (before 3.11.10) lets them through:
# shared address space (CGNAT) and the IETF protocol assignments block.
_NOT_GLOBAL_V4 = (ipaddress.IPv4Network("100.64.0.0/10"), ipaddress.IPv4Network("192.0.0.0/24"))
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class FetchError(Exception):
    """The request could not be made or its answer was unusable; str() is a one-line reason.

    `temporary` is True for timeouts, connection errors and DNS failures (worth retrying) and
    False for refused addresses, too many redirects, oversized bodies and bad URLs.
    """

    status: int | None = None  # the HTTP status, when the answer was an HTTP error

    def __init__(self, reason: str, *, temporary: bool = False) -> None:
        super().__init__(" ".join(reason.split()))  # one line, whatever the cause said
        self.temporary = temporary


class NonPublicAddress(FetchError):
    """The guard refused the address: loopback, private, link-local or otherwise not
    public. Its own type, so that a caller can say which setting allows such addresses."""


class RefusedAddressError(OSError):
    """Raised by `PublicOnlyResolver` when a name resolves to no public address.

    An OSError so that aiohttp wraps it like any other resolution failure
    (ClientConnectorDNSError) instead of letting an unexpected type escape the connector; the
    client then recognises it and reports a permanent refusal, not a DNS hiccup.
    """


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]  # case-insensitive
    body: bytes
    url: str  # final URL after redirects


def is_public_address(address: str) -> bool:
    """True if `address` (an IP address as text) is globally routable unicast.

    Anything that does not parse counts as not public: the guard fails closed.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return _is_public(ip)


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        # Addresses that embed an IPv4 address reach that IPv4 host (the kernel for mapped
        # ones, a gateway for 6to4 and NAT64), so they are judged as that host. NAT64 must
        # be special-cased anyway: ipaddress calls all of 64:ff9b::/96 reserved, which would
        # refuse every IPv4-only peer on an IPv6-only network with DNS64.
        if ip.ipv4_mapped is not None:
            return _is_public(ip.ipv4_mapped)
        if ip in _NAT64:
            return _is_public(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip.sixtofour is not None:
            return _is_public(ip.sixtofour)
        if ip.is_site_local:
            return False
    elif any(ip in network for network in _NOT_GLOBAL_V4):
        return False
    # is_global alone is not enough on Python 3.11: it calls multicast addresses global.
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_unspecified
        or ip.is_multicast
        or ip.is_reserved
    )


def _looks_like_ip_literal(host: str) -> bool:
    # The same test aiohttp's connector uses to decide that a host needs no resolver (see
    # aiohttp.helpers.is_ip_address), so every host that skips our resolver is checked here.
    return ":" in host or host.replace(".", "").isdigit()


def check_target(url: URL, *, allow_private_addresses: bool = False) -> None:
    """Refuse a URL (of a first request or of a redirect hop) before connecting to it.

    Checks the scheme and host, and IP literals against the public-address rule; names are
    checked by `PublicOnlyResolver` when the connection is made, since checking them here
    would leave the answer free to change before the connect (DNS rebinding).
    """
    if url.scheme not in _SCHEMES:
        raise FetchError(f"refused URL scheme {url.scheme or '(none)'!r}: only http and https")
    host = url.host
    if not host:
        raise FetchError("bad URL: no host")
    if allow_private_addresses or not _looks_like_ip_literal(host):
        return
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        # Legacy forms such as 2130706433 or 127.1 that the socket layer would still map
        # onto an address.
        raise FetchError(f"{host}: not a canonical IP address") from None
    if not _is_public(ip):
        raise NonPublicAddress(f"{host}: refused non-public address")


class PublicOnlyResolver(AbstractResolver):
    """Wraps a resolver and drops every answer that is not a public address.

    Installed on the TCPConnector, it sees exactly the addresses the connector will connect
    to, so a name cannot pass a check and then resolve somewhere private.
    """

    def __init__(self, inner: AbstractResolver) -> None:
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        kept = [result for result in results if is_public_address(result["host"])]
        if len(kept) < len(results):
            log.debug("dropped non-public addresses", host=host,
                      dropped=len(results) - len(kept), kept=len(kept))
        if not kept:
            raise RefusedAddressError(f"{host} resolves to no public address")
        return kept

    async def close(self) -> None:
        # The inner resolver belongs to whoever made it (GuardedClient closes its own).
        pass


class GuardedClient:
    """The HTTP client of a node: call `start()` once (in app.cleanup_ctx), then `close()`.

    `resolver` (an addition to the shared interface) replaces the name lookup, e.g. a fake
    that maps test host names to 127.0.0.1; the public-address guard still wraps it unless
    `allow_private_addresses`. The client does not close a resolver it was given.
    """

    def __init__(
        self,
        *,
        allow_private_addresses: bool = False,
        user_agent: str = "Chapterhouse",
        connect_timeout: float = 5,
        total_timeout: float = 30,
        max_body: int = 1024 * 1024,
        max_redirects: int = 3,
        limit: int = 100,
        limit_per_host: int = 4,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self.allow_private_addresses = allow_private_addresses
        self.user_agent = user_agent
        self.connect_timeout = connect_timeout
        self.total_timeout = total_timeout
        self.max_body = max_body
        self.max_redirects = max_redirects
        self.limit = limit
        self.limit_per_host = limit_per_host
        self._given_resolver = resolver
        self._own_resolver: AbstractResolver | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Create the session and connector (needs the running loop, hence not __init__)."""
        if self._session is not None:
            return
        inner = self._given_resolver
        if inner is None:
            inner = self._own_resolver = DefaultResolver()
        resolver = inner if self.allow_private_addresses else PublicOnlyResolver(inner)
        connector = aiohttp.TCPConnector(
            limit=self.limit,
            limit_per_host=self.limit_per_host,
            ttl_dns_cache=300,
            resolver=resolver,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            # aiohttp's default is 300 s in total and no connect limit; one slow peer must
            # not hold a delivery worker that long.
            timeout=aiohttp.ClientTimeout(
                total=self.total_timeout, sock_connect=self.connect_timeout
            ),
            # A proxy from the environment would make the connection (and the resolution)
            # for us, out of reach of the guard.
            trust_env=False,
            # Peers have no business keeping state in our client.
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        resolver, self._own_resolver = self._own_resolver, None
        if resolver is not None:
            await resolver.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        signer: Signer | None = None,
    ) -> HttpResponse:
        return await self.request("GET", url, headers=headers, signer=signer)

    async def post(
        self,
        url: str,
        *,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        signer: Signer | None = None,
    ) -> HttpResponse:
        return await self.request("POST", url, headers=headers, body=body, signer=signer)

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        signer: Signer | None = None,
    ) -> HttpResponse:
        """Make one request, following redirects for GET/HEAD; raises only FetchError."""
        session = self._session
        if session is None:
            raise RuntimeError("GuardedClient.start() has not been awaited")
        method = method.upper()
        try:
            target = URL(url)
        except (TypeError, ValueError) as exc:
            raise FetchError(f"bad URL: {exc}") from None
        base_headers: CIMultiDict[str] = CIMultiDict({"User-Agent": self.user_agent})
        base_headers.update(headers or {})
        follow = method in _FOLLOWING_METHODS
        hop_host = target.host or "?"
        try:
            # aiohttp's total timeout starts again on each hop; this deadline covers the whole
            # chain so that `total_timeout` means what it says.
            async with asyncio.timeout(self.total_timeout):
                for hop in range(self.max_redirects + 1):
                    hop_host = target.host or "?"
                    try:
                        check_target(target, allow_private_addresses=self.allow_private_addresses)
                    except FetchError as exc:
                        log.debug("http request refused", method=method, host=hop_host,
                                  reason=str(exc), hop=hop)
                        raise
                    answer = await self._exchange(
                        session, method, target, base_headers, body, signer, hop, follow
                    )
                    if isinstance(answer, HttpResponse):
                        return answer
                    if _origin(answer) != _origin(target):
                        for name in _ORIGIN_BOUND_HEADERS:
                            base_headers.popall(name, None)
                    target = answer
        except TimeoutError:
            error = FetchError(
                f"{hop_host}: no complete answer within {self.total_timeout:g} s",
                temporary=True,
            )
            log.debug("http request failed", method=method, host=hop_host, reason=str(error),
                      temporary=True)
            raise error from None
        raise FetchError(f"{hop_host}: more than {self.max_redirects} redirects")

    async def _exchange(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: URL,
        base_headers: CIMultiDict[str],
        body: bytes | None,
        signer: Signer | None,
        hop: int,
        follow: bool,
    ) -> HttpResponse | URL:
        """One hop: the final response, or the URL a redirect points to."""
        host = url.host or "?"
        hop_headers = CIMultiDict(base_headers)
        if signer is not None:
            hop_headers.update(signer(method, str(url), CIMultiDictProxy(hop_headers), body))
        started = time.perf_counter()
        try:
            async with session.request(
                method, url, headers=hop_headers, data=body, allow_redirects=False
            ) as response:
                # Only the host: paths and queries can carry tokens, headers carry signatures.
                log.debug("http request", method=method, host=host, status=response.status,
                          ms=_ms_since(started), hop=hop)
                location = response.headers.get("Location")
                if follow and response.status in _REDIRECT_STATUSES and location:
                    try:
                        return url.join(URL(location))
                    except (TypeError, ValueError):
                        raise FetchError(f"{host}: bad redirect Location") from None
                content = await self._read_capped(response, method, host)
                return HttpResponse(
                    status=response.status,
                    headers=response.headers,
                    body=content,
                    url=str(response.url),
                )
        except FetchError as exc:
            log.debug("http request failed", method=method, host=host, reason=str(exc),
                      ms=_ms_since(started), hop=hop)
            raise
        except aiohttp.InvalidURL as exc:
            raise self._failure(f"{host}: bad URL ({exc})", False, method, host, started,
                                hop) from None
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, RefusedAddressError):
                raise self._failure(f"{host}: refused, {exc.os_error}", False, method, host,
                                    started, hop, NonPublicAddress) from None
            detail = exc.strerror or str(exc.os_error) or type(exc).__name__
            what = "cannot resolve" if isinstance(exc, aiohttp.ClientConnectorDNSError) else (
                "cannot connect")
            raise self._failure(f"{host}: {what} ({detail})", True, method, host, started,
                                hop) from None
        # TimeoutError before OSError: on Python 3.11 it is one, and says more.
        except TimeoutError:
            raise self._failure(f"{host}: timed out", True, method, host, started,
                                hop) from None
        except (aiohttp.ClientError, OSError) as exc:
            reason = str(exc) or type(exc).__name__
            raise self._failure(f"{host}: {reason}", True, method, host, started,
                                hop) from None
        except UnicodeError as exc:
            # A host name the idna codec refuses (an empty or 64-character label) passes
            # yarl and fails inside getaddrinfo, which aiohttp lets through unwrapped.
            raise self._failure(f"{host}: bad host name ({exc})", False, method, host,
                                started, hop) from None

    def _failure(
        self, reason: str, temporary: bool, method: str, host: str, started: float, hop: int,
        kind: type[FetchError] = FetchError,
    ) -> FetchError:
        error = kind(reason, temporary=temporary)
        log.debug("http request failed", method=method, host=host, reason=str(error),
                  temporary=temporary, ms=_ms_since(started), hop=hop)
        return error

    async def _read_capped(
        self, response: aiohttp.ClientResponse, method: str, host: str
    ) -> bytes:
        """Read the body, giving up as soon as it passes `max_body`.

        Content-Length allows refusing before reading anything, but is not trusted to be the
        whole truth: chunked bodies have none, and a server may send more than it announced.
        """
        announced = response.content_length
        if (
            announced is not None
            and announced > self.max_body
            and method != "HEAD"
            and response.status not in _BODYLESS_STATUSES
        ):
            raise FetchError(f"{host}: body of {announced} bytes is over {self.max_body}")
        content = bytearray()
        async for chunk in response.content.iter_any():
            content += chunk
            if len(content) > self.max_body:
                raise FetchError(f"{host}: body is over {self.max_body} bytes")
        return bytes(content)


def _origin(url: URL) -> tuple[str, str | None, int | None]:
    # Not URL.origin(): that raises for host-less URLs such as file:///, which a Location
    # may hold; check_target refuses those on the next hop with a proper reason.
    return url.scheme, url.host, url.port


def _ms_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
