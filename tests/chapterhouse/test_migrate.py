"""Schema upgrades are explicit: only `chapterhouse migrate` upgrades an existing database.

A database left at an older version is refused by `serve` and by every other command,
with one line naming the command that upgrades it; `migrate` upgrades it, and the node
then starts. On both engines; and SQLite's 0007 turns the older time forms of a real
node's rows into the one form every table now keeps.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

import storage.database
from chapterhouse.cli import main
from chapterhouse.harness import new_storage_url
from storage.copy import TABLES
from storage.database import Database, Location, Migration, SchemaOutOfDate, bundled_migrations
from tests.nodes import Node

OLD = 3


async def _build_at(location: Location, version: int) -> None:
    async with Database(location, migrate=True, up_to=version) as db:
        assert await db.schema_version() == version


def sqlite_node(parent: Path) -> Node:
    node = Node.init(parent, settings={"storage.url": "chapterhouse.sqlite3"})
    assert isinstance(node.database, Path)
    return node


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _exists(location: Location) -> bool:
    return asyncio.run(Database(location).exists())


def test_an_older_sqlite_schema_is_refused_until_migrate_upgrades_it(tmp_path: Path) -> None:
    node = sqlite_node(tmp_path)
    assert isinstance(node.database, Path)
    latest = len(bundled_migrations())
    _remove(node.database)
    asyncio.run(_build_at(node.database, OLD))

    result = node.cli("serve")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"schema version {OLD}, older than this Chapterhouse needs ({latest})" in result.stderr
    assert f"`chapterhouse migrate --data {node.data}`" in result.stderr
    for command in (["chapter", "list"], ["deliveries"],
                    ["chapter", "create", "dublin", "--name", "D", "--level", "local"]):
        result = node.cli(*command)
        assert result.returncode == 2, command
        assert "upgrade it with `chapterhouse migrate" in result.stderr, command
    assert _version(node.database) == OLD  # nothing upgraded it behind our back

    result = node.cli("migrate")
    assert result.returncode == 0, result.stderr
    names = [f"applied {m.version:04d}_{m.name}" for m in bundled_migrations()[OLD:]]
    assert result.stdout.splitlines() == [
        *names, f"{node.database}: schema version {OLD} -> {latest}"]
    assert _version(node.database) == latest

    result = node.cli("migrate")
    assert result.returncode == 0
    assert result.stdout == f"{node.database}: schema version {latest}, up to date\n"

    node.start()
    assert node.get("/.well-known/nodeinfo").status == 200
    assert node.stop() == 0


@pytest.fixture
def a_newer_chapterhouse(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Migration]:
    """Makes this process a Chapterhouse with one migration more than the bundled ones, so
    that every node made so far has an older schema: on PostgreSQL, whose schema has one
    version so far, there is no other way to have one."""
    real = storage.database.bundled_migrations

    def bundled(engine: str = "sqlite") -> list[Migration]:
        found = real(engine)
        return [*found, Migration(len(found) + 1, "probe", "CREATE TABLE probe (id integer);\n")]

    monkeypatch.setattr(storage.database, "bundled_migrations", bundled)
    return lambda engine: bundled(engine)[-1]


def test_an_older_schema_is_refused_on_either_engine_until_migrate(
    fresh_node: Node, a_newer_chapterhouse: Callable[[str], Migration],
    capsys: pytest.CaptureFixture[str],
) -> None:
    probe = a_newer_chapterhouse(fresh_node.engine)
    data = ["--data", str(fresh_node.data)]
    for command in (["serve"], ["chapter", "list"],
                    ["chapter", "create", "dublin", "--name", "D", "--level", "local"]):
        assert main([*command, *data]) == 2, command
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert (f"schema version {probe.version - 1}, older than this Chapterhouse needs "
                f"({probe.version}); upgrade it with `chapterhouse migrate --data "
                f"{fresh_node.data}`") in err

    assert main(["migrate", *data]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"applied {probe.version:04d}_probe"
    assert out[1].endswith(f"schema version {probe.version - 1} -> {probe.version}")
    assert main(["migrate", *data]) == 0
    assert capsys.readouterr().out.endswith(f"schema version {probe.version}, up to date\n")
    assert main(["chapter", "create", "dublin", "--name", "D", "--level", "local", *data]) == 0
    assert fresh_node.sql("SELECT count(*) FROM probe") == [(0,)]


def _point_at_nothing(node: Node) -> Location:
    """The node's database gone: its SQLite file deleted, or (on PostgreSQL) its config
    naming an empty database."""
    if isinstance(node.database, Path):
        _remove(node.database)
        return node.database
    empty = new_storage_url()
    assert empty is not None
    node.configure({"storage.url": empty})
    return empty


def test_migrate_does_not_create_a_missing_database(fresh_node: Node) -> None:
    where = _point_at_nothing(fresh_node)
    result = fresh_node.cli("migrate")
    assert result.returncode == 2
    assert "nothing to migrate" in result.stderr and result.stderr.count("\n") == 1
    assert not _exists(where)


def test_other_commands_do_not_create_a_missing_database(fresh_node: Node) -> None:
    where = _point_at_nothing(fresh_node)
    for command in (["chapter", "list"], ["serve"]):
        result = fresh_node.cli(*command)
        assert result.returncode == 1, command
        assert "with `chapterhouse init`" in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1
    assert not _exists(where)


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


# What the rows of a node made before 0007 held: times in the forms each table was written
# with (whole seconds, SQLite's own `datetime('now')` form, the offset an event was given,
# what a remote server wrote), and unix seconds as REAL in the delivery queue and hosts.
OLD_ROWS = """
UPDATE actors SET created_at = '2026-11-01T10:00:00Z' WHERE handle = 'dublin';
UPDATE actors SET created_at = '2026-11-01 09:30:00' WHERE kind = 'node';
UPDATE chapters SET founded_at = '2026-11-01T10:00:00+00:00';
UPDATE items SET starts_at = '2030-09-12T14:00:00+01:00', ends_at = '2030-09-12T17:30:00+01:00',
    published = '2026-11-01T11:00:00Z' WHERE kind = 'event';
