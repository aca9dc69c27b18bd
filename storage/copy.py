"""Moving a node from SQLite to PostgreSQL: every row of every table, ids kept.

The copy knows only the tables and the order their foreign keys need; columns come from
the source (`pragma_table_info`) and their types from the target (`information_schema`),
so a migration that adds a column to both schemas needs no change here. Each value is
turned into its PostgreSQL column's type: SQLite's time text into an aware datetime, its
0/1 into a boolean.

Everything goes in one transaction on the target: a copy that fails half-way leaves the
target as empty as it found it (with the schema, which a second attempt reuses). The
source is read in one transaction too, so it is one moment of the node even if something
did write to it; but the node must be stopped, or whatever it does after that moment is
not in the copy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from storage.database import Database, Reader, Tx, UnusableDatabase
from storage.timestamps import parse

# Parents before children. schema_migrations is not copied: the target has its own
# history, made by its own engine's migrations. collection_sizes comes last: the target's
# triggers fill it while the counted tables are copied, and the source's counts replace
# what they made.
TABLES = (
    "actors", "actor_keys", "chapters", "memberships", "activities", "followers",
    "following", "remote_actors", "remote_keys", "inbox_activities", "remote_objects",
    "remote_object_audience", "objects", "reactions", "blocks", "fanouts", "deliveries",
    "hosts", "items", "poll_votes", "event_participants", "parents", "subchapters",
    "passed_up", "accounts", "sessions", "organisers", "password_links", "failed_logins",
    "join_requests", "outgoing_mail",
    "member_votes", "member_event_joins",
    "member_reactions",
    "collection_sizes",
    "access_tokens",
    "pages", "page_texts",
    "decisions", "decision_chapters", "ballots", "tallies", "decision_invites",
)
# The search index (SQLite: an FTS5 table and its shadow tables) is not copied either:
# the target's triggers index the items and remote objects as they are copied.
NOT_COPIED = frozenset({"schema_migrations", "search_entries", "search_entries_data",
                        "search_entries_idx", "search_entries_content",
                        "search_entries_docsize", "search_entries_config"})
BATCH = 1000


class CopyRefused(Exception):
    """The copy cannot start (a target that holds data, schemas that differ); the message
    says why. Nothing was written."""


@dataclass(frozen=True)
class Copied:
    table: str
    rows: int


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


# PostgreSQL's `data_type` of a column → how a SQLite value becomes one. A type missing
# here passes the value through as SQLite stored it.
CONVERSIONS: dict[str, Callable[[Any], Any]] = {
    "timestamp with time zone": parse,
    "boolean": bool,
    "bigint": int,
    "integer": int,
    "smallint": int,
    "text": _text,
    "double precision": float,
    "real": float,
}


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class _Table:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]  # the source's primary key (or rowid): the order rows are read in
    convert: tuple[Callable[[Any], Any], ...]
    identity: tuple[str, ...]  # target columns whose sequence must move past the copied ids

    def row(self, values: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(None if value is None else convert(value)
                     for convert, value in zip(self.convert, values, strict=True))


async def _source_tables(source: Reader) -> set[str]:
    rows = await source.fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return {row[0] for row in rows}


async def _describe(source: Reader, target: Reader, name: str) -> _Table:
    source_columns = await source.fetchall(
        "SELECT name, pk FROM pragma_table_info(?) ORDER BY cid", [name])
    target_columns = await target.fetchall(
        "SELECT column_name, data_type, is_identity FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
        [name])
    types = {row[0]: row[1] for row in target_columns}
    columns = tuple(row[0] for row in source_columns)
    if set(columns) != set(types):
        raise CopyRefused(
            f"table {name}: the source has columns {sorted(columns)}, the target "
            f"{sorted(types)}; both must be at this Chapterhouse's schema")
    key = tuple(row[0] for row in sorted(source_columns, key=lambda r: r[1]) if row[1])
    return _Table(
        name=name,
        columns=columns,
        key=key or ("rowid",),
        convert=tuple(CONVERSIONS.get(types[c], lambda v: v) for c in columns),
        identity=tuple(row[0] for row in target_columns if row[2] == "YES"),
    )


async def _check_tables(source: Reader) -> None:
    found = await _source_tables(source) - NOT_COPIED
    if found != set(TABLES):
        raise CopyRefused(
            f"the source's tables are not the ones this Chapterhouse copies: "
            f"unknown {sorted(found - set(TABLES))}, missing {sorted(set(TABLES) - found)}")


async def _refuse_data(target: Reader, where: str) -> None:
    for name in TABLES:
        if await target.fetchvalue(f"SELECT 1 FROM {_quoted(name)} LIMIT 1") is not None:
            subject = "a node" if name == "actors" else f"rows in {name}"
            raise CopyRefused(f"{where} already holds {subject}; copy into an empty database")


async def _rows(source: Reader, table: _Table) -> AsyncIterator[list[tuple[Any, ...]]]:
    """The table's rows in batches, in primary-key order (row values compare as tuples)."""
    select = ", ".join(_quoted(c) for c in table.columns)
    key = ", ".join(_quoted(c) if c != "rowid" else c for c in table.key)
    width = len(table.key)
    base = f"SELECT {select}, {key} FROM {_quoted(table.name)}"
    last: list[Any] | None = None
    while True:
        if last is None:
            rows = await source.fetchall(f"{base} ORDER BY {key} LIMIT {BATCH}")
        else:
            marks = ", ".join("?" * width)
            rows = await source.fetchall(
                f"{base} WHERE ({key}) > ({marks}) ORDER BY {key} LIMIT {BATCH}", last)
        if not rows:
            return
        yield [tuple(row)[:-width] for row in rows]
        last = list(tuple(rows[-1])[-width:])
        if len(rows) < BATCH:
            return


async def _copy_table(source: Reader, target: Tx, table: _Table) -> int:
    # Rows the target's triggers made from tables copied before this one (the collection
    # sizes): the source's own rows replace them.
    await target.execute(f"DELETE FROM {_quoted(table.name)}")
    columns = ", ".join(_quoted(c) for c in table.columns)
    marks = ", ".join("?" * len(table.columns))
    insert = f"INSERT INTO {_quoted(table.name)} ({columns}) VALUES ({marks})"
    count = 0
    async for batch in _rows(source, table):
        await target.executemany(insert, [table.row(values) for values in batch])
        count += len(batch)
    for column in table.identity:
        # The next id the target hands out comes after the highest one copied (setval is
        # strict: on an empty table NULL leaves the sequence alone).
        await target.execute(
            f"SELECT setval(pg_get_serial_sequence(?, ?), "
            f"(SELECT max({_quoted(column)}) FROM {_quoted(table.name)}))",
            [table.name, column])
    return count


async def copy_node(source: Database, target: Database) -> list[Copied]:
    """Copy every row of the open SQLite `source` into the open, empty PostgreSQL `target`
    (both at this Chapterhouse's schema); rows per table, in the order copied."""
    if source.engine != "sqlite" or target.engine != "postgresql":
        raise UnusableDatabase("a copy goes from a SQLite node to a PostgreSQL database")
    copied = []
    async with source.transaction() as reading, target.transaction() as writing:
        await _check_tables(reading)
        await _refuse_data(writing, target.path)
        for name in TABLES:
            table = await _describe(reading, writing, name)
            copied.append(Copied(name, await _copy_table(reading, writing, table)))
    return copied
