"""The PostgreSQL engine, for a node that outgrows one SQLite file or one process.

asyncpg (not psycopg 3): it speaks PostgreSQL's binary protocol itself, prepares and
caches each statement on its connection, and brings its own pool and LISTEN support.
bench/pg_drivers.py runs both on a node's statements: psycopg 3.3 (C extension, statements
prepared at once) took 2.0x asyncpg's time for a point read, 1.7x for a 50-row page and
1.1x for a one-row insert transaction (medians of 3 rounds, one run on this machine);
the node needs nothing that only psycopg has (a sync API, COPY from Python files).

Transactions keep the embedded engine's promise: a write transaction runs as if it were
the only writer. Each takes one transaction-scoped advisory lock, held by one transaction
at a time across every `chapterhouse serve` and CLI process on the database, so the
read-check-write steps in storage/ (is this activity new? is this follower known?) mean
the same on both engines. The delivery queue does not need that: its leases are taken
with `FOR UPDATE SKIP LOCKED` in transactions opened with `serial=False`, so the workers
of several processes share the queue without waiting on each other or on the inbox.

Commits announce themselves with NOTIFY: on `chapterhouse_changed` always (what
`data_version` counts, for caches), and on any channel a transaction named
(`Tx.notify`; the delivery worker waits on the queue's).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import structlog

from storage.database import (
    Conflict,
    Database,
    DatabaseBusy,
    Dialect,
    Migration,
    Params,
    Row,
    Tx,
    UnusableDatabase,
    bindings,
    numbered,
)
from storage.timestamps import utcnow

log = structlog.get_logger(__name__)

DIALECT = Dialect(name="postgresql", skip_locked=" FOR UPDATE SKIP LOCKED")

CHANGED = "chapterhouse_changed"
# Any fixed number: the key of the one advisory lock that write transactions take.
WRITER_LOCK = 0x43484150  # "CHAP"
POOL_SIZE = 10
_KEY = re.compile(r"Key \(([^,)]+)")
_CHANNEL = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_BEGIN_SERIAL = f"BEGIN; SELECT pg_advisory_xact_lock({WRITER_LOCK})"


def _commit(channels: set[str]) -> str:
    """NOTIFY on every channel named, then COMMIT: one simple-query round trip. Channel
    names are the store's own constants, checked here because they become SQL text."""
    notices = []
    for channel in (CHANGED, *sorted(channels)):
        if not _CHANNEL.match(channel):
            raise ValueError(f"not a channel name: {channel!r}")
        notices.append(f"NOTIFY {channel};")
    return " ".join(notices) + " COMMIT"


def _args(sql: str, params: Params) -> tuple[str, list[Any]]:
    values = bindings(sql, params)
    text, names = numbered(sql)
    if isinstance(values, dict):
        assert names is not None
        return text, [values[name] for name in names]
    return text, list(values)


def _translate(exc: Exception) -> Exception | None:
    if isinstance(exc, asyncpg.UniqueViolationError):
        match = _KEY.search(getattr(exc, "detail", "") or "")
        column = match[1].strip() if match else (exc.constraint_name or "?")
        column = column.removeprefix("lower(").removesuffix(")")
        return Conflict(f"{exc.table_name}.{column}", str(exc))
    if isinstance(exc, asyncpg.TooManyConnectionsError | asyncpg.LockNotAvailableError
                  | asyncpg.DeadlockDetectedError | asyncio.TimeoutError):
        return DatabaseBusy(str(exc) or type(exc).__name__)
    return None


class PostgresTx(Tx):
    dialect = DIALECT

    def __init__(self, conn: asyncpg.Connection, channels: set[str]) -> None:
        self._conn = conn
        self._channels = channels

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        text, args = _args(sql, params)
        try:
            return list(await self._conn.fetch(text, *args))
        except asyncpg.PostgresError as exc:
            raise (_translate(exc) or exc) from None

    async def execute(self, sql: str, params: Params = ()) -> int:
        text, args = _args(sql, params)
        try:
            status = await self._conn.execute(text, *args)
        except asyncpg.PostgresError as exc:
            raise (_translate(exc) or exc) from None
        # "INSERT 0 3", "UPDATE 2", "DELETE 1": the last word is the count.
        last = status.rsplit(" ", 1)[-1]
        return int(last) if last.isdigit() else 0

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        batch = [_args(sql, row)[1] for row in rows]
        if not batch:
            return
        try:
            await self._conn.executemany(numbered(sql)[0], batch)
        except asyncpg.PostgresError as exc:
            raise (_translate(exc) or exc) from None

    def notify(self, channel: str) -> None:
        self._channels.add(channel)


