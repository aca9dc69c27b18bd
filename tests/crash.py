"""A process that dies (kill -9) right after a given commit, simulated in-process.

Timing a real SIGKILL between a commit and the statement after it is a matter of luck;
this makes it exact: the first transaction whose commit makes `query` answer something
true raises `Killed` as soon as it has committed, and every later transaction fails
before it begins. What the database holds afterwards is what a killed node would find
on restart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from storage.database import Database, Tx


class Killed(Exception):
    """The node died here."""


def die_after_commit(monkeypatch: pytest.MonkeyPatch, db: Database, query: str) -> None:
    original = db.transaction
    dead = False

    @asynccontextmanager
    async def transaction(*, serial: bool = True) -> AsyncIterator[Tx]:
        nonlocal dead
        if dead:
            raise Killed("no transaction after death")
        async with original(serial=serial) as tx:
            yield tx
        if await db.fetchvalue(query):
            dead = True
            raise Killed(f"killed after the commit that made {query!r} true")

    monkeypatch.setattr(db, "transaction", transaction)
