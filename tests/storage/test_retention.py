"""Pruning on a real database of the run's engine: finished deliveries and
received-activity records past their window go, in batches; waiting deliveries, newer rows
and records that something still stands on stay; a retry within the window is still
recognised; the pruner runs under the node's supervisor."""

from __future__ import annotations

import asyncio
import sqlite3
import tomllib
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from chapterhouse.app import SUPERVISOR, create_app
from chapterhouse.config import ConfigError, parse, render_initial
from chapterhouse.harness import run_sql
from chapterhouse.services import initialise
from storage import inbox as inbox_store
from storage import retention
from storage.database import Database, Location
from storage.retention import prune, prune_deliveries, prune_received
from tests.nodes import Node
from tests.outbox.conftest import raw_config

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
_serial = count()


def days_ago(days: float) -> datetime:
    return NOW - days * DAY


def add_deliveries(
    location: Location, rows: list[tuple[str, str, datetime, datetime]]
) -> None:
    """rows: (host, state, created_at, updated_at); one activity each, by the node actor."""
    ((actor,),) = run_sql(location, "SELECT id FROM actors WHERE kind = 'node'")
    for host, state, created, updated in rows:
        ((activity,),) = run_sql(
            location,
            "INSERT INTO activities (iri, actor_id, type, public, document, published)"
            " VALUES (?, ?, 'Create', TRUE, '{}', ?) RETURNING id",
            (f"https://here.example/activities/{host}/{next(_serial)}", actor, created))
        run_sql(
            location,
            "INSERT INTO deliveries (activity_id, inbox, host, state, attempts,"
            " next_attempt_at, last_error, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (activity, f"https://{host}/inbox", host, state, 0 if state == "queued" else 1,
             created, "HTTP 410" if state == "dead" else None, created, updated))


def add_received(location: Location, iri: str, received: datetime,
                 type_: str = "Create") -> None:
    run_sql(
        location,
        "INSERT INTO inbox_activities (iri, type, actor_iri, document, received_at)"
        " VALUES (?, ?, 'https://there.example/users/a', '{\"type\": \"Follow\"}', ?)",
        (iri, type_, received))


@pytest.fixture
async def db(tmp_path: Path, engine: str) -> Any:
    config = parse(raw_config("here.example", "https"), tmp_path)
    await initialise(config)
    async with Database(config.database) as opened:
        yield opened


def rows(db: Database, sql: str) -> list[tuple[Any, ...]]:
    return run_sql(db.location, sql)


async def test_finished_deliveries_past_the_window_go_in_batches(db: Database) -> None:
    add_deliveries(db.location, [
        *[("old.example", "delivered", days_ago(30), days_ago(30))] * 7,
        ("old.example", "dead", days_ago(20), days_ago(17)),
        ("died.example", "dead", days_ago(9), days_ago(3)),  # gave up 3 days ago: kept
        ("slow.example", "delivered", days_ago(8), days_ago(6.9)),  # finished in window
        ("down.example", "queued", days_ago(40), days_ago(1)),  # still to do: kept
        ("new.example", "delivered", days_ago(1), days_ago(1)),
    ])
    assert await prune_deliveries(db, NOW - 7 * DAY, batch=3) == 8
    assert rows(db, "SELECT host, state FROM deliveries ORDER BY id") == [
        ("died.example", "dead"), ("slow.example", "delivered"), ("down.example", "queued"),
        ("new.example", "delivered")]
    assert await prune_deliveries(db, NOW - 7 * DAY, batch=3) == 0


async def test_received_records_past_the_window_go_unless_something_stands_on_them(
    db: Database,
) -> None:
    follow, like = "https://there.example/follows/1", "https://there.example/likes/1"
    where = db.location
    for i in range(7):
        add_received(where, f"https://there.example/notes/{i}", days_ago(30))
    add_received(where, follow, days_ago(30), "Follow")
    add_received(where, like, days_ago(29), "Like")
    add_received(where, "https://there.example/notes/recent", days_ago(13))
    ((chapter,),) = run_sql(where, "SELECT id FROM actors WHERE kind = 'node'")
    run_sql(where, "INSERT INTO followers (actor_id, follower_iri, state, follow_iri,"
            " created_at) VALUES (?, 'https://there.example/users/a', 'accepted', ?, ?)",
            (chapter, follow, days_ago(30)))
    ((note,),) = run_sql(where, "INSERT INTO objects (iri, actor_id, type, document, published)"
                         " VALUES ('https://here.example/notes/1', ?, 'Note', '{}', ?)"
                         " RETURNING id", (chapter, days_ago(30)))
    run_sql(where, "INSERT INTO reactions (object_id, kind, actor_iri, activity_iri,"
            " created_at) VALUES (?, 'like', 'https://there.example/users/a', ?, ?)",
            (note, like, days_ago(29)))
    assert await prune_received(db, NOW - 14 * DAY, batch=2) == 7
    assert [r[0] for r in rows(db, "SELECT iri FROM inbox_activities ORDER BY id")] == [
        follow, like, "https://there.example/notes/recent"]
    # An Undo that names the Follow only by its id still finds what it undoes.
    async with db.transaction() as tx:
        assert (await inbox_store.recorded_activity(tx, follow)) == {"type": "Follow"}


