"""The SQLite store: one writer connection, one reader connection, numbered migrations.

Every write runs inside one `BEGIN IMMEDIATE` on the writer (so two writers never
interleave and a failed write leaves nothing behind); reads go to the reader, which in WAL
mode sees the last committed state without waiting for the writer.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite
import structlog

log = structlog.get_logger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

Row = aiosqlite.Row
# Positional values for `?` placeholders, or named values for `:name` ones.
Params = Sequence[Any] | Mapping[str, Any]

# What SQLite reads as a placeholder, once string literals, quoted identifiers and
# comments (where `?` and `:` are only text) are skipped.
_SQL_TOKEN = re.compile(
    r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\]"""
    r"|--[^\n]*|/\*.*?(?:\*/|$)"
    r"|(?P<numbered>\?\d+)|(?P<anonymous>\?)|(?P<named>[:@$][A-Za-z_][A-Za-z0-9_]*)",
    re.DOTALL,
)


@lru_cache(maxsize=512)
def _placeholders(sql: str) -> tuple[int, frozenset[str]]:
    """(how many positional values, which names) the statement's placeholders take."""
    count, names = 0, set()
    for match in _SQL_TOKEN.finditer(sql):
        if match["numbered"]:
            count = max(count, int(match["numbered"][1:]))
        elif match["anonymous"]:
            count += 1
        elif match["named"]:
            names.add(match["named"][1:])
    return count, frozenset(names)


def bindings(sql: str, params: Params) -> tuple[Any, ...] | dict[str, Any]:
    """The values for the statement's placeholders, checked against them.

    sqlite3 binds any sequence by position, and on Python 3.11 even binds a tuple to
    `:name` placeholders, so a dict turned into a tuple (its keys), a set (no order) or a
    string (one character each) would run with the wrong values and no error. Only a
    list or tuple for `?` placeholders, or a mapping for named ones, is accepted.
    """
    count, names = _placeholders(sql)
    if isinstance(params, Mapping):
        if count:
            raise ValueError(f"the statement has positional placeholders; give a sequence "
                             f"of {count} values, not a mapping")
        missing, unused = names - params.keys(), params.keys() - names
        if missing or unused:
            raise ValueError(f"named parameters do not match the statement: missing "
                             f"{sorted(missing)}, unused {sorted(unused)}")
        return dict(params)
    if not isinstance(params, list | tuple):
        raise TypeError(f"query parameters must be a list or tuple of values or a mapping "
                        f"of names to values, not {type(params).__name__}")
    if names:
        raise ValueError(f"the statement has named placeholders "
                         f"({', '.join(sorted(names))}); give a mapping")
    if len(params) != count:
        raise ValueError(f"the statement takes {count} parameter(s), {len(params)} given")
    return tuple(params)


class UnusableDatabase(Exception):
    """The file is not a database this Chapterhouse can use; the message says why."""


class SchemaOutOfDate(UnusableDatabase):
    """The file's schema is older than this Chapterhouse's: `chapterhouse migrate` upgrades it.

    Opening never upgrades by itself, so a CLI command run next to a node started by an
    older Chapterhouse cannot change the schema under it.
    """

    def __init__(self, path: Path, found: int, expected: int) -> None:
        super().__init__(f"{path} has schema version {found}, older than this Chapterhouse "
                         f"needs ({expected}); upgrade it with `chapterhouse migrate`")
        self.path = path
        self.found = found
        self.expected = expected


class Migration:
    def __init__(self, version: int, name: str, sql: str) -> None:
        self.version = version
        self.name = name
        self.sql = sql


def bundled_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("storage").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return found


