"""Rules for creating chapters and members, with real keys and a real database."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from actors.handles import RESERVED, InvalidHandle, validate_handle
from actors.registry import RegistryError, add_member, create_chapter, ensure_node_actor
from federation.multikey import decode_ed25519
from storage import actors as store
from storage.database import Database, Location


@pytest.mark.parametrize("handle", ["dublin", "berlin-mitte", "new_york", "a", "x1", "_x_",
                                    "a" * 30])
def test_good_handles(handle: str) -> None:
    assert validate_handle(handle) == handle


@pytest.mark.parametrize("handle", ["", "Dublin", "-dublin", "dublin-", "dub lin", "dub.lin",
                                    "dublín", "a" * 31, "x/y", "@dublin", "actor"])
def test_bad_handles(handle: str) -> None:
    with pytest.raises(InvalidHandle):
        validate_handle(handle)


def test_reserved_handles_cover_our_own_paths() -> None:
    assert {"actor", "actors", "inbox", "static", "nodeinfo", "well-known"} <= RESERVED


async def test_each_actor_gets_its_own_working_key_pairs(store_location: Location) -> None:
    async with Database(store_location, migrate=True) as db:
        await ensure_node_actor(db, "Node")
        await create_chapter(db, "node1", "dublin", "IOPS Dublin", "local", "Dublin, Ireland")
        await add_member(db, "node1", "ana", "dublin")
        rows = await db.fetchall("SELECT actor_id, algorithm, public_key, private_key"
                                 " FROM actor_keys")
    assert len(rows) == 6
    assert len({r["public_key"] for r in rows}) == 6
    for row in rows:
        private = load_pem_private_key(row["private_key"].encode(), password=None)
        if row["algorithm"] == "rsa-2048":
            assert private.key_size == 2048  # type: ignore[union-attr]
        else:
            message = b"minutes of the August meeting"
            signature = private.sign(message)  # type: ignore[call-arg,union-attr]
            decode_ed25519(row["public_key"]).verify(signature, message)


async def test_rules_for_new_actors(store_location: Location) -> None:
    async with Database(store_location, migrate=True) as db:
        await create_chapter(db, "localhost", "dublin", "IOPS Dublin", "local")
        with pytest.raises(RegistryError, match="already taken"):
            await add_member(db, "localhost", "dublin", "dublin")
        with pytest.raises(RegistryError, match="node's own name"):
            await create_chapter(db, "localhost", "localhost", "X", "local")
        with pytest.raises(RegistryError, match="level must be one of"):
            await create_chapter(db, "localhost", "cork", "X", "town")
        with pytest.raises(RegistryError, match="control characters"):
            await create_chapter(db, "localhost", "cork", "X\x1b[31m", "local")
        with pytest.raises(RegistryError, match="longer than"):
            await create_chapter(db, "localhost", "cork", "X", "local", summary="s" * 5001)
        with pytest.raises(RegistryError, match="no chapter"):
            await add_member(db, "localhost", "ana", "cork")
        assert await store.count_actors(db, "chapter") == 1
        assert await store.count_actors(db, "member") == 0
