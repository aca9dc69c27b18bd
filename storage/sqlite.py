"""The embedded engine: one SQLite file, one writer connection, one reader connection.

Every write runs inside one `BEGIN IMMEDIATE` on the writer (so two writers never
interleave and a failed write leaves nothing behind); reads go to the reader, which in WAL
mode sees the last committed state without waiting for the writer.

The writer's statements run on the event loop's own thread. They are point reads and
writes of a few rows, each a few microseconds, while handing a statement to another thread
(aiosqlite) costs about 50 µs each way; writes are serial anyway, so those hand-offs were
most of the time an inbox POST held the write lock (bench/inbox_throughput.py). What could
block the loop is a lock held by another process (a CLI command): `BEGIN IMMEDIATE` does
not wait inside SQLite but sleeps asynchronously and tries again. The reader stays on
aiosqlite's thread: a page's queries can take milliseconds, and the loop keeps serving
while they run.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from storage.database import (
    Conflict,
    Database,
    DatabaseBusy,
    Dialect,
    Migration,
    Params,
    Row,
    SchemaOutOfDate,
    Tx,
    UnusableDatabase,
    bindings,
)
from storage.search_text import search_text
from storage.timestamps import parse, to_text, utcnow

DIALECT = Dialect(name="sqlite", skip_locked="")

# How often a waiting worker glances at data_version for commits by other processes.
GLANCE = 0.05


def _value(value: Any) -> Any:
    return to_text(value) if isinstance(value, datetime) else value


def _bound(sql: str, params: Params) -> tuple[Any, ...] | dict[str, Any]:
    values = bindings(sql, params)
    if isinstance(values, dict):
        return {k: _value(v) for k, v in values.items()}
    return tuple(_value(v) for v in values)


def _translate(exc: sqlite3.Error) -> Exception | None:
    message = str(exc)
    if isinstance(exc, sqlite3.IntegrityError) and message.startswith("UNIQUE constraint failed: "):
        first = message.removeprefix("UNIQUE constraint failed: ").split(",")[0].strip()
        return Conflict(first, message)
    if isinstance(exc, sqlite3.OperationalError) and "locked" in message:
        return DatabaseBusy(message)
    return None


def _timestamp_text(value: Any) -> str | None:
    """For migrations: any stored time (text in any ISO form, or unix seconds) in the one
    text form, or NULL when it is not a time."""
    try:
        moment = parse(value)
    except (ValueError, TypeError, OverflowError):
        return None
    return None if moment is None else to_text(moment)


# How long BEGIN IMMEDIATE keeps trying while another process writes, and how long a
# statement inside a transaction may wait inside SQLite (blocking the loop) at most.
BUSY_SECONDS = 5.0
STATEMENT_BUSY_MS = 20


class SqliteTx(Tx):
    dialect = DIALECT

    def __init__(self, conn: sqlite3.Connection, channels: set[str]) -> None:
        self._conn = conn
        self._channels = channels

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        try:
            return self._conn.execute(sql, _bound(sql, params)).fetchall()
        except sqlite3.Error as exc:
            raise (_translate(exc) or exc) from None

    async def execute(self, sql: str, params: Params = ()) -> int:
        try:
            return self._conn.execute(sql, _bound(sql, params)).rowcount
        except sqlite3.Error as exc:
            raise (_translate(exc) or exc) from None

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        try:
            self._conn.executemany(sql, [_bound(sql, row) for row in rows])
        except sqlite3.Error as exc:
            raise (_translate(exc) or exc) from None

    def notify(self, channel: str) -> None:
        self._channels.add(channel)


class SqliteDatabase(Database):
    engine = "sqlite"
    dialect = DIALECT

    def __init__(self, location: Path | str, *, migrate: bool = False,
                 up_to: int | None = None) -> None:
        super().__init__(Path(location), migrate=migrate, up_to=up_to)
        self.file = Path(location)
        self._writer: sqlite3.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._events: dict[str, asyncio.Event] = {}

    async def exists(self) -> bool:
        return self.file.exists()

    async def open(self, *, check_schema: bool = True) -> None:
        if not self.migrate_on_open and check_schema and not self.file.exists():
            # Connecting would create an empty file: a node whose database is gone should
            # say so, not start afresh.
            raise UnusableDatabase(f"{self.file} does not exist; create a node with "
                                   "`chapterhouse init`")
        try:
            self._writer = self._connect_writer()
            if self.migrate_on_open:
                self.applied = await self.migrate(self.up_to)
            elif check_schema:
                await self.check_schema()
            self._reader = await self._connect()
            await self._reader.execute("PRAGMA query_only=ON")
        except sqlite3.DatabaseError as exc:
            await self.close()
            raise UnusableDatabase(f"{self.file}: {exc}") from exc
        except BaseException:
            await self.close()
            raise

    def _connect_writer(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; `transaction()` says where they are.
        conn = sqlite3.connect(self.file, isolation_level=None, check_same_thread=False)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute(f"PRAGMA busy_timeout={STATEMENT_BUSY_MS}")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.create_function("ch_timestamp", 1, _timestamp_text, deterministic=True)
            # The search index's triggers (schema 17) keep plain text with it.
            conn.create_function("ch_search_text", 2, search_text, deterministic=True)
        except BaseException:
            conn.close()
            raise
        return conn

    async def _connect(self) -> aiosqlite.Connection:
        # isolation_level=None: no implicit transactions; `transaction()` says where they are.
        conn = await aiosqlite.connect(self.file, isolation_level=None)
        try:
            conn.row_factory = aiosqlite.Row
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA busy_timeout=5000")
            await conn.execute("PRAGMA synchronous=NORMAL")
        except BaseException:
            await conn.close()  # else its worker thread keeps the process alive
            raise
        return conn

    async def close(self) -> None:
        if self._reader is not None:
            await self._reader.close()
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    @asynccontextmanager
    async def transaction(self, *, serial: bool = True) -> AsyncIterator[SqliteTx]:
        """One transaction on the writer. Every SQLite write transaction is serial
        (`BEGIN IMMEDIATE`); `serial` is for the PostgreSQL engine's sake."""
        if self._writer is None:
            raise RuntimeError("database is not open")
        channels: set[str] = set()
        async with self._write_lock:
            writer = self._writer
            await _begin(writer)
            try:
                yield SqliteTx(writer, channels)
            except BaseException:
                writer.execute("ROLLBACK")
                raise
            else:
                try:
                    writer.execute("COMMIT")
                except sqlite3.Error as exc:
                    writer.execute("ROLLBACK")
                    raise (_translate(exc) or exc) from None
        for channel in channels:
            self._event(channel).set()

    def _event(self, channel: str) -> asyncio.Event:
        return self._events.setdefault(channel, asyncio.Event())

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        if self._reader is None:
            raise RuntimeError("database is not open")
        # One call on the connection's thread: a cursor left open between calls would
        # pin the shared reader to an old snapshot and hide commits from other readers.
        try:
            return list(await self._reader.execute_fetchall(sql, _bound(sql, params)))
        except sqlite3.Error as exc:
            raise (_translate(exc) or exc) from None

    async def data_version(self) -> int:
        # Changes whenever another connection (another process: the CLI) commits; the
        # writer's own commits are seen by the reader's as another connection's.
        return int(await self.fetchvalue("PRAGMA data_version"))

    async def wait(self, channel: str, timeout: float) -> bool:  # noqa: ASYNC109
        """A commit in this process sets the channel's event; another process's commit
        shows as a new data_version, glanced at every GLANCE seconds."""
        event = self._event(channel)
        if event.is_set():
            event.clear()
            return True
        deadline = time.monotonic() + timeout
        version = await self.data_version()
        while (left := deadline - time.monotonic()) > 0:
            try:
                await asyncio.wait_for(event.wait(), timeout=min(GLANCE, left))
            except TimeoutError:
                if await self.data_version() != version:
                    return True
            else:
                event.clear()
                return True
        return False

    async def schema_version(self) -> int:
        if self._writer is None:
            raise RuntimeError("database is not open")
        row = self._writer.execute("PRAGMA user_version").fetchone()
        return int(row[0]) if row else 0

    async def _apply(self, migration: Migration) -> None:
        async with self.transaction() as tx:
            for statement in _split_statements(migration.sql):
                await tx.execute(statement)
            await tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, utcnow()),
            )
            await tx.execute(f"PRAGMA user_version = {migration.version}")

    async def check_schema(self) -> None:
        try:
            await super().check_schema()
        except SchemaOutOfDate as exc:
            raise SchemaOutOfDate(str(self.file), exc.found, exc.expected) from None


async def _begin(writer: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE, waiting (asynchronously) while another process writes."""
    deadline = time.monotonic() + BUSY_SECONDS
    pause = 0.002
    while True:
        try:
            writer.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise (_translate(exc) or exc) from None
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.05)


def _split_statements(script: str) -> list[str]:
    # executescript() would COMMIT first; run statement by statement to stay in the
    # transaction.
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        raise RuntimeError(f"migration ends with an incomplete statement: {buffer.strip()[:60]}")
    return statements