async def test_a_retry_within_the_window_is_still_recognised_after_a_prune(db: Database) -> None:
    activity = {"id": "https://there.example/notes/9/activity", "type": "Create"}
    async with db.transaction() as tx:
        assert await inbox_store.record_activity(
            tx, activity["id"], "Create", "https://there.example/users/a", activity)
    # Thirteen days later (a replay, or a sender's late retry), after a round of pruning:
    await prune(db, 7 * DAY, 14 * DAY, now=datetime.now(UTC) + 13 * DAY)
    async with db.transaction() as tx:
        assert not await inbox_store.record_activity(
            tx, activity["id"], "Create", "https://there.example/users/a", activity)
    await prune(db, 7 * DAY, 14 * DAY, now=datetime.now(UTC) + 15 * DAY)
    assert rows(db, "SELECT count(*) FROM inbox_activities") == [(0,)]


def test_deliveries_still_shows_hosts_waiting_and_failed_after_a_prune(fresh_node: Node) -> None:
    add_deliveries(fresh_node.database, [
        ("a.example", "delivered", days_ago(30), days_ago(30)),
        ("a.example", "delivered", days_ago(1), days_ago(1)),
        ("a.example", "queued", days_ago(30), days_ago(1)),
        ("b.example", "dead", days_ago(5), days_ago(2)),
        ("gone.example", "delivered", days_ago(30), days_ago(30)),
    ])

    async def prune_node() -> tuple[int, int]:
        async with Database(fresh_node.database) as db:
            return await prune(db, 7 * DAY, 14 * DAY, now=NOW)

    assert asyncio.run(prune_node()) == (2, 0)
    result = fresh_node.cli("deliveries")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["HOST", "QUEUED", "RETRYING", "DEAD", "DELIVERED", "HOST",
                                "STATE", "LAST", "ERROR"]
    assert lines[1].split() == ["a.example", "1", "0", "0", "1", "ok", "-"]
    assert lines[2].split() == ["b.example", "0", "0", "1", "0", "ok", "HTTP", "410"]
    assert "gone.example" not in result.stdout


def test_the_windows_are_configured_and_checked(tmp_path: Path) -> None:
    raw = tomllib.loads(render_initial("here.example", "https", "Test"))
    assert (parse(raw, tmp_path).keep_delivered_days, parse(raw, tmp_path).keep_received_days
            ) == (7, 14)
    raw["storage"]["keep_received_days"] = 3  # shorter than senders retry: dedupe would break
    with pytest.raises(ConfigError, match=r"storage\.keep_received_days must be a whole number"):
        parse(raw, tmp_path)
    raw["storage"]["keep_received_days"] = 30
    raw["storage"]["keep_delivered_days"] = 0
    with pytest.raises(ConfigError, match=r"storage\.keep_delivered_days"):
        parse(raw, tmp_path)


async def test_the_pruner_runs_under_the_supervisor(
    tmp_path: Path, aiohttp_server: Any, monkeypatch: pytest.MonkeyPatch, engine: str,
) -> None:
    config = parse(raw_config("127.0.0.1:1"), tmp_path)
    await initialise(config)
    add_deliveries(config.database, [("old.example", "delivered", days_ago(400), days_ago(400))])
    add_received(config.database, "https://there.example/notes/old", days_ago(400))
    real, calls = retention.prune, 0

    async def locked_once(*args: Any, **kwargs: Any) -> tuple[int, int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise sqlite3.OperationalError("database is locked")
        return await real(*args, **kwargs)

    monkeypatch.setattr(retention, "prune", locked_once)
    app = create_app(config)
    await aiohttp_server(app, host="127.0.0.1")
    # The pruner clears each table in a transaction of its own: wait for both.
    left = "SELECT (SELECT count(*) FROM deliveries) + (SELECT count(*) FROM inbox_activities)"
    for _ in range(100):
        if rows_at(config.database, left) == 0:
            break
        await asyncio.sleep(0.05)
    assert rows_at(config.database, "SELECT count(*) FROM deliveries") == 0
    assert rows_at(config.database, "SELECT count(*) FROM inbox_activities") == 0
    health = app[SUPERVISOR].health["pruner"]
    assert health.restarts == 1
    assert health.last_error == "OperationalError: database is locked"


def rows_at(location: Location, sql: str) -> int:
    return int(run_sql(location, sql)[0][0])
