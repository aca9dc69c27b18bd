"""Checking the HTTP signature of an incoming request against the signer's published key."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import structlog

from federation.client import FetchError
from federation.remote_actors import KeyFetchRationed, RemoteActors
from federation.signatures import SignatureError, signature_key_id, verify_request
from federation.urls import http_url

log = structlog.get_logger(__name__)


class Unverified(Exception):
    """The request's signature could not be verified; str() is the one-line reason (401)."""


async def verify_signed(
    actors: RemoteActors, method: str, path_with_query: str, headers: Mapping[str, str],
    body: bytes | None, window: timedelta,
) -> str:
    """The id of the actor whose key signed the request, or Unverified.

    The key is taken from the cache; if it fails to verify it is fetched again, because
    the actor may have rotated it since we cached it, unless it was refetched a few
    minutes ago (RemoteActors rations that: the key id is the sender's choice).
    """
    try:
        _scheme, key_id = signature_key_id(headers)
    except SignatureError as exc:
        raise Unverified(str(exc)) from None
    if http_url(key_id) is None:
        # It would be fetched, looked up in SQLite and logged: only a plain URL may be.
        raise Unverified(f"keyId {key_id[:100]!r} is not an http(s) URL")
    try:
        public_key, owner, fresh = await actors.key(key_id)
    except FetchError as exc:
        raise Unverified(f"cannot get key {key_id}: {exc}") from None
    try:
        verify_request(method, path_with_query, headers, body, public_key, window=window)
        return owner
    except SignatureError as exc:
        if fresh:
            raise Unverified(str(exc)) from None
        failure = exc
    log.debug("signature failed with cached key, refetching", key_id=key_id)
    try:
        public_key, owner, _fresh = await actors.key(key_id, refresh=True)
    except KeyFetchRationed:
        raise Unverified(f"{failure} (key {key_id} not refetched: asked for recently)") from None
    except FetchError as exc:
        raise Unverified(f"cannot get key {key_id}: {exc}") from None
    try:
        verify_request(method, path_with_query, headers, body, public_key, window=window)
    except SignatureError as exc:
        raise Unverified(str(exc)) from None
    return owner

