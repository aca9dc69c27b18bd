"""The remote actor cache: actors and their keys, fetched once and kept in SQLite.

Keys are looked up by key id for signature checks. A key that fails to verify is
refetched once (the actor may have rotated it); an actor that updates itself refreshes
the cache through the inbox.

Key ids come from whoever sends us a request, so fetching them is rationed: otherwise a
stream of bad signatures would make the node fetch attacker-chosen URLs as fast as it is
sent them. A known key is refetched at most once per KEY_REFETCH_EVERY, a key id whose
fetch failed is not asked for again for FAILED_KEY_PAUSE, concurrent requests for one key
id share one fetch, and a host whose key fetches failed HOST_FAILURES times in
HOST_WINDOW gets no new key fetched until that window ends. Keys already cached keep
working throughout; only first contact from such a host waits.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import structlog
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from federation.client import FetchError
from federation.multikey import decode_ed25519
from federation.signatures import PublicKey, load_public_key
from federation.transport import Transport, host_of
from federation.urls import http_url, origin_of
from storage import remote as store
from storage.database import Database
from storage.remote import RemoteActor, RemoteKey

log = structlog.get_logger(__name__)

ACTOR_TYPES = frozenset({"Person", "Group", "Application", "Service", "Organization"})
MAX_KEYS = 10

KEY_REFETCH_EVERY = 300.0  # seconds; key rotation is rare, a retry minutes later is normal
FAILED_KEY_PAUSE = 60.0
HOST_FAILURES = 30
HOST_WINDOW = 300.0

RawObject = dict[str, Any]  # JSON from elsewhere, not validated yet


class InvalidActor(FetchError):
    """A fetched document that is not a usable actor; the message says why."""


class KeyFetchRationed(FetchError):
    """The key was not fetched because it, or its host, was asked for too often lately.

    Not `temporary`: the inbox answers that with 503, which would report the sender's own
    key ids as our outage. The 401 it gets instead is retried (by Mastodon and by us)
    and gets through once the pause is over.
    """


def same_origin(a: object, b: object) -> bool:
    """Both are usable http(s) URLs on one scheme, host and port (False for anything a peer
    could send that is not such a URL, rather than urlsplit's ValueError)."""
    origin = origin_of(a)
    return origin is not None and origin == origin_of(b)


def _id_of(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _types(document: RawObject) -> set[str]:
    return {t for t in _as_list(document.get("type")) if isinstance(t, str)}


def parse_keys(document: RawObject, actor_id: str) -> list[RemoteKey]:
    """The actor's keys: `publicKey` PEMs (RSA, or Ed25519) and FEP-521a Multikeys."""
    keys: list[RemoteKey] = []
    for entry in _as_list(document.get("publicKey"))[:MAX_KEYS]:
        if not isinstance(entry, dict):
            continue
        key_id, pem = _id_of(entry), entry.get("publicKeyPem")
        owner = entry.get("owner", actor_id)
        if not key_id or not isinstance(pem, str) or owner != actor_id:
            continue
        if not same_origin(key_id, actor_id):
            continue
        try:
            parsed = load_public_key(pem)
        except ValueError:
            continue
        algorithm = "rsa" if isinstance(parsed, rsa.RSAPublicKey) else "ed25519"
        keys.append(RemoteKey(key_id, algorithm, pem))
    for entry in _as_list(document.get("assertionMethod"))[:MAX_KEYS]:
        if not isinstance(entry, dict) or "Multikey" not in _types(entry):
            continue
        key_id, multibase = _id_of(entry), entry.get("publicKeyMultibase")
        if not key_id or not isinstance(multibase, str) or entry.get("controller") != actor_id:
            continue
        if not same_origin(key_id, actor_id):
            continue
        try:
            public = decode_ed25519(multibase)
        except ValueError:
            continue
        pem = public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode("ascii")
        keys.append(RemoteKey(key_id, "ed25519", pem))
    return keys


def parse_actor(document: RawObject, fetched_url: str) -> tuple[dict[str, Any], list[RemoteKey]]:
    """Fields for the cache and the keys of an actor document, or InvalidActor."""
    actor_id = http_url(document.get("id"))
    if actor_id is None:
        raise InvalidActor("actor document has no http(s) id")
    if not same_origin(actor_id, fetched_url):
        raise InvalidActor(f"actor {actor_id} was served from another origin ({fetched_url})")
    if not _types(document) & ACTOR_TYPES:
        raise InvalidActor(f"{actor_id} is not an actor (type {document.get('type')!r})")
    inbox = http_url(document.get("inbox"))
    if inbox is None:
        raise InvalidActor(f"actor {actor_id} has no inbox")
    endpoints = document.get("endpoints")
    shared = http_url(endpoints.get("sharedInbox")) if isinstance(endpoints, dict) else None
    shared = shared or http_url(document.get("sharedInbox"))
    username = document.get("preferredUsername")
    name = document.get("name")
    fields = {
        "iri": actor_id,
        "type": sorted(_types(document) & ACTOR_TYPES)[0],
        "host": urlsplit(actor_id).netloc.lower(),
        "inbox": inbox,
        "shared_inbox": shared,
        "username": username[:200] if isinstance(username, str) else None,
        "name": name[:200] if isinstance(name, str) else None,
    }
    return fields, parse_keys(document, actor_id)


class Lru(OrderedDict[str, Any]):
    """A small bounded mapping: remote actors decide how many keys we see."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def get_fresh(self, key: str) -> Any:
        value = self.get(key)
        if value is not None:
            self.move_to_end(key)
        return value

    def put(self, key: str, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


class RemoteActors:
    """Remote actors and keys: SQLite is the cache of record, with the hot part in memory
    so that the inbox does not ask the database for the same key on every request."""

    def __init__(
        self, db: Database, transport: Transport, memory: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.transport = transport
        self._actors = Lru(memory)
        self._keys = Lru(memory)
        self._clock = clock
        # Rationing of key fetches (see the module docstring); each map is bounded, so a
        # flood of made-up key ids or hosts costs a fixed amount of memory.
        self._refetched = Lru(memory)  # key id -> when it was last refetched
        self._failed_keys = Lru(memory)  # key id -> when its last fetch failed
        self._host_failures = Lru(memory)  # host -> [window start, failures in it]
        self._fetching: dict[str, asyncio.Task[tuple[PublicKey, str, bool]]] = {}

    def forget(self, iri: str) -> None:
        """Drop an actor (and its keys) from memory after it changed or went away."""
        self._actors.pop(iri, None)
        for key_id in [k for k, (_key, owner) in self._keys.items() if owner == iri]:
            del self._keys[key_id]

    async def _save(
        self, fields: dict[str, Any], keys: list[RemoteKey], document: RawObject
    ) -> RemoteActor:
        self.forget(fields["iri"])
        actor = await store.save_actor(self.db, fields, keys, document)
        self._actors.put(actor.iri, actor)
        return actor

    async def refresh(self, iri: str) -> RemoteActor:
        document, final_url = await self.transport.fetch(iri)
        fields, keys = parse_actor(document, final_url)
        if fields["iri"] != iri.split("#")[0]:
            # Mastodon's rule: the id we asked for must be the id we got.
            raise InvalidActor(f"{iri} answered with the document of {fields['iri']}")
        return await self._save(fields, keys, document)

    async def get(self, iri: str) -> RemoteActor:
        actor = self._actors.get_fresh(iri)
        if actor is None:
            actor = await store.actor(self.db, iri)
            if actor is None:
                return await self.refresh(iri)
            self._actors.put(iri, actor)
        return actor

    async def save_document(self, document: RawObject, origin_url: str) -> RemoteActor:
        """Cache an actor document that arrived signed by that actor (Update of itself)."""
        fields, keys = parse_actor(document, origin_url)
        return await self._save(fields, keys, document)

    async def key(self, key_id: str, refresh: bool = False) -> tuple[PublicKey, str, bool]:
        """The public key with this id, the iri of the actor that owns it, and whether it
        was fetched just now (rather than taken from the cache).

        `refresh` fetches it again even if cached, at most once per KEY_REFETCH_EVERY per
        key id; KeyFetchRationed (a FetchError) when that, or a fetch at all, is not
        allowed now.
        """
        if not refresh:
            remembered = self._keys.get_fresh(key_id)
            if remembered is not None:
                return remembered[0], remembered[1], False
            cached = await store.key(self.db, key_id)
            if cached is not None:
                public = load_public_key(cached[0].public_pem)
                self._keys.put(key_id, (public, cached[1]))
                return public, cached[1], False
        elif key_id not in self._fetching:
            # Claimed before any await, so that concurrent failures share one refetch.
            now = self._clock()
            last = self._refetched.get(key_id)
            if last is not None and now - last < KEY_REFETCH_EVERY:
                raise KeyFetchRationed(
                    f"key {key_id} was refetched less than {KEY_REFETCH_EVERY:g} s ago")
            self._refetched.put(key_id, now)
        task = self._fetching.get(key_id)
        if task is None:
            self._may_fetch(key_id)
            task = asyncio.ensure_future(self._fetch_key(key_id))
            self._fetching[key_id] = task
            task.add_done_callback(lambda done: self._fetched(key_id, done))
        return await asyncio.shield(task)

    def _may_fetch(self, key_id: str) -> None:
        now = self._clock()
        failed_at = self._failed_keys.get(key_id)
        if failed_at is not None and now - failed_at < FAILED_KEY_PAUSE:
            raise KeyFetchRationed(
                f"fetching key {key_id} failed less than {FAILED_KEY_PAUSE:g} s ago")
        host = host_of(key_id)
        window = self._host_failures.get(host)
        if window is not None and now - window[0] < HOST_WINDOW and window[1] >= HOST_FAILURES:
            raise KeyFetchRationed(
                f"{window[1]} key fetches from {host} failed in the last "
                f"{HOST_WINDOW:g} s; not asking it for new keys yet")

    def _fetched(self, key_id: str, task: asyncio.Task[Any]) -> None:
        self._fetching.pop(key_id, None)
        if task.cancelled():
            return
        error = task.exception()  # also marks it retrieved when every waiter has gone
        if not isinstance(error, FetchError):
            return
        now = self._clock()
        self._failed_keys.put(key_id, now)
        host = host_of(key_id)
        window = self._host_failures.get(host)
        if window is None or now - window[0] >= HOST_WINDOW:
            window = [now, 0]
        window[1] += 1
        self._host_failures.put(host, window)
        if window[1] == HOST_FAILURES:
            log.warning("key fetches from host rationed", host=host, failures=window[1],
                        seconds=HOST_WINDOW)

    async def _fetch_key(self, key_id: str) -> tuple[PublicKey, str, bool]:
        document, final_url = await self.transport.fetch(key_id)
        owner = document.get("owner") or document.get("controller")
        if not _types(document) & ACTOR_TYPES and isinstance(owner, str):
            # A key document of its own (GoToSocial): the owner is the actor to fetch.
            if not same_origin(owner, key_id):
                raise InvalidActor(f"key {key_id} names an owner on another origin")
            await self.refresh(owner)
        else:
            fields, keys = parse_actor(document, final_url)
            await self._save(fields, keys, document)
        cached = await store.key(self.db, key_id)
        if cached is None:
            raise InvalidActor(f"no key {key_id} in its actor's document")
        public = load_public_key(cached[0].public_pem)
        self._keys.put(key_id, (public, cached[1]))
        return public, cached[1], True
