"""Signed requests to other servers: the node's fetches and every actor's deliveries.

Every GET is signed by the node's Application actor (GoToSocial and Mastodon in secure
mode refuse unsigned fetches). Every request is signed with the scheme that last worked
for that host, draft-cavage first; a 4xx that may mean "I do not understand this
signature" is retried once with the other scheme (double knock), and the scheme that then
works is remembered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import structlog

from federation import strict_json
from federation.client import FetchError, GuardedClient, HttpResponse
from federation.signatures import CAVAGE, RFC9421, SigningKey, sign_request
from federation.urls import http_url, origin_of
from federation.vocab import AS2_MEDIA_TYPE, LD_MEDIA_TYPE
from storage import remote as store
from storage.database import Database

log = structlog.get_logger(__name__)

ACCEPT = f"{AS2_MEDIA_TYPE}, {LD_MEDIA_TYPE}"
# Answers after which the other signature scheme is worth one more try. Not 404/410 (gone
# either way), 413 (too big either way) or 429 (slow down, not "bad signature").
KNOCK_AGAIN = frozenset({400, 401, 403, 405, 406, 415, 422})
AS2_TYPES = ("application/activity+json", "application/ld+json", "application/json")


class NotActivityJson(FetchError):
    """The answer was not an ActivityStreams JSON object."""


def host_of(url: str) -> str:
    origin = origin_of(url)
    return origin[1] if origin else ""


def other(scheme: str) -> str:
    return RFC9421 if scheme == CAVAGE else CAVAGE


class Transport:
    def __init__(self, db: Database, client: GuardedClient, node_key: SigningKey) -> None:
        self.db = db
        self.client = client
        self.node_key = node_key
        self._schemes: dict[str, str] = {}

    async def _scheme(self, host: str) -> str:
        scheme = self._schemes.get(host)
        if scheme is None:
            state = await store.host_state(self.db, host)
            scheme = (state.signature_scheme if state else None) or CAVAGE
            self._schemes[host] = scheme
        return scheme

    async def _remember(self, host: str, scheme: str) -> None:
        if self._schemes.get(host) != scheme:
            self._schemes[host] = scheme
            await store.remember_scheme(self.db, host, scheme)

    async def _knock(
        self, method: str, url: str, body: bytes | None, key: SigningKey,
        headers: Mapping[str, str],
    ) -> HttpResponse:
        if http_url(url) is None:
            # Peers choose these URLs (key ids, object ids, inboxes): a bad one is their
            # error, never an exception of ours.
            raise FetchError(f"not an http(s) URL we can use: {str(url)[:100]!r}")
        host = host_of(url)
        first = await self._scheme(host)

        def signer(
            scheme: str,
        ) -> Callable[[str, str, Mapping[str, str], bytes | None], Mapping[str, str]]:
            def sign(m: str, u: str, h: Mapping[str, str], b: bytes | None) -> Mapping[str, str]:
                return sign_request(scheme, m, u, h, b, key)
            return sign

        response = await self.client.request(
            method, url, headers=headers, body=body, signer=signer(first)
        )
        scheme = first
        if response.status in KNOCK_AGAIN:
            scheme = other(first)
            log.debug("double knock", host=host, status=response.status, scheme=scheme)
            response = await self.client.request(
                method, url, headers=headers, body=body, signer=signer(scheme)
            )
        if 200 <= response.status < 300:
            await self._remember(host, scheme)
        return response

    async def post(self, url: str, document: bytes, key: SigningKey) -> HttpResponse:
        headers = {"Content-Type": AS2_MEDIA_TYPE, "Accept": ACCEPT}
        return await self._knock("POST", url, document, key, headers)

    async def fetch(self, url: str) -> tuple[dict[str, Any], str]:
        """GET an AS2 object, signed by the node actor: (document, final URL).

        Raises FetchError: NotActivityJson for answers that are not an AS2 JSON object,
        with `status` set for HTTP errors (404 and 410 mean gone).
        """
        response = await self._knock("GET", url, None, self.node_key, {"Accept": ACCEPT})
        if response.status != 200:
            error = FetchError(f"{host_of(url)} answered {response.status} for {url}")
            error.temporary = response.status >= 500 or response.status in (408, 429)
            error.status = response.status
            raise error
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if media_type not in AS2_TYPES:
            raise NotActivityJson(f"{url} is {media_type or 'untyped'}, not ActivityStreams JSON")
        try:
            document = strict_json.loads_object(response.body)
        except strict_json.BadJson as exc:
            raise NotActivityJson(f"{url}: {exc}") from None
        return document, response.url
