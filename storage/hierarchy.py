"""Queries about the chapter hierarchy: parents (child's side) and subchapters (parent's side)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from storage.database import Conflict, Reader, Row, Tx, utcnow
from storage.timestamps import at, from_wire, parse

# What sorts below every time: a chapter or minutes that say no date come last.
_NEVER = datetime.min.replace(tzinfo=UTC)


class AlreadyAffiliated(Exception):
    """The chapter already has a parent, or a request pending."""


@dataclass(frozen=True)
class Parent:
    parent_iri: str
    state: str
    join_iri: str


@dataclass(frozen=True)
class ChapterRef:
    """A chapter known from what federated: its id, and what its actor document says."""

    iri: str
    name: str
    level: str | None
    location: str | None
    founded: datetime | None
    state: str | None = None


@dataclass(frozen=True)
class JoinRequest:
    """A chapter that asked to join one of ours."""

    child_iri: str
    state: str
    since: datetime


@dataclass(frozen=True)
class Minutes:
    """Minutes that reached a chapter from below, as its page lists them."""

    iri: str
    name: str
    summary: str
    meeting_date: str | None  # YYYY-MM-DD, as the minutes say
    chapter_name: str  # who wrote them
    via_name: str | None  # the chapter that passed them on, when not the author


async def request_parent(
    tx: Tx, chapter_id: int, parent_iri: str, join_iri: str
) -> None:
    try:
        await tx.execute(
            "INSERT INTO parents (chapter_id, parent_iri, state, join_iri, created_at)"
            " VALUES (?, ?, 'requested', ?, ?)",
            (chapter_id, parent_iri, join_iri, utcnow()))
    except Conflict:
        raise AlreadyAffiliated(chapter_id) from None


async def parent_of(db: Reader, chapter_id: int) -> Parent | None:
    row = await db.fetchone(
        "SELECT parent_iri, state, join_iri FROM parents WHERE chapter_id = ?", (chapter_id,))
    return None if row is None else Parent(*row)


async def answer_from_parent(
    tx: Tx, parent_iri: str, join_iri: str | None, accepted: bool
) -> int | None:
    """The child's side of an Accept or Reject of its Join: the local chapter it concerns."""
    where = "parent_iri = ? AND state = 'requested'"
    params: tuple[Any, ...] = (parent_iri,)
    if join_iri:
        where += " AND join_iri = ?"
        params += (join_iri,)
    found = await tx.fetchvalue(f"SELECT chapter_id FROM parents WHERE {where}", params)
    if found is None:
        return None
    chapter_id = int(found)
    if accepted:
        await tx.execute("UPDATE parents SET state = 'accepted' WHERE chapter_id = ?",
                         (chapter_id,))
    else:
        await tx.execute("DELETE FROM parents WHERE chapter_id = ?", (chapter_id,))
    return chapter_id


async def drop_parent(tx: Tx, chapter_id: int) -> None:
    await tx.execute("DELETE FROM parents WHERE chapter_id = ?", (chapter_id,))


async def children_of_remote_parent(tx: Tx, parent_iri: str) -> list[int]:
    """Local chapters whose accepted parent is this chapter (remote, or of this node)."""
    rows = await tx.fetchall(
        "SELECT chapter_id FROM parents WHERE parent_iri = ? AND state = 'accepted'",
        (parent_iri,))
    return [int(r[0]) for r in rows]


async def add_request(
    tx: Tx, chapter_id: int, child_iri: str, join_iri: str, state: str
) -> str:
    """Record a chapter's Join; returns the state it is in (an accepted child stays so)."""
    now = utcnow()
    found = await tx.fetchvalue(
        "INSERT INTO subchapters (chapter_id, child_iri, state, join_iri, created_at,"
        " decided_at) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (chapter_id, child_iri) DO UPDATE SET join_iri = excluded.join_iri,"
        " state = CASE WHEN subchapters.state = 'accepted' THEN 'accepted'"
        " ELSE excluded.state END,"
        # A request accepted now is decided now; one accepted before keeps its moment (the
        # subchapters collection is paged by it).
        " decided_at = CASE WHEN subchapters.state = 'accepted' THEN subchapters.decided_at"
        " ELSE excluded.decided_at END RETURNING state",
        (chapter_id, child_iri, state, join_iri, now, None if state == "requested" else now))
    return str(found)