INSERT INTO remote_objects (iri, type, attributed_to, content, published, document,
    received_at, via) VALUES
    ('https://far.example/minutes/1', 'Article', 'https://far.example/actors/kerry',
     '<p>Kerry met.</p>', '2026-09-30T20:00:00+02:00',
     '{"type": "Article", "name": "Kerry, September", "meetingDate": "2026-09-30",
       "attributedTo": "https://far.example/actors/kerry"}',
     '2026-10-01T08:00:00Z', NULL),
    ('https://far.example/notes/2', 'Article', 'https://far.example/actors/kerry', '',
     'last Tuesday', '{"type": "Article", "meetingDate": 20260930}',
     '2026-10-01T08:00:01Z', NULL);
INSERT INTO remote_object_audience (object_id, actor_id)
    SELECT o.id, a.id FROM remote_objects o, actors a WHERE a.handle = 'dublin';
INSERT INTO deliveries (activity_id, inbox, host, state, attempts, next_attempt_at,
    locked_until, created_at, updated_at)
    SELECT min(id), 'https://social.example/inbox', 'social.example', 'queued', 2,
        1700000000.5, 1700000100, '2023-11-14T21:56:40Z', '2023-11-14 22:05:00'
        FROM activities;
INSERT INTO hosts (host, failures, unavailable_since, next_probe_at, last_failure_at)
    VALUES ('social.example', 10, 1700000000.25, 1700003600, 1699999500.25);
