"""Keyset (cursor) paging: a page starts where the previous one ended, by the sort key.

OFFSET paging reads and throws away every row before the page, so the middle of 10,000
followers costs 250 times the first page; a cursor seeks straight to the page in the
index whatever its depth. The cursor is opaque to peers (base64url of the direction and
the sort key of the row it starts after), so the key can change without breaking links.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.database import Params, Reader
from storage.timestamps import at, to_text


class BadCursor(ValueError):
    """The cursor is not one this node made."""


@dataclass(frozen=True)
class Cursor:
    keys: tuple[Any, ...]  # the sort key of the row the page starts after (or before)
    forward: bool  # True: the rows after it in collection order (`next`); False: before it


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    next: Cursor | None
    prev: Cursor | None


def _key_out(key: Any) -> Any:
    # A time key travels as {"t": text} and comes back a datetime: PostgreSQL compares a
    # timestamptz column with a datetime only.
    return {"t": to_text(key)} if isinstance(key, datetime) else key


def _key_in(key: Any) -> Any:
    if isinstance(key, dict):
        if set(key) != {"t"} or not isinstance(key["t"], str) or len(key["t"]) > 40:
            raise BadCursor("not a cursor of this collection")
        try:
            return at(key["t"])
        except ValueError:
            raise BadCursor("not a cursor of this collection") from None
    if isinstance(key, bool) or not isinstance(key, int | str):
        raise BadCursor("not a cursor of this collection")
    return key


def encode(cursor: Cursor) -> str:
    raw = json.dumps(["n" if cursor.forward else "p", [_key_out(k) for k in cursor.keys]],
                     separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, width: int) -> Cursor:
    """A cursor of `width` keys, each a string, an integer or a time; BadCursor otherwise."""
    if len(token) > 400:
        raise BadCursor("cursor too long")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        direction, keys = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise BadCursor("not a cursor of this collection") from None
    if direction not in ("n", "p") or not isinstance(keys, list) or len(keys) != width:
        raise BadCursor("not a cursor of this collection")
    return Cursor(tuple(_key_in(k) for k in keys), direction == "n")


async def keyset(
    db: Reader, select: str, from_where: str, params: Params, keys: tuple[str, ...],
    descending: bool, cursor: Cursor | None, limit: int, times: frozenset[str] = frozenset(),
) -> Page:
    """One page of `{select} FROM {from_where}` (ending in its WHERE clause) in the order
    of `keys` (unique together, matched by an index), starting at `cursor`. `select`
    names the columns the caller wants; the sort key is added after them. The keys named
    in `times` are timestamp columns: their cursors carry datetimes."""
    if not isinstance(params, dict):
        raise TypeError("keyset() takes named parameters")
    backward = cursor is not None and not cursor.forward
    # Reading backward (`prev`) walks the index the other way, then turns the page round.
    walk_descending = descending != backward
    order = ", ".join(f"{k} {'DESC' if walk_descending else 'ASC'}" for k in keys)
    sql = f"{select}, {', '.join(keys)} FROM {from_where}"
    values: dict[str, Any] = dict(params)
    if cursor is not None:
        marks = ", ".join(f":_k{i}" for i in range(len(keys)))
        sql += f" AND ({', '.join(keys)}) {'<' if walk_descending else '>'} ({marks})"
        values |= {f"_k{i}": key for i, key in enumerate(cursor.keys)}
    sql += f" ORDER BY {order} LIMIT {int(limit) + 1}"
    rows = await db.fetchall(sql, values)
    more = len(rows) > limit
    rows = rows[:limit]
    if backward:
        rows.reverse()
    width = len(keys)

    def key_of(row: Any) -> tuple[Any, ...]:
        values = tuple(row)[-width:]
        return tuple(at(v) if k in times else v for k, v in zip(keys, values, strict=True))

    first = key_of(rows[0]) if rows else None
    last = key_of(rows[-1]) if rows else None
    if backward:
        # Rows after the page exist: the cursor's own row at least.
        has_prev, has_next = more, True
    else:
        has_prev, has_next = cursor is not None, more
    return Page(
        rows=rows,
        next=Cursor(last, True) if has_next and last is not None else None,
        prev=Cursor(first, False) if has_prev and first is not None else None,
    )