def utcnow() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Database:
    """The node's database.

    `open()` refuses a file whose schema is not exactly the one this code knows (older:
    SchemaOutOfDate; newer: UnusableDatabase) and a file that does not exist. With
    `migrate=True` it creates the schema in a new file, or upgrades an older one, first:
    only `chapterhouse init`, `chapterhouse migrate` and tests building a node ask for that.
    """

    def __init__(self, path: Path, *, migrate: bool = False, up_to: int | None = None) -> None:
        """`up_to` stops `migrate=True` at that version: tests build an older database so."""
        self.path = path
        self.migrate_on_open = migrate
        self.up_to = up_to
        self.applied: list[Migration] = []  # what open() applied, with migrate=True
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()

    async def open(self, *, check_schema: bool = True) -> None:
        """Connect. `check_schema=False` (without `migrate`) accepts any version, for the
        caller that calls `migrate()` itself."""
        if not self.migrate_on_open and check_schema and not self.path.exists():
            # Connecting would create an empty file: a node whose database is gone should
            # say so, not start afresh.
            raise UnusableDatabase(f"{self.path} does not exist; create a node with "
                                   "`chapterhouse init`")
        try:
            self._writer = await self._connect()
            await self._writer.execute("PRAGMA journal_mode=WAL")
            if self.migrate_on_open:
                self.applied = await self.migrate(self.up_to)
            elif check_schema:
                await self.check_schema()
            self._reader = await self._connect()
            await self._reader.execute("PRAGMA query_only=ON")
        except sqlite3.DatabaseError as exc:
            await self.close()
            raise UnusableDatabase(f"{self.path}: {exc}") from exc
        except BaseException:
            await self.close()
            raise

    async def _connect(self) -> aiosqlite.Connection:
        # isolation_level=None: no implicit transactions; `transaction()` says where they are.
        conn = await aiosqlite.connect(self.path, isolation_level=None)
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
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    async def __aenter__(self) -> Database:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Run the block as one transaction on the writer; roll back on any exception."""
        if self._writer is None:
            raise RuntimeError("database is not open")
        async with self._write_lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield self._writer
            except BaseException:
                await self._writer.execute("ROLLBACK")
                raise
            else:
                await self._writer.execute("COMMIT")

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        if self._reader is None:
            raise RuntimeError("database is not open")
        # One call on the connection's thread: a cursor left open between calls would
        # pin the shared reader to an old snapshot and hide commits from other readers.
        rows = await self._reader.execute_fetchall(sql, bindings(sql, params))
        return next(iter(rows), None)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        if self._reader is None:
            raise RuntimeError("database is not open")
        return list(await self._reader.execute_fetchall(sql, bindings(sql, params)))

    async def execute_fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """The reader's answer, under the name aiosqlite connections use, so a query
        function can take either the database or a transaction's connection."""
        return await self.fetchall(sql, params)

    async def fetchvalue(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]

    async def data_version(self) -> int:
        """Changes whenever another connection (another process: the CLI) commits; a cheap
        way to notice new rows without reading any table."""
        return int(await self.fetchvalue("PRAGMA data_version"))

    async def schema_version(self) -> int:
        if self._writer is None:
            raise RuntimeError("database is not open")
        rows = await self._writer.execute_fetchall("PRAGMA user_version")
        row = next(iter(rows), None)
        return int(row[0]) if row else 0

    async def check_schema(self) -> None:
        """Refuse a schema older or newer than the one this code was written for."""
        current, latest = await self.schema_version(), len(bundled_migrations())
        self._refuse_newer(current, latest)
        if current < latest:
            raise SchemaOutOfDate(self.path, current, latest)

    def _refuse_newer(self, current: int, latest: int) -> None:
        if current > latest:
            raise UnusableDatabase(
                f"{self.path} has schema version {current}, newer than this Chapterhouse "
                f"knows ({latest}); upgrade Chapterhouse"
            )

    async def migrate(self, up_to: int | None = None) -> list[Migration]:
        """Apply every bundled migration newer than the file's version (up to version
        `up_to`, for tests that need an older schema), each in one transaction; returns
        those applied."""
        current = await self.schema_version()
        migrations = bundled_migrations()
        self._refuse_newer(current, len(migrations))
        applied = []
        for migration in migrations[current:up_to]:
            async with self.transaction() as tx:
                await _run_script(tx, migration.sql)
                await tx.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, utcnow()),
                )
                await tx.execute(f"PRAGMA user_version = {migration.version}")
            log.info("migration applied", version=migration.version, name=migration.name)
            applied.append(migration)
        return applied


async def _run_script(tx: aiosqlite.Connection, script: str) -> None:
    # executescript() would COMMIT first; run statement by statement to stay in the transaction.
    for statement in _split_statements(script):
        await tx.execute(statement)


def _split_statements(script: str) -> list[str]:
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