async def requests(db: Reader, chapter_id: int) -> list[JoinRequest]:
    """Every chapter that asked to join, newest first."""
    rows = await db.fetchall(
        "SELECT child_iri, state, created_at FROM subchapters WHERE chapter_id = ?"
        " ORDER BY id DESC", (chapter_id,))
    return [JoinRequest(r[0], r[1], at(r[2])) for r in rows]


async def decide(
    tx: Tx, chapter_id: int, child_iri: str, accept: bool
) -> str | None:
    """An organiser's answer; the Join's id, or None if there was no pending request."""
    join_iri = await tx.fetchvalue(
        "SELECT join_iri FROM subchapters WHERE chapter_id = ? AND child_iri = ?"
        " AND state = 'requested'", (chapter_id, child_iri))
    if join_iri is None:
        return None
    await tx.execute(
        "UPDATE subchapters SET state = ?, decided_at = ? WHERE chapter_id = ? AND child_iri = ?",
        ("accepted" if accept else "rejected", utcnow(), chapter_id, child_iri))
    return str(join_iri)


async def remove_child(tx: Tx, chapter_id: int, child_iri: str) -> bool:
    changed = await tx.execute(
        "DELETE FROM subchapters WHERE chapter_id = ? AND child_iri = ?", (chapter_id, child_iri))
    return changed == 1


async def parents_of_child(tx: Tx, child_iri: str) -> list[int]:
    """Local chapters that accepted this chapter as a subchapter."""
    rows = await tx.fetchall(
        "SELECT chapter_id FROM subchapters WHERE child_iri = ? AND state = 'accepted'",
        (child_iri,))
    return [int(r[0]) for r in rows]


def _ref(iri: str, document: str | None, state: str | None = None) -> ChapterRef:
    doc: dict[str, Any] = json.loads(document) if document else {}
    location = doc.get("location")
    return ChapterRef(
        iri=iri,
        name=str(doc.get("name") or doc.get("preferredUsername") or iri),
        level=doc.get("level") if isinstance(doc.get("level"), str) else None,
        location=location.get("name") if isinstance(location, dict) else None,
        founded=from_wire(doc.get("published")),
        state=state,
    )


async def subchapter_refs(db: Reader, chapter_id: int) -> list[ChapterRef]:
    rows = await db.fetchall(
        "SELECT s.child_iri, r.document FROM subchapters s"
        " LEFT JOIN remote_actors r ON r.iri = s.child_iri"
        " WHERE s.chapter_id = ? AND s.state = 'accepted' ORDER BY s.decided_at DESC, s.id DESC",
        (chapter_id,))
    return [_ref(r[0], r[1]) for r in rows]


# A chapter of this node, described by its own rows. Its id is the node's prefix (its
# `Urls.actor("")`) and its handle: ids are stored whole, handles are what we have.
_LOCAL_CHAPTER = (
    "SELECT a.handle, a.name, c.level, c.location, c.founded_at"
    " FROM actors a JOIN chapters c ON c.actor_id = a.id")


def _local_ref(prefix: str, row: Row) -> ChapterRef:
    return ChapterRef(iri=prefix + row[0], name=row[1], level=row[2], location=row[3],
                      founded=at(row[4]))


async def chapter_ref(db: Reader, iri: str, local_prefix: str | None = None) -> ChapterRef:
    """What we know of a chapter: its cached actor document, or with `local_prefix`, the
    rows of a chapter of this node."""
    document = await db.fetchvalue("SELECT document FROM remote_actors WHERE iri = ?", (iri,))
    if document is None and local_prefix and iri.startswith(local_prefix):
        row = await db.fetchone(f"{_LOCAL_CHAPTER} WHERE a.handle = ?",
                                (iri.removeprefix(local_prefix).lower(),))
        if row is not None:
            return _local_ref(local_prefix, row)
    return _ref(iri, document)


