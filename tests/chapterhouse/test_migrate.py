"""Schema upgrades are explicit: only `chapterhouse migrate` upgrades an existing database.

A database left at an older version (built by applying only the first bundled
migrations) is refused by `serve` and by every other command, with one line naming the
command that upgrades it; `migrate` upgrades it, and the node then starts.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from storage.database import Database, SchemaOutOfDate, bundled_migrations
from tests.nodes import Node

OLD = 3


async def _build_at(path: Path, version: int) -> None:
    async with Database(path, migrate=True, up_to=version) as db:
        assert await db.schema_version() == version


def _make_old(node: Node) -> None:
    for suffix in ("", "-wal", "-shm"):
        node.database.with_name(node.database.name + suffix).unlink(missing_ok=True)
    asyncio.run(_build_at(node.database, OLD))


def _version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def test_an_older_schema_is_refused_until_migrate_upgrades_it(fresh_node: Node) -> None:
    latest = len(bundled_migrations())
    _make_old(fresh_node)

    result = fresh_node.cli("serve")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"schema version {OLD}, older than this Chapterhouse needs ({latest})" in result.stderr
    assert f"`chapterhouse migrate --data {fresh_node.data}`" in result.stderr
    for command in (["chapter", "list"], ["deliveries"],
                    ["chapter", "create", "dublin", "--name", "D", "--level", "local"]):
        result = fresh_node.cli(*command)
        assert result.returncode == 2, command
        assert "upgrade it with `chapterhouse migrate" in result.stderr, command
    assert _version(fresh_node.database) == OLD  # nothing upgraded it behind our back

    result = fresh_node.cli("migrate")
    assert result.returncode == 0, result.stderr
    names = [f"applied {m.version:04d}_{m.name}" for m in bundled_migrations()[OLD:]]
    assert result.stdout.splitlines() == [
        *names, f"{fresh_node.database}: schema version {OLD} -> {latest}"]
    assert _version(fresh_node.database) == latest

    result = fresh_node.cli("migrate")
    assert result.returncode == 0
    assert result.stdout == f"{fresh_node.database}: schema version {latest}, up to date\n"

    fresh_node.start()
    assert fresh_node.get("/.well-known/nodeinfo").status == 200
    assert fresh_node.stop() == 0


def test_migrate_does_not_create_a_missing_database(fresh_node: Node) -> None:
    fresh_node.database.unlink()
    result = fresh_node.cli("migrate")
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert not fresh_node.database.exists()


def test_other_commands_do_not_create_a_missing_database(fresh_node: Node) -> None:
    fresh_node.database.unlink()
    result = fresh_node.cli("chapter", "list")
    assert result.returncode == 1
    assert "does not exist; create a node with `chapterhouse init`" in result.stderr
    assert not fresh_node.database.exists()


async def test_opening_an_older_schema_raises_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    await _build_at(path, OLD)
    try:
        await Database(path).open()
    except SchemaOutOfDate as exc:
        assert (exc.found, exc.expected) == (OLD, len(bundled_migrations()))
    else:
        raise AssertionError("an older schema was opened")
    assert _version(path) == OLD
    async with Database(path, migrate=True) as db:
        versions = [m.version for m in db.applied]
    assert versions == list(range(OLD + 1, len(bundled_migrations()) + 1))
