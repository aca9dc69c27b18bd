"""The store's seam: one `Database` and one transaction type (`Tx`), two engines.

Storage modules write SQL once, with `?` (or `:name`) placeholders, and pass Python values:
`datetime` (UTC), `bool`, `int`, `str`, `None`. Each engine turns those into its own:
SQLite (`storage.sqlite`, the embedded default) keeps timestamps as ISO 8601 text in one
fixed, sortable form and booleans as 0/1; PostgreSQL (`storage.postgres`) keeps
`timestamptz` and `boolean`, with `$n` placeholders. Where the two dialects differ, a
statement asks the transaction's `dialect` for the fragment.

Nothing outside `storage/` sees a connection, a cursor or a row: storage functions take a
`Database` (reads on the committed state) or a `Tx` (reads and writes in one transaction)
and return dataclasses.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Protocol
from urllib.parse import urlsplit, urlunsplit

import structlog

from storage.timestamps import now as now
from storage.timestamps import utcnow as utcnow

log = structlog.get_logger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

# Where a node's data lives: a SQLite file, or a PostgreSQL URL.
Location = Path | str


class Row(Protocol):
    """A result row inside storage/: by column name or position (sqlite3.Row, asyncpg.Record)."""

    def __getitem__(self, key: str | int, /) -> Any: ...

    def keys(self) -> Iterable[str]: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...


# Positional values for `?` placeholders, or named values for `:name` ones.
Params = Sequence[Any] | Mapping[str, Any]

# What SQLite reads as a placeholder, once string literals, quoted identifiers and
# comments (where `?` and `:` are only text) are skipped. `::` is PostgreSQL's cast.
_SQL_TOKEN = re.compile(
    r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\]"""
    r"|--[^\n]*|/\*.*?(?:\*/|$)|::"
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


@lru_cache(maxsize=1024)
def numbered(sql: str) -> tuple[str, tuple[str, ...] | None]:
    """The statement with `$1, $2, …` placeholders (PostgreSQL's), and for named ones the
    names in the order of their numbers (None for positional)."""
    order: list[str] = []
    position = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal position
        if match["numbered"]:
            return "$" + match["numbered"][1:]
        if match["anonymous"]:
            position += 1
            return f"${position}"
        if match["named"]:
            name = match["named"][1:]
            if name not in order:
                order.append(name)
            return f"${order.index(name) + 1}"
        return match[0]

    text = _SQL_TOKEN.sub(replace, sql)
    return text, (tuple(order) if order else None)


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
    """Not a database this Chapterhouse can use; the message says why."""


class DatabaseBusy(Exception):
    """The database did not answer in time (locked, or out of connections): try again."""


class SchemaOutOfDate(UnusableDatabase):
    """The schema is older than this Chapterhouse's: `chapterhouse migrate` upgrades it.

    Opening never upgrades by itself, so a CLI command run next to a node started by an
    older Chapterhouse cannot change the schema under it.
    """

    def __init__(self, where: str, found: int, expected: int) -> None:
        super().__init__(f"{where} has schema version {found}, older than this Chapterhouse "
                         f"needs ({expected}); upgrade it with `chapterhouse migrate`")
        self.path = where
        self.found = found
        self.expected = expected


class Conflict(Exception):
    """A row would break a uniqueness rule; `constraint` names it as `table.column`
    (the first column of the rule) on both engines, for storage code to turn into a domain
    error such as `HandleTaken`."""

    def __init__(self, constraint: str, detail: str) -> None:
        super().__init__(detail)
        self.constraint = constraint


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


@lru_cache(maxsize=4)
def bundled_migrations(engine: str = "sqlite") -> list[Migration]:
    found = []
    for entry in resources.files("storage").joinpath("migrations", engine).iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return found


@dataclass(frozen=True)
class Dialect:
    """The fragments where the two engines' SQL differs."""

    name: str
    # Appended to a SELECT that leases rows: other processes skip what one has locked.
    skip_locked: str