async def subtree_chapters(
    db: Reader, chapter_id: int, limit: int = 10, local_prefix: str | None = None
) -> list[ChapterRef]:
    """Chapters below this one, as far as what federated tells: its accepted subchapters and
    the chapters whose items reached it through them; with `local_prefix`, also those of
    this node. Newest founded first."""
    # From the (few) remote chapters we know rather than from everything that reached
    # this one: each is checked by index for an accepted Join or for something it passed
    # on to this chapter.
    rows = await db.fetchall(
        "SELECT r.iri, r.document FROM remote_actors r WHERE r.type = 'Group' AND ("
        " EXISTS (SELECT 1 FROM subchapters s WHERE s.chapter_id = :c AND s.child_iri = r.iri"
        "  AND s.state = 'accepted')"
        " OR EXISTS (SELECT 1 FROM remote_objects o JOIN remote_object_audience a"
        "  ON a.object_id = o.id AND a.actor_id = :c"
        # Through a subchapter: what the parent (or anyone followed) sent or passed down
        # arrives with a `via` too, and its author is no chapter below this one.
        "  JOIN subchapters v ON v.chapter_id = :c AND v.child_iri = o.via"
        "  AND v.state = 'accepted'"
        "  WHERE o.attributed_to = r.iri))"
        # One order on both engines for chapters founded at the same moment (or never said).
        " ORDER BY r.iri",
        {"c": chapter_id})
    refs = [_ref(r[0], r[1]) for r in rows]
    if local_prefix:
        # From this chapter's subchapters and what passed up to it, not from every actor.
        # The prefix's length is given, not computed: PostgreSQL cannot tell which
        # length() a bare parameter is for.
        local = await db.fetchall(
            f"{_LOCAL_CHAPTER} WHERE a.id IN ("
            " SELECT b.id FROM subchapters s JOIN actors b"
            "  ON b.handle = substr(s.child_iri, :start)"
            "  WHERE s.chapter_id = :c AND s.state = 'accepted'"
            "  AND substr(s.child_iri, 1, :width) = :prefix"
            " UNION SELECT o.actor_id FROM passed_up p"
            "  JOIN objects o ON o.iri = p.object_iri WHERE p.chapter_id = :c)"
            " ORDER BY c.founded_at DESC, a.id DESC LIMIT :limit",
            {"c": chapter_id, "prefix": local_prefix, "start": len(local_prefix) + 1,
             "width": len(local_prefix), "limit": limit})
        refs += [_local_ref(local_prefix, row) for row in local]
    refs.sort(key=lambda ref: ref.founded or _NEVER, reverse=True)
    return refs[:limit]


async def level_of_local(tx: Tx, chapter_id: int) -> str | None:
    level = await tx.fetchvalue("SELECT level FROM chapters WHERE actor_id = ?", (chapter_id,))
    return None if level is None else str(level)


async def remote_ref_tx(tx: Tx, iri: str) -> ChapterRef:
    document = await tx.fetchvalue("SELECT document FROM remote_actors WHERE iri = ?", (iri,))
    return _ref(iri, document)


