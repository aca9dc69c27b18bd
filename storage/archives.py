"""Archives: each section of the node and of a chapter, newest first, a page at a time.

Pages are cut by a cursor on (published, id) (storage/paging.py), never by an offset: a
page deep in ten years of news reads one page of the index. Minutes merge sources: the
node's own, those of this node's subchapters that climbed to a chapter (passed_up), and
those relayed from remote subchapters (remote_objects in a chapter's audience). Each
source is read from its own index from the cursor on, a page (and one row) at most, and
the page is the newest of those together; the cursor it ends at is valid for all of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from markdown_it import MarkdownIt

from storage.database import Database, Params, Reader, Row
from storage.paging import BadCursor, Cursor, decode, encode
from storage.search_text import search_text
from storage.timestamps import at, parse

PAGE = 20
SUMMARY = 240  # characters of the text a list shows when the author wrote no summary
# The sections an archive lists, by the kind of item.
KINDS = ("news", "blog", "minutes", "poll", "event", "project")
_END_OF_TIME = datetime(9999, 12, 31, tzinfo=UTC)


@dataclass(frozen=True)
class ArchiveEntry:
    link: str  # a local item's id (its page), or this node's page of a remote object
    kind: str
    title: str
    summary: str  # plain text
    published: datetime
    by_name: str  # the chapter (or member) that published it
    by_link: str | None
    local: bool
    meeting_date: str | None = None
    via_name: str | None = None  # the chapter that passed minutes on, when not the author
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    timezone: str | None = None
    place_name: str | None = None
    project_status: str | None = None  # a project's: proposed, active or finished


@dataclass(frozen=True)
class ArchivePage:
    entries: list[ArchiveEntry]
    next: str | None  # cursor of the older page
    prev: str | None  # cursor of the newer page


def cursor_of(token: str | None) -> Cursor | None:
    """A cursor given in a link; BadCursor for anything this module did not make."""
    if token is None:
        return None
    cursor = decode(token, 2)
    if not isinstance(cursor.keys[0], datetime) or not isinstance(cursor.keys[1], str):
        raise BadCursor("not a cursor of this archive")
    return cursor


@dataclass(frozen=True)
class _Source:
    select: str
    from_where: str  # ends in its WHERE clause
    params: dict[str, Any]
    keys: tuple[str, str]  # (time, id), unique together, in an index
    entry: Callable[[Row], ArchiveEntry]


_markdown = MarkdownIt("commonmark", {"html": False})
# Blocks end in a space between words; inline markup (links, emphasis) leaves none.
_BLOCK_END = re.compile(r"</(?:p|h[1-6]|li|blockquote|pre|td|th)>|<br\s*/?>|<hr\s*/?>")
_INLINE_TAG = re.compile(r"<[^>]*>")


def _summary(summary: str | None, text: str | None, is_html: bool) -> str:
    if summary:
        return search_text(summary, is_html)
    if text and not is_html:
        # A local item's body is Markdown: its words, not its `**` and `##`. The start is
        # enough for a summary, and bounds the work a page of twenty costs.
        rendered = _BLOCK_END.sub(" ", _markdown.render(text[:4 * SUMMARY]))
        text, is_html = _INLINE_TAG.sub("", rendered), True
    plain = search_text(text, is_html)
    return plain if len(plain) <= SUMMARY else plain[:SUMMARY].rsplit(" ", 1)[0] + "…"


_ITEM = ("SELECT i.object_iri, i.kind, i.title, i.summary, i.body, i.meeting_date,"
         " i.starts_at, i.ends_at, i.timezone, i.place_name, i.project_status,"
         " i.published AS at,"
         " a.name AS by_name, a.handle AS by_handle")


def _item_entry(row: Row) -> ArchiveEntry:
    return ArchiveEntry(
        link=row["object_iri"], kind=row["kind"], title=row["title"],
        summary=_summary(row["summary"], row["body"], False), published=at(row["at"]),
        by_name=row["by_name"], by_link=f"/@{row['by_handle']}", local=True,
        meeting_date=row["meeting_date"], starts_at=parse(row["starts_at"]),
        ends_at=parse(row["ends_at"]), timezone=row["timezone"], place_name=row["place_name"],
        project_status=row["project_status"])


def _passed_up_entry(row: Row) -> ArchiveEntry:
    entry = _item_entry(row)
    via = row["via_name"] if row["via_name"] != entry.by_name else None
    return replace(entry, via_name=via)


def _remote_entry(row: Row) -> ArchiveEntry:
    document: dict[str, Any] = json.loads(row["document"])
    author = row["author_name"] or row["author_username"] or row["attributed_to"]
    via = row["via_name"] if row["via"] and row["via"] != row["attributed_to"] else None
    meeting_date = document.get("meetingDate")
    return ArchiveEntry(
        link=f"/remote/{row['id']}", kind="minutes",
        title=str(document.get("name") or row["iri"]),
        summary=_summary(row["summary"], row["content"], True), published=at(row["at"]),
        by_name=str(author), by_link=row["attributed_to"], local=False,
        meeting_date=meeting_date if isinstance(meeting_date, str) else None, via_name=via)


def _local_items(kind: str, chapter_id: int | None) -> _Source:
    if kind not in KINDS:
        raise ValueError(kind)
    # The kind is written in, not bound: the partial indexes match on the statement's text.
    where = f"i.kind = '{kind}' AND i.deleted_at IS NULL"
    params: dict[str, Any] = {}
    if chapter_id is not None:
        where += " AND i.actor_id = :chapter"
        params["chapter"] = chapter_id
    return _Source(_ITEM, f"items i JOIN actors a ON a.id = i.actor_id WHERE {where}", params,
                   ("i.published", "i.object_iri"), _item_entry)


def _climbed_minutes(chapter_id: int) -> _Source:
    # Minutes of this node's chapters that climbed to this one (no inbox in between).
    return _Source(
        f"{_ITEM}, via.name AS via_name",
        "passed_up p JOIN items i ON i.object_iri = p.object_iri"
        " JOIN actors a ON a.id = i.actor_id JOIN actors via ON via.id = p.via_id"
        " WHERE p.chapter_id = :chapter AND i.kind = 'minutes' AND i.deleted_at IS NULL",
        {"chapter": chapter_id}, ("i.published", "i.object_iri"), _passed_up_entry)


def _relayed_minutes(chapter_id: int | None) -> _Source:
    # Walks the minutes newest first by their index, each checked against the audience
    # (its primary key), as the chapter page's "Minutes from our chapters" does.
    if chapter_id is None:
        audience = ("EXISTS (SELECT 1 FROM remote_object_audience au JOIN actors c"
                    " ON c.id = au.actor_id WHERE au.object_id = o.id AND c.kind = 'chapter')")
        params: dict[str, Any] = {}
    else:
        audience = ("EXISTS (SELECT 1 FROM remote_object_audience au"
                    " WHERE au.object_id = o.id AND au.actor_id = :chapter)")
        params = {"chapter": chapter_id}
    return _Source(
        "SELECT o.id, o.iri, o.document, o.summary, o.content, o.attributed_to, o.via,"
        " o.published AS at, author.name AS author_name, author.username AS author_username,"
        " via.name AS via_name",
        "remote_objects o LEFT JOIN remote_actors author ON author.iri = o.attributed_to"
        " LEFT JOIN remote_actors via ON via.iri = o.via"
        " WHERE o.deleted_at IS NULL AND o.type = 'Article' AND o.meeting_date IS NOT NULL"
        f" AND o.published IS NOT NULL AND {audience}",
        params, ("o.published", "o.iri"), _remote_entry)


def _statement(source: _Source, cursor: Cursor | None, limit: int) -> tuple[str, Params]:
    backward = cursor is not None and not cursor.forward
    order = "ASC" if backward else "DESC"
    time_key, id_key = source.keys
    sql = f"{source.select}, {time_key}, {id_key} FROM {source.from_where}"
    values = dict(source.params)
    # The first page starts after a moment later than any: given a range, SQLite walks the
    # index from its end; without one, it may choose to read and sort every row instead
    # (seen for relayed minutes once they are most of the remote objects).
    cursor = cursor or Cursor((_END_OF_TIME, ""), True)
    sql += f" AND ({time_key}, {id_key}) {'>' if backward else '<'} (:_k0, :_k1)"
    values |= {"_k0": cursor.keys[0], "_k1": cursor.keys[1]}
    sql += f" ORDER BY {time_key} {order}, {id_key} {order} LIMIT {int(limit) + 1}"
    return sql, values


async def _merged(db: Reader, sources: list[_Source], cursor: Cursor | None,
                  limit: int) -> ArchivePage:
    # Newest first; a `prev` cursor walks the other way and the page is turned round.
    backward = cursor is not None and not cursor.forward
    found: list[tuple[tuple[datetime, str], ArchiveEntry]] = []
    for source in sources:
        sql, values = _statement(source, cursor, limit)
        for row in await db.fetchall(sql, values):
            found.append(((at(row[-2]), str(row[-1])), source.entry(row)))
    found.sort(key=lambda pair: pair[0], reverse=not backward)
    more = len(found) > limit
    page = found[:limit]
    if backward:
        page.reverse()
    if not page:
        return ArchivePage([], None, None)
    newest, oldest = page[0][0], page[-1][0]
    if backward:
        has_newer, has_older = more, True
    else:
        has_newer, has_older = cursor is not None, more
    return ArchivePage(
        [entry for _, entry in page],
        encode(Cursor(oldest, True)) if has_older else None,
        encode(Cursor(newest, False)) if has_newer else None)


async def section(db: Reader, kind: str, chapter_id: int | None = None,
                  cursor: Cursor | None = None, limit: int = PAGE) -> ArchivePage:
    """A section (news, blog, minutes, poll) of the node (`chapter_id` None) or of a
    chapter, newest first. Minutes include those relayed from subchapters."""
    if kind == "event":
        raise ValueError("events are listed by past_events()")
    return await _merged(db, _sources(kind, chapter_id, datetime.now(UTC)), cursor, limit)


async def past_events(db: Reader, now: datetime, chapter_id: int | None = None,
                      cursor: Cursor | None = None, limit: int = PAGE) -> ArchivePage:
    """Events that have ended by `now` (or started, when they say no end), the latest
    start first."""
    return await _merged(db, _sources("event", chapter_id, now), cursor, limit)


def _sources(kind: str, chapter_id: int | None, now: datetime) -> list[_Source]:
    if kind == "event":
        source = _local_items("event", chapter_id)
        return [_Source(
            source.select, source.from_where + " AND COALESCE(i.ends_at, i.starts_at) < :now",
            source.params | {"now": now}, ("i.starts_at", "i.object_iri"), _item_entry)]
    sources = [_local_items(kind, chapter_id)]
    if kind == "minutes":
        if chapter_id is not None:
            sources.append(_climbed_minutes(chapter_id))
        sources.append(_relayed_minutes(chapter_id))
    return sources


async def query_plans(db: Database, kind: str, chapter_id: int | None, now: datetime,
                      cursor: Cursor | None) -> list[str]:
    """How the engine reads each source of a page (EXPLAIN), for checks and benchmarks
    that the archives read a page from an index and sort no section whole."""
    plans = []
    for source in _sources(kind, chapter_id, now):
        sql, values = _statement(source, cursor, PAGE)
        prefix = "EXPLAIN" if db.engine == "postgresql" else "EXPLAIN QUERY PLAN"
        rows = await db.fetchall(f"{prefix} {sql}", values)
        plans.append("\n".join(str(row[-1]) for row in rows))
    return plans
