"""The delivery worker of a served node outlives database errors: whatever point of its
loop the database fails at, the failure is logged and the next post still reaches a real
receiving server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from actors.registry import create_chapter
from chapterhouse.app import SUPERVISOR, create_app
from chapterhouse.config import parse
from chapterhouse.services import initialise
from federation.urls import Urls
from outbox.publish import post_note
from storage import outbox as outbox_store
from storage.database import Database, DatabaseBusy
from storage.postgres import PostgresDatabase
from storage.sqlite import SqliteDatabase
from tests.outbox.conftest import raw_config
from tests.outbox.test_worker import follower_at
from tests.receivers import Receivers
from web.state import DB

BASE = "http://127.0.0.1:1"


def locked_at_first(real: Callable[..., Awaitable[Any]], times: int) -> Callable[..., Any]:
    """`real`, except that its first `times` calls fail as the database does when it is
    too busy to answer (SQLite's `database is locked`)."""
    left = times

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        nonlocal left
        if left > 0:
            left -= 1
            raise DatabaseBusy("database is locked")
        return await real(*args, **kwargs)

    return flaky


async def received(receivers: Receivers, activity_iri: str) -> None:
    for _ in range(300):  # 15 s; the receivers run in a thread of their own
        if receivers.distinct(activity_iri):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{activity_iri} never reached the receiver")


async def post(db: Database, text: str) -> str:
    await post_note(db, Urls(BASE), "dublin", text)
    return str(await db.fetchvalue(
        "SELECT iri FROM activities WHERE type = 'Create' ORDER BY id DESC LIMIT 1"))


@pytest.mark.parametrize(("where", "restarted"), [
    ("release_leases", True),  # as the worker starts
    ("wait", True),  # while it idles, waiting for work
    ("expand_fanouts", False),  # as it looks for work: retried in the loop, sends go on
    ("finish", True),  # as it records what it sent
])
async def test_the_worker_survives_a_locked_database(
    where: str, restarted: bool, tmp_path: Path, aiohttp_server: Any,
    monkeypatch: pytest.MonkeyPatch, engine: str,
) -> None:
    if where == "wait":
        kind = PostgresDatabase if engine == "postgresql" else SqliteDatabase
        monkeypatch.setattr(kind, where, locked_at_first(kind.wait, 2))
    else:
        monkeypatch.setattr(outbox_store, where, locked_at_first(getattr(outbox_store, where), 2))
    raw = raw_config(BASE.removeprefix("http://"))
    raw["federation"]["allow_private_addresses"] = True
    with Receivers(hosts=1) as receivers, capture_logs() as logs:
        config = parse(raw, tmp_path)
        await initialise(config)
        app = create_app(config)
        await aiohttp_server(app, host="127.0.0.1")
        db = app[DB]
        await create_chapter(db, BASE.removeprefix("http://"), "dublin", "Dublin", "local")
        await follower_at(db, receivers.base(receivers.ports[0]))
        # Given the worker hit "database is locked" (before or after sending this one)
        first = await post(db, "first")
        await received(receivers, first)
        # Then the next post still goes out
        second = await post(db, "second")
        await received(receivers, second)
        health = app[SUPERVISOR].health["delivery worker"]
    errors = [e for e in logs if e["log_level"] == "error"]
    assert errors and all(e["exc_info"] for e in errors)
    if restarted:
        assert health.restarts >= 1
        assert health.last_error == "DatabaseBusy: database is locked"
        assert all(e["event"] == "background task failed, restarting"
                   and e["task"] == "delivery worker"
                   and isinstance(e["exc_info"], DatabaseBusy) for e in errors)