class PostgresDatabase(Database):
    engine = "postgresql"
    dialect = DIALECT

    def __init__(self, location: str, *, migrate: bool = False, up_to: int | None = None,
                 pool_size: int = POOL_SIZE) -> None:
        super().__init__(location, migrate=migrate, up_to=up_to)
        self.url = str(location)
        self.pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._listener: asyncpg.Connection | None = None
        self._listening: set[str] = set()
        # One LISTEN at a time: the listening connection runs one command at a time, and
        # a page's data_version() and the worker's wait() used to LISTEN at once (500).
        self._listen_lock = asyncio.Lock()
        self._events: dict[str, asyncio.Event] = {}
        self._version = 0

    async def _connect_pool(self) -> asyncpg.Pool:
        try:
            return await asyncpg.create_pool(
                self.url, min_size=1, max_size=self.pool_size, command_timeout=60,
                # Statements are prepared once per connection and kept: the store's SQL is
                # a fixed set of strings.
                statement_cache_size=512,
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise UnusableDatabase(f"{self.path}: cannot connect ({exc})") from exc

    async def exists(self) -> bool:
        try:
            conn = await asyncpg.connect(self.url)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise UnusableDatabase(f"{self.path}: cannot connect ({exc})") from exc
        try:
            return bool(await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"))
        finally:
            await conn.close()

    async def open(self, *, check_schema: bool = True) -> None:
        self._pool = await self._connect_pool()
        try:
            if self.migrate_on_open:
                self.applied = await self.migrate(self.up_to)
            elif check_schema:
                if not await self._has_schema():
                    raise UnusableDatabase(f"{self.path} holds no Chapterhouse node; create "
                                           "one with `chapterhouse init`")
                await self.check_schema()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._listener is not None:
            listener, self._listener = self._listener, None
            await listener.close()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    def _require_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("database is not open")
        return self._pool

    @asynccontextmanager
    async def transaction(self, *, serial: bool = True) -> AsyncIterator[PostgresTx]:
        """One transaction. `serial` (the default) waits until no other write transaction
        of any process runs; the delivery queue's own transactions pass `serial=False`.

        BEGIN goes with the lock, and the NOTIFYs with COMMIT, in one round trip each: a
        serial transaction holds the lock for as long as its round trips take."""
        channels: set[str] = set()
        try:
            async with self._require_pool().acquire() as conn:
                await conn.execute(_BEGIN_SERIAL if serial else "BEGIN")
                try:
                    yield PostgresTx(conn, channels)
                except BaseException:
                    if not conn.is_closed():
                        await conn.execute("ROLLBACK")
                    raise
                await conn.execute(_commit(channels))
        except asyncpg.PostgresError as exc:
            raise (_translate(exc) or exc) from None
        # Seen at once in this process; other processes hear the NOTIFY.
        self._version += 1
        for channel in channels:
            self._event(channel).set()

    def _event(self, channel: str) -> asyncio.Event:
        return self._events.setdefault(channel, asyncio.Event())

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        text, args = _args(sql, params)
        try:
            async with self._require_pool().acquire() as conn:
                return list(await conn.fetch(text, *args))
        except asyncpg.PostgresError as exc:
            raise (_translate(exc) or exc) from None

    async def _listen(self, channel: str) -> None:
        if self._listener is not None and channel in self._listening:
            return
        async with self._listen_lock:
            if self._listener is None:
                try:
                    self._listener = await asyncpg.connect(self.url)
                except (OSError, asyncpg.PostgresError) as exc:
                    raise UnusableDatabase(f"{self.path}: cannot connect ({exc})") from exc
                self._listening = set()
            if channel not in self._listening:
                await self._listener.add_listener(channel, self._heard)
                self._listening.add(channel)

    def _heard(self, _conn: object, _pid: int, channel: str, _payload: str) -> None:
        if channel == CHANGED:
            self._version += 1
        else:
            self._event(channel).set()

    async def data_version(self) -> int:
        await self._listen(CHANGED)
        # A NOTIFY can reach this process after the client that committed (the CLI, in
        # another process) has already asked for the page again. The snapshot's horizon and
        # the transactions still writing move with every commit anywhere, at the cost of
        # one small query; read-only work leaves it as it is.
        snapshot = await self.fetchvalue("SELECT pg_current_snapshot()::text")
        return hash((self._version, snapshot))

    async def wait(self, channel: str, timeout: float) -> bool:  # noqa: ASYNC109
        await self._listen(channel)
        event = self._event(channel)
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return False
        event.clear()
        return True

    async def _has_schema(self) -> bool:
        return bool(await self.fetchvalue("SELECT to_regclass('schema_migrations') IS NOT NULL"))

    async def schema_version(self) -> int:
        if not await self._has_schema():
            return 0
        return int(await self.fetchvalue(
            "SELECT coalesce(max(version), 0) FROM schema_migrations"))

    async def _apply(self, migration: Migration) -> None:
        async with self._require_pool().acquire() as conn, conn.transaction():
            # Two processes migrating at once: the second waits, then finds nothing to do.
            await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITER_LOCK)
            if await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"):
                done = await conn.fetchval(
                    "SELECT 1 FROM schema_migrations WHERE version = $1", migration.version)
                if done:
                    return
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                migration.version, migration.name, utcnow())