def is_postgres(location: Location) -> bool:
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def describe(location: Location) -> str:
    """The location for messages and logs, without a password."""
    if not is_postgres(location):
        return str(location)
    parts = urlsplit(str(location))
    netloc = parts.netloc
    if "@" in netloc:
        credentials, host = netloc.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        netloc = f"{user}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class Reader(ABC):
    """What both a database and a transaction answer: reads (and, on a transaction, writes)."""

    dialect: Dialect

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        raise NotImplementedError

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        return next(iter(await self.fetchall(sql, params)), None)

    async def fetchvalue(self, sql: str, params: Params = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]


class Tx(Reader):
    """One transaction: everything done through it commits together or not at all."""

    @abstractmethod
    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; how many rows it changed."""

    @abstractmethod
    async def executemany(self, sql: str, rows: Iterable[Params]) -> None: ...

    async def insert(self, sql: str, params: Params = ()) -> int:
        """Run an `INSERT … RETURNING id` and return the new row's id."""
        value = await self.fetchvalue(sql, params)
        if value is None:
            raise RuntimeError("the INSERT returned no id; does it end with RETURNING id?")
        return int(value)

    @abstractmethod
    def notify(self, channel: str) -> None:
        """Tell every process watching `channel` (see `Database.wait`) once this commits."""


class Database(Reader):
    """The node's database: `Database(location)` opens the engine the location names.

    `open()` refuses a database whose schema is not exactly the one this code knows
    (older: SchemaOutOfDate; newer: UnusableDatabase) and one that does not exist. With
    `migrate=True` it creates the schema, or upgrades an older one, first: only
    `chapterhouse init`, `chapterhouse migrate` and tests building a node ask for that.
    """

    engine: ClassVar[str]

    def __new__(cls, location: Location, **_: Any) -> Database:
        if cls is Database:
            if is_postgres(location):
                from storage.postgres import PostgresDatabase
                return super().__new__(PostgresDatabase)
            from storage.sqlite import SqliteDatabase
            return super().__new__(SqliteDatabase)
        return super().__new__(cls)

    def __init__(self, location: Location, *, migrate: bool = False,
                 up_to: int | None = None) -> None:
        """`up_to` stops `migrate=True` at that version: tests build an older database so."""
        self.location = location
        self.migrate_on_open = migrate
        self.up_to = up_to
        self.applied: list[Migration] = []  # what open() applied, with migrate=True

    @property
    def path(self) -> str:
        """Where the data lives, as said in messages (a URL without its password)."""
        return describe(self.location)

    async def open(self, *, check_schema: bool = True) -> None:
        """Connect. `check_schema=False` (without `migrate`) accepts any version, for the
        caller that calls `migrate()` itself."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Database:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def transaction(self, *, serial: bool = True) -> Any:
        """`async with db.transaction() as tx:` one transaction; rolled back on any
        exception. `serial=False` is for the delivery queue's leasing only (see
        PostgresDatabase.transaction)."""
        raise NotImplementedError

    async def exists(self) -> bool:
        """Whether a Chapterhouse database is there (for `init` and `migrate`)."""
        raise NotImplementedError

    async def schema_version(self) -> int:
        raise NotImplementedError

    async def data_version(self) -> int:
        """A number that changes whenever anything commits (here or in another process):
        caches compare it instead of reading tables."""
        raise NotImplementedError

    async def wait(self, channel: str, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait up to `timeout` seconds for a `Tx.notify(channel)` committed by any
        process; whether one came (False on timeout). May return early spuriously."""
        raise NotImplementedError

    async def _apply(self, migration: Migration) -> None:
        raise NotImplementedError

    async def check_schema(self) -> None:
        """Refuse a schema older or newer than the one this code was written for."""
        current, latest = await self.schema_version(), len(bundled_migrations(self.engine))
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
        """Apply every bundled migration newer than the database's version (up to version
        `up_to`, for tests that need an older schema), each in one transaction; returns
        those applied."""
        current = await self.schema_version()
        migrations = bundled_migrations(self.engine)
        self._refuse_newer(current, len(migrations))
        applied = []
        for migration in migrations[current:up_to]:
            await self._apply(migration)
            log.info("migration applied", version=migration.version, name=migration.name)
            applied.append(migration)
        return applied


@asynccontextmanager
async def opened(location: Location, **options: Any) -> AsyncIterator[Database]:
    db = Database(location, **options)
    await db.open()
    try:
        yield db
    finally:
        await db.close()