async def subtree_minutes(db: Reader, chapter_id: int, limit: int = 10) -> list[Minutes]:
    """Minutes that reached this chapter from chapters below it, newest first, with who
    wrote them and which chapter passed them on."""
    # `via` is the chapter that sent the object to this node; a chapter of this node that
    # passed it on to this one (passed_up) is nearer.
    rows = await db.fetchall(
        "SELECT o.iri, o.document, o.published, author.document AS author_doc,"
        " via.document AS via_doc, o.via, here.name AS passed_by FROM remote_objects o"
        # CROSS JOIN keeps remote_objects outer on SQLite: newest minutes first by their
        # index, each checked against the audience, stopping at `limit`, rather than
        # reading all that ever reached the chapter and sorting it. (Its condition is in
        # the WHERE clause: PostgreSQL takes no ON after CROSS JOIN.)
        " CROSS JOIN remote_object_audience a"
        " LEFT JOIN remote_actors author ON author.iri = o.attributed_to"
        " LEFT JOIN remote_actors via ON via.iri = o.via"
        " LEFT JOIN passed_up p ON p.chapter_id = a.actor_id AND p.object_iri = o.iri"
        " LEFT JOIN actors here ON here.id = p.via_id"
        " WHERE a.object_id = o.id AND a.actor_id = ? AND o.deleted_at IS NULL"
        " AND o.type = 'Article' AND o.meeting_date IS NOT NULL"
        " ORDER BY o.published DESC NULLS LAST, o.id DESC LIMIT ?",
        (chapter_id, limit))
    minutes: list[tuple[datetime, Minutes]] = []
    for row in rows:
        document = json.loads(row["document"])
        author = _ref("", row["author_doc"])
        via = _ref(row["via"] or "", row["via_doc"]) if row["via_doc"] else None
        minutes.append((parse(row["published"]) or _NEVER, _minutes_view(
            row["iri"], document, author.name, row["passed_by"] or (
                via.name if via and via.iri != document.get("attributedTo") else None))))
    # Minutes of this node's chapters that climbed to this one (no inbox in between): read
    # from the item itself, so an edit or a deletion shows at once.
    rows = await db.fetchall(
        "SELECT o.iri, o.document, o.published, author.name AS author_name,"
        " via.name AS via_name, o.actor_id = p.via_id AS direct FROM passed_up p"
        " JOIN objects o ON o.iri = p.object_iri JOIN actors author ON author.id = o.actor_id"
        " JOIN actors via ON via.id = p.via_id JOIN items i ON i.object_iri = o.iri"
        " WHERE p.chapter_id = ? AND o.deleted_at IS NULL AND o.type = 'Article'"
        " AND i.meeting_date IS NOT NULL"
        " ORDER BY o.published DESC, o.id DESC LIMIT ?",
        (chapter_id, limit))
    for row in rows:
        minutes.append((at(row["published"]), _minutes_view(
            row["iri"], json.loads(row["document"]), row["author_name"],
            None if row["direct"] else row["via_name"])))
    minutes.sort(key=lambda found: found[0], reverse=True)  # stable: each part is in order
    return [view for _, view in minutes[:limit]]


def _minutes_view(
    iri: str, document: dict[str, Any], chapter_name: str, via_name: str | None
) -> Minutes:
    meeting_date = document.get("meetingDate")
    return Minutes(
        iri=iri,
        name=str(document.get("name") or iri),
        summary=str(document.get("summary") or ""),
        meeting_date=meeting_date if isinstance(meeting_date, str) else None,
        chapter_name=chapter_name,
        via_name=via_name,
    )


async def accepted_parent(
    tx: Tx, chapter_id: int
) -> tuple[str, str | None] | None:
    """(id, inbox) of a local chapter's accepted parent; the inbox is None when no actor
    of that id is cached (a chapter of this node, or one we never fetched)."""
    row = await tx.fetchone(
        "SELECT p.parent_iri, r.inbox FROM parents p"
        " LEFT JOIN remote_actors r ON r.iri = p.parent_iri"
        " WHERE p.chapter_id = ? AND p.state = 'accepted'", (chapter_id,))
    return None if row is None else (row[0], row[1])


async def reached(
    tx: Tx, object_iri: str, chapter_id: int, via_id: int
) -> None:
    """An object climbed to a chapter of this node from `via_id`, another one: it is now
    among what reached that chapter from below, and a remote object is in the chapter's
    audience, as if it had come to its inbox. Nothing for what is not stored (a Delete
    passed on): there is nothing to show."""
    await tx.execute(
        "INSERT INTO passed_up (chapter_id, object_iri, via_id, created_at)"
        " SELECT :chapter, :iri, :via, :now"
        " WHERE EXISTS (SELECT 1 FROM objects WHERE iri = :iri)"
        " OR EXISTS (SELECT 1 FROM remote_objects WHERE iri = :iri)"
        " ON CONFLICT DO NOTHING",
        {"iri": object_iri, "chapter": chapter_id, "via": via_id, "now": utcnow()})
    await tx.execute(
        "INSERT INTO remote_object_audience (object_id, actor_id)"
        " SELECT id, :chapter FROM remote_objects WHERE iri = :iri ON CONFLICT DO NOTHING",
        {"iri": object_iri, "chapter": chapter_id})


async def parents_of(db: Reader, chapter_id: int) -> list[str]:
    """The accepted parent of a local chapter, as a list (none, or one)."""
    rows = await db.fetchall(
        "SELECT parent_iri FROM parents WHERE chapter_id = ? AND state = 'accepted'",
        (chapter_id,))
    return [str(r[0]) for r in rows]
