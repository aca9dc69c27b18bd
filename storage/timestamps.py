"""Time as the store keeps it: aware UTC datetimes in Python, one type per engine on disk.

SQLite has no time type, so every timestamp column holds ISO 8601 text in one fixed form,
`YYYY-MM-DDTHH:MM:SS.ffffffZ`, which sorts as the times do and compares with `<`; on
PostgreSQL every timestamp column is `timestamptz`. Storage functions take and return
`datetime` values and leave the text form to the SQLite engine.
"""

from __future__ import annotations

from datetime import UTC, datetime

TEXT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def now() -> datetime:
    return datetime.now(UTC)


def utcnow() -> datetime:
    """The current time, for a row's timestamp (the same as `now()`)."""
    return datetime.now(UTC)


def to_text(value: datetime) -> str:
    """The one text form SQLite keeps (a naive datetime is refused: its zone is unknown)."""
    if value.tzinfo is None:
        raise ValueError("a timestamp must carry its time zone")
    return value.astimezone(UTC).strftime(TEXT_FORMAT)


def parse(value: str | datetime | float | None) -> datetime | None:
    """A stored timestamp (text, a datetime from PostgreSQL, or unix seconds) as an aware
    UTC datetime; None stays None. Text without a zone is taken as UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    else:
        moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def at(value: str | datetime | float | None) -> datetime:
    """`parse` for a column that is never NULL."""
    moment = parse(value)
    if moment is None:
        raise ValueError("a timestamp was expected, found NULL")
    return moment


def iso(value: datetime | None) -> str | None:
    """The ActivityPub form (`2026-11-29T17:47:49Z`): whole seconds, UTC, as Mastodon
    writes it."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_wire(value: object) -> datetime | None:
    """A timestamp from a remote document (`published`, `updated`) or None when it is not
    one: remote servers write many forms, and a bad one is not worth refusing an object."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        moment = parse(value.replace("z", "Z"))
    except (ValueError, OverflowError):  # overflow: year 1 or 9999 moved to UTC
        return None
    # Years before 1000 have no four-digit text form for SQLite to sort and read back.
    return moment if moment is not None and moment.year >= 1000 else None