"""


def _downgrade(node: Node) -> None:
    """Replace the node's database with one at schema version 6 holding the same rows,
    then put the older forms of times into them."""
    assert isinstance(node.database, Path)
    current = node.database.with_name("current.sqlite3")
    shutil.copy(node.database, current)
    _remove(node.database)
    asyncio.run(_build_at(node.database, 6))
    with sqlite3.connect(node.database) as conn:
        conn.execute("ATTACH ? AS current", (str(current),))
        older = {row[0] for row in conn.execute(
            "SELECT name FROM main.sqlite_master WHERE type = 'table'")}
        for table in TABLES:
            if table not in older:  # made by a later migration: empty here
                continue
            columns = [row[1] for row in conn.execute(f"PRAGMA main.table_info({table})")]
            conn.execute(f"DELETE FROM main.{table}")
            conn.execute(f"INSERT INTO main.{table} ({', '.join(columns)})"
                         f" SELECT {', '.join(columns)} FROM current.{table}")
        conn.commit()
        conn.execute("DETACH current")
        conn.executescript(OLD_ROWS)
    assert _version(node.database) == 6


def test_0007_turns_every_older_time_into_the_one_form(tmp_path: Path) -> None:
    node = sqlite_node(tmp_path)
    node.chapter("dublin", "IOPS Dublin", "local")
    event = node.run("post", "event", "--chapter", "dublin", "--title", "Autumn bookfair",
                     "--start", "2030-09-12T14:00", "--end", "2030-09-12T17:30",
                     "--timezone", "Europe/Dublin", "--place-name", "Teachers' Club").strip()
    _downgrade(node)
    assert isinstance(node.database, Path)

    result = node.cli("migrate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "applied 0007_one_timestamp_type"

    with sqlite3.connect(node.database) as conn:
        def one(sql: str) -> tuple[object, ...]:
            rows = conn.execute(sql).fetchall()
            assert len(rows) == 1, (sql, rows)
            return tuple(rows[0])

        assert one("SELECT created_at FROM actors WHERE handle = 'dublin'") == (
            "2026-11-01T10:00:00.000000Z",)
        assert one("SELECT created_at FROM actors WHERE kind = 'node'") == (
            "2026-11-01T09:30:00.000000Z",)
        assert one("SELECT founded_at FROM chapters") == ("2026-11-01T10:00:00.000000Z",)
        assert one("SELECT starts_at, ends_at, published FROM items") == (
            "2030-09-12T13:00:00.000000Z", "2030-09-12T16:30:00.000000Z",
            "2026-11-01T11:00:00.000000Z")
        assert one("SELECT published, received_at, meeting_date FROM remote_objects"
                   " WHERE iri LIKE '%/minutes/1'") == (
            "2026-09-30T18:00:00.000000Z", "2026-10-01T08:00:00.000000Z", "2026-09-30")
        # Not a time, and not a date as text: nothing rather than a guess.
        assert one("SELECT published, meeting_date FROM remote_objects"
                   " WHERE iri LIKE '%/notes/2'") == (None, None)
        assert one("SELECT next_attempt_at, locked_until, created_at, updated_at,"
                   " typeof(next_attempt_at) FROM deliveries") == (
            "2023-11-14T22:13:20.500000Z", "2023-11-14T22:15:00.000000Z",
            "2023-11-14T21:56:40.000000Z", "2023-11-14T22:05:00.000000Z", "text")
        assert one("SELECT unavailable_since, next_probe_at, last_success_at,"
                   " last_failure_at FROM hosts") == (
            "2023-11-14T22:13:20.250000Z", "2023-11-14T23:13:20.000000Z", None,
            "2023-11-14T22:05:00.250000Z")
        assert one("SELECT count(*) FROM schema_migrations WHERE applied_at NOT LIKE"
                   " '____-__-__T__:__:__.______Z'") == (0,)

    node.start()
    page = node.get(event.removeprefix(node.base), accept="text/html")
    assert page.status == 200
    assert "14:00" in page.text and "17:30" in page.text and "Europe/Dublin" in page.text
    chapter = node.get("/@dublin", accept="text/html")
    assert chapter.status == 200 and "Kerry, September" in chapter.text
    document = node.get("/actors/dublin", accept="application/activity+json").json()
    assert document["published"] == "2026-11-01T10:00:00Z"
    deliveries = node.run("deliveries")
    assert "social.example" in deliveries
    assert node.stop() == 0
