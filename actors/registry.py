"""Creating local actors, with the rules that hold for every chapter and member."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

from actors.handles import InvalidHandle, validate_handle
from actors.keys import generate_actor_keys
from chapterhouse.reasons import reason
from storage import actors as store
from storage.database import Database

LEVELS = ("local", "regional", "national", "international")
MAX_NAME = 200
MAX_SUMMARY = 5000
MAX_LOCATION = 200
# A chapter founded before this node existed keeps its own date; none is older than this.
EARLIEST_FOUNDING = date(1800, 1, 1)


class RegistryError(ValueError):
    """A request to create an actor that breaks a rule; the message says which."""


def _check_text(label: str, value: str, limit: int, required: bool = False) -> str:
    value = value.strip()
    if required and not value:
        raise RegistryError(f"{label} must not be empty")
    if len(value) > limit:
        raise RegistryError(f"{label} is longer than {limit} characters")
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise RegistryError(f"{label} contains control characters")
    return value


def _check_icon(icon_url: str | None) -> str | None:
    if icon_url is None:
        return None
    parts = urlsplit(icon_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RegistryError(f"icon {icon_url!r} must be an http(s) URL")
    return icon_url


async def _available_handle(db: Database, handle: str, node_hostname: str) -> str:
    try:
        validate_handle(handle)
    except InvalidHandle as exc:
        raise RegistryError(exc.args[0]) from None
    if handle == node_hostname:
        raise RegistryError(f"{handle!r} is the node's own name on this node")
    if await store.handle_exists(db, handle):
        raise RegistryError(f"{handle!r} is already taken on this node")
    return handle


async def ensure_node_actor(db: Database, node_name: str) -> bool:
    if await store.node_actor(db) is not None:
        return False
    keys = await asyncio.to_thread(generate_actor_keys)
    return await store.ensure_node_actor(db, node_name, keys)


async def create_chapter(
    db: Database, node_hostname: str, handle: str, name: str, level: str,
    location: str | None = None, summary: str = "", icon_url: str | None = None,
    manually_approves: bool = False,
) -> int:
    handle = await _available_handle(db, handle, node_hostname)
    if level not in LEVELS:
        raise RegistryError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    name = _check_text("name", name, MAX_NAME, required=True)
    summary = _check_text("summary", summary, MAX_SUMMARY)
    location = _check_text("location", location, MAX_LOCATION) or None if location else None
    keys = await asyncio.to_thread(generate_actor_keys)
    try:
        return await store.create_chapter(
            db, handle, name, level, location, summary, _check_icon(icon_url), keys,
            manually_approves,
        )
    except store.HandleTaken:
        raise RegistryError(f"{handle!r} is already taken on this node") from None


async def add_member(
    db: Database, node_hostname: str, handle: str, chapter: str,
    name: str | None = None, icon_url: str | None = None,
) -> int:
    handle = await _available_handle(db, handle, node_hostname)
    name = _check_text("name", name if name is not None else handle, MAX_NAME, required=True)
    icon_url = _check_icon(icon_url)
    keys = await asyncio.to_thread(generate_actor_keys)
    try:
        actor_id = await store.create_member(db, handle, name, chapter, icon_url, keys)
    except store.HandleTaken:
        raise RegistryError(f"{handle!r} is already taken on this node") from None
    if actor_id is None:
        raise RegistryError(f"there is no chapter {chapter!r} on this node")
    return actor_id


def founding_day(text: str, today: date | None = None) -> datetime:
    """Midnight UTC of the day a chapter was founded, given as YYYY-MM-DD (the form's date
    field and the CLI's --founded); RegistryError with a one-line reason otherwise."""
    today = today or datetime.now(UTC).date()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = None
    if day is None or len(text) != 10:
        raise RegistryError(reason("founded.format", "enter the day the chapter was founded,"
                                   " such as 2019-03-08"))
    if day > today:
        raise RegistryError(reason("founded.future",
                                   "the founding date cannot be in the future"))
    if day < EARLIEST_FOUNDING:
        raise RegistryError(reason("founded.early",
                                   "the founding date cannot be before %(year)s",
                                   year=str(EARLIEST_FOUNDING.year)))
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
