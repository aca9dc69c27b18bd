"""The store on a real database, on either engine: migrations, foreign keys,
all-or-nothing writes, parameters; and SQLite's file in WAL mode."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from storage import actors as store
from storage.database import Conflict, Database, Location, UnusableDatabase, bundled_migrations

KEYS = [store.NewKey("rsa-2048", "pub", "priv"), store.NewKey("ed25519", "zpub", "priv")]


async def test_a_new_file_gets_every_migration_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with Database(path, migrate=True) as db:
        assert await db.schema_version() == len(bundled_migrations())
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        applied = conn.execute("SELECT version, name FROM schema_migrations").fetchall()
    assert applied == [(m.version, m.name) for m in bundled_migrations()]


async def test_opening_again_applies_nothing_twice(store_location: Location) -> None:
    async with Database(store_location, migrate=True) as db:
        await store.create_chapter(db, "dublin", "Dublin", "local", None, "", None, KEYS)
    async with Database(store_location, migrate=True) as db:
        assert db.applied == []
        assert (await store.actor_by_handle(db, "dublin")) is not None
        assert await db.fetchvalue("SELECT count(*) FROM schema_migrations") == len(
            bundled_migrations(db.engine))


async def test_a_database_from_a_newer_chapterhouse_is_refused(store_location: Location) -> None:
    async with Database(store_location, migrate=True) as db, db.transaction() as tx:
        if db.engine == "sqlite":
            await tx.execute("PRAGMA user_version = 999")
        await tx.execute("INSERT INTO schema_migrations (version, name, applied_at)"
                         " VALUES (999, 'from_the_future', ?)", [datetime.now(UTC)])
    with pytest.raises(UnusableDatabase, match="newer than this Chapterhouse knows"):
        await Database(store_location).open()
    with pytest.raises(UnusableDatabase, match="upgrade Chapterhouse"):
        await Database(store_location, migrate=True).open()


async def test_foreign_keys_are_enforced(store_location: Location) -> None:
    async with Database(store_location, migrate=True) as db:
        with pytest.raises((sqlite3.IntegrityError, asyncpg.ForeignKeyViolationError)):
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO memberships (member_id, chapter_id, joined_at)"
                                 " VALUES (41, 42, ?)", [datetime.now(UTC)])
        assert await db.fetchvalue("SELECT count(*) FROM memberships") == 0


async def test_a_failed_write_leaves_nothing_behind(store_location: Location) -> None:
    async with Database(store_location, migrate=True) as db:
        await store.create_chapter(db, "dublin", "Dublin", "local", None, "", None, KEYS)
        # A member whose keys collide with the primary key fails after the actor row went in.
        with pytest.raises(Conflict) as refused:
            await store.create_member(db, "ana", "Ana", "dublin", None, KEYS + KEYS[:1])
        assert refused.value.constraint == "actor_keys.actor_id"
        assert await store.actor_by_handle(db, "ana") is None
        assert await db.fetchvalue("SELECT count(*) FROM actors WHERE handle = 'ana'") == 0
        assert await db.fetchvalue("SELECT count(*) FROM memberships") == 0


async def test_handles_are_unique_whatever_their_case(store_location: Location) -> None:
    async with Database(store_location, migrate=True) as db:
        await store.create_chapter(db, "dublin", "Dublin", "local", None, "", None, KEYS)
        with pytest.raises(store.HandleTaken):
            await store.create_chapter(db, "DUBLIN", "Dublin", "local", None, "", None, KEYS)
        assert await store.create_member(db, "ana", "Ana", "nowhere", None, KEYS) is None
        assert await store.actor_by_handle(db, "ana") is None


async def test_there_is_only_one_node_actor(store_location: Location) -> None:
    async with Database(store_location, migrate=True) as db:
        assert await store.ensure_node_actor(db, "Node", KEYS) is True
        assert await store.ensure_node_actor(db, "Node", KEYS) is False
        assert await store.count_actors(db, "node") == 1


async def test_named_parameters_are_bound_by_name(store_location: Location) -> None:
    async with Database(store_location, migrate=True) as db:
        row = await db.fetchone("SELECT :b, :a, :a", {"a": "first", "b": "second"})
        assert tuple(row) == ("second", "first", "first")  # type: ignore[arg-type]
        # `?` and `:` inside literals, identifiers and comments are text, not placeholders.
        assert await db.fetchvalue(
            "SELECT '?:x' || ? AS \"a?\" -- :y ?\n", ["!"]) == "?:x!"


@pytest.mark.parametrize("sql,params,error", [
    ("SELECT ?", {1}, TypeError),  # a set has no order
    ("SELECT ?, ?", "ab", TypeError),  # would bind one character each
    ("SELECT ?", b"a", TypeError),
    ("SELECT ?", (value for value in [1]), TypeError),
    ("SELECT ?", {"a": 1}, ValueError),  # a mapping for a positional placeholder
    ("SELECT :a", ("a",), ValueError),  # a sequence for a named one
    ("SELECT :a", {"a": 1, "b": 2}, ValueError),
    ("SELECT :a, :b", {"a": 1}, ValueError),
    ("SELECT ?, ?", (1,), ValueError),
    ("SELECT ?", (1, 2), ValueError),
    ("SELECT ?2", (1,), ValueError),
])
async def test_parameters_that_cannot_be_bound_right_are_refused(
    store_location: Location, sql: str, params: object, error: type[Exception]
) -> None:
    async with Database(store_location, migrate=True) as db:
        for query in (db.fetchall, db.fetchone, db.fetchvalue):
            with pytest.raises(error):
                await query(sql, params)  # type: ignore[arg-type]


async def test_pages_and_the_worker_may_ask_for_changes_at_the_same_moment(
    store_location: Location,
) -> None:
    # A page's data_version() and the worker's wait() at once, on a fresh connection: on
    # PostgreSQL both LISTEN on one connection, which once ran two commands at a time.
    async with Database(store_location, migrate=True) as db:
        await db.data_version()  # connected, and listening for one channel
        results = await asyncio.gather(
            *(db.data_version() for _ in range(5)),
            *(db.wait(f"channel_{n}", 0.05) for n in range(5)))
        assert all(isinstance(version, int) for version in results[:5])
        assert results[5:] == [False] * 5
