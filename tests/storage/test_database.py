"""The SQLite store on a real file: WAL, foreign keys, migrations, all-or-nothing writes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage import actors as store
from storage.database import Database, UnusableDatabase, bundled_migrations

KEYS = [store.NewKey("rsa-2048", "pub", "priv"), store.NewKey("ed25519", "zpub", "priv")]


async def test_a_new_file_gets_every_migration_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with Database(path, migrate=True) as db:
        assert await db.schema_version() == len(bundled_migrations())
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        applied = conn.execute("SELECT version, name FROM schema_migrations").fetchall()
    assert applied == [(m.version, m.name) for m in bundled_migrations()]


async def test_opening_again_applies_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with Database(path, migrate=True) as db:
        await store.create_chapter(db, "dublin", "Dublin", "local", None, "", None, KEYS)
    async with Database(path, migrate=True) as db:
        assert (await store.actor_by_handle(db, "dublin")) is not None
        assert await db.fetchvalue("SELECT count(*) FROM schema_migrations") == len(
            bundled_migrations())


async def test_a_database_from_a_newer_chapterhouse_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 999")
    with pytest.raises(UnusableDatabase, match="upgrade Chapterhouse"):
        await Database(path).open()


async def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    async with Database(tmp_path / "db.sqlite3", migrate=True) as db:
        with pytest.raises(sqlite3.IntegrityError):
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO memberships (member_id, chapter_id, joined_at)"
                                 " VALUES (41, 42, 'now')")


async def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    async with Database(tmp_path / "db.sqlite3", migrate=True) as db:
        await store.create_chapter(db, "dublin", "Dublin", "local", None, "", None, KEYS)
        # A member whose keys collide with the primary key fails after the actor row went in.
        with pytest.raises(sqlite3.IntegrityError):
            await store.create_member(db, "ana", "Ana", "dublin", None, KEYS + KEYS[:1])
        assert await store.actor_by_handle(db, "ana") is None
        assert await db.fetchvalue("SELECT count(*) FROM actors WHERE handle = 'ana'") == 0
        assert await db.fetchvalue("SELECT count(*) FROM memberships") == 0


async def test_handles_are_unique_whatever_their_case(tmp_path: Path) -> None:
    async with Database(tmp_path / "db.sqlite3", migrate=True) as db:
        await store.create_chapter(db, "dublin", "Dublin", "local", None, "", None, KEYS)
        with pytest.raises(store.HandleTaken):
            await store.create_chapter(db, "DUBLIN", "Dublin", "local", None, "", None, KEYS)
        assert await store.create_member(db, "ana", "Ana", "nowhere", None, KEYS) is None
        assert await store.actor_by_handle(db, "ana") is None


async def test_there_is_only_one_node_actor(tmp_path: Path) -> None:
    async with Database(tmp_path / "db.sqlite3", migrate=True) as db:
        assert await store.ensure_node_actor(db, "Node", KEYS) is True
        assert await store.ensure_node_actor(db, "Node", KEYS) is False
        assert await store.count_actors(db, "node") == 1


async def test_named_parameters_are_bound_by_name(tmp_path: Path) -> None:
    async with Database(tmp_path / "db.sqlite3", migrate=True) as db:
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
    tmp_path: Path, sql: str, params: object, error: type[Exception]
) -> None:
    async with Database(tmp_path / "db.sqlite3", migrate=True) as db:
        for query in (db.fetchall, db.fetchone, db.fetchvalue, db.execute_fetchall):
            with pytest.raises(error):
                await query(sql, params)  # type: ignore[arg-type]
