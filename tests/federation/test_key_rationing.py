"""How often the remote actor cache fetches a key, over minutes, with a clock we move.

tests/inbox/test_key_fetch_rationing.py checks the same through a real node; this file
checks what only a clock can show: when fetching is allowed again.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from federation.client import FetchError
from federation.remote_actors import (
    FAILED_KEY_PAUSE,
    HOST_FAILURES,
    HOST_WINDOW,
    KEY_REFETCH_EVERY,
    KeyFetchRationed,
    RemoteActors,
)
from storage.database import Database

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeTransport:
    """Serves actors under https://peer.example/users/NAME; anything else is a 404."""

    def __init__(self) -> None:
        self.gets: Counter[str] = Counter()
        self.actors = {"ana"}
        self.delay = 0.0

    async def fetch(self, url: str) -> tuple[dict[str, Any], str]:
        self.gets[url] += 1
        await asyncio.sleep(self.delay)
        iri = url.split("#")[0]
        name = iri.rpartition("/")[2]
        if not iri.startswith("https://peer.example/users/") or name not in self.actors:
            raise FetchError(f"peer.example answered 404 for {url}")
        return {"id": iri, "type": "Person", "inbox": f"{iri}/inbox",
                "publicKey": {"id": f"{iri}#main-key", "owner": iri, "publicKeyPem": PEM}}, iri


@pytest.fixture
async def cache(
    store_location: Path | str,
) -> AsyncIterator[tuple[RemoteActors, FakeTransport, Clock]]:
    transport, clock = FakeTransport(), Clock()
    async with Database(store_location, migrate=True) as db:
        yield RemoteActors(db, transport, clock=clock), transport, clock  # type: ignore[arg-type]


ANA = "https://peer.example/users/ana#main-key"


async def test_a_key_is_refetched_once_per_interval(cache: Any) -> None:
    actors, transport, clock = cache
    assert (await actors.key(ANA))[2] is True
    assert (await actors.key(ANA))[2] is False  # cached
    assert (await actors.key(ANA, refresh=True))[2] is True
    clock.now += KEY_REFETCH_EVERY - 1
    with pytest.raises(KeyFetchRationed, match="refetched less than"):
        await actors.key(ANA, refresh=True)
    assert (await actors.key(ANA))[2] is False  # the cache still answers
    clock.now += 1
    assert (await actors.key(ANA, refresh=True))[2] is True
    assert transport.gets[ANA] == 3


async def test_concurrent_refetches_share_one_fetch(cache: Any) -> None:
    actors, transport, _clock = cache
    await actors.key(ANA)
    transport.delay = 0.05
    results = await asyncio.gather(*(actors.key(ANA, refresh=True) for _ in range(20)),
                                   return_exceptions=True)
    assert all(not isinstance(r, BaseException) and r[2] for r in results)
    assert transport.gets[ANA] == 2


async def test_a_key_that_failed_waits_before_it_is_asked_for_again(cache: Any) -> None:
    actors, transport, clock = cache
    ghost = "https://peer.example/users/ghost#main-key"
    transport.delay = 0.05
    first = await asyncio.gather(*(actors.key(ghost) for _ in range(10)),
                                 return_exceptions=True)
    assert all(isinstance(e, FetchError) for e in first)
    assert transport.gets[ghost] == 1
    clock.now += FAILED_KEY_PAUSE - 1
    with pytest.raises(KeyFetchRationed, match="failed less than"):
        await actors.key(ghost)
    clock.now += 1
    transport.actors.add("ghost")  # it exists now
    assert (await actors.key(ghost))[2] is True
    assert transport.gets[ghost] == 2


async def test_a_failing_host_gets_no_new_key_fetched_until_its_window_ends(
    cache: Any
) -> None:
    actors, transport, clock = cache
    await actors.key(ANA)
    for n in range(HOST_FAILURES):
        with pytest.raises(FetchError):
            await actors.key(f"https://peer.example/users/made-up-{n}#main-key")
    transport.actors.add("ben")
    ben = "https://peer.example/users/ben#main-key"
    with pytest.raises(KeyFetchRationed, match="not asking it for new keys yet"):
        await actors.key(ben)
    assert transport.gets[ben] == 0
    assert (await actors.key(ANA))[2] is False  # known keys are unaffected
    clock.now += HOST_WINDOW
    assert (await actors.key(ben))[2] is True


async def test_memory_for_rationing_is_bounded(store_location: Path | str) -> None:
    transport, clock = FakeTransport(), Clock()
    async with Database(store_location, migrate=True) as db:
        actors = RemoteActors(db, transport, memory=50, clock=clock)  # type: ignore[arg-type]
        for n in range(500):
            clock.now += HOST_WINDOW  # a fresh window each time: never rationed
            with pytest.raises(FetchError):
                await actors.key(f"https://host-{n}.example/users/x#main-key")
        assert len(actors._failed_keys) == 50
        assert len(actors._host_failures) == 50
        assert actors._fetching == {}
