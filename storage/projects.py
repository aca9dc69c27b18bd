"""Projects: items of kind 'project' (storage/items.py keeps them, with their status and
who started them) and who takes part in them (event_participants, under each
participant's actor IRI, as for events): the lists pages and the home page show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from storage.database import Reader, Row
from storage.search_text import MARKDOWN, search_text
from storage.timestamps import at

SUMMARY = 240  # characters of the description a list shows when there is no summary


@dataclass(frozen=True)
class Participant:
    """Someone taking part: a local member or a remote actor (its name and address as
    this node knows them, None when it never fetched the actor)."""

    iri: str
    name: str | None
    username: str | None
    host: str | None


@dataclass(frozen=True)
class ProjectSummary:
    """A project as a list shows it (the home page's "newest projects")."""

    url: str  # its id, which is also its page
    path: str  # the same, on this node
    title: str
    summary: str  # plain text: the starter's summary, or the description's start
    status: str  # proposed, active or finished
    chapter: str  # the chapter's handle
    chapter_name: str
    participants: int
    published: datetime


async def participants(db: Reader, item_id: int, limit: int = 500) -> list[Participant]:
    """Who takes part, in the order they joined."""
    rows = await db.fetchall(
        "SELECT p.participant, r.name, r.username, r.host FROM event_participants p"
        " LEFT JOIN remote_actors r ON r.iri = p.participant"
        " WHERE p.item_id = ? ORDER BY p.id LIMIT ?", (item_id, limit))
    return [Participant(iri=row[0], name=row[1], username=row[2], host=row[3])
            for row in rows]


async def known_actors(db: Reader, iris: list[str]) -> dict[str, Participant]:
    """What this node knows of these remote actors (those it fetched), by id: a project
    of another node names who takes part by id only."""
    if not iris:
        return {}
    marks = ",".join("?" * len(iris))
    rows = await db.fetchall(
        f"SELECT iri, name, username, host FROM remote_actors WHERE iri IN ({marks})",
        tuple(iris))
    return {row[0]: Participant(iri=row[0], name=row[1], username=row[2], host=row[3])
            for row in rows}


async def members_who_joined(db: Reader, object_iri: str) -> set[str]:
    """The handles of this node's members whose Join of another node's project or event
    was sent from here and not refused: what this node itself vouches for."""
    rows = await db.fetchall(
        "SELECT m.handle FROM member_event_joins j JOIN actors m ON m.id = j.member_id"
        " WHERE j.event_iri = ? AND j.state <> 'refused'", (object_iri,))
    return {str(row[0]) for row in rows}


async def participant_iris(db: Reader, item_id: int, limit: int) -> list[str]:
    rows = await db.fetchall(
        "SELECT participant FROM event_participants WHERE item_id = ? ORDER BY id LIMIT ?",
        (item_id, limit))
    return [str(row[0]) for row in rows]


def _summary(row: Row) -> str:
    if row["summary"]:
        return str(row["summary"])
    text = search_text(row["body"], MARKDOWN)
    return text if len(text) <= SUMMARY else text[:SUMMARY].rsplit(" ", 1)[0] + "…"


async def newest_projects(db: Reader, chapter_id: int | None, limit: int
                          ) -> list[ProjectSummary]:
    """The newest projects of a chapter of this node, or of all of them (None), with how
    many take part in each. Projects of other nodes are not listed: only what a chapter
    here started."""
    where = "i.kind = 'project' AND i.deleted_at IS NULL"
    params: list[object] = []
    if chapter_id is not None:
        where += " AND i.actor_id = ?"
        params.append(chapter_id)
    rows = await db.fetchall(
        "SELECT i.object_iri, i.title, i.summary, i.body, i.project_status, i.published,"
        " a.handle, a.name,"
        " (SELECT count(*) FROM event_participants p WHERE p.item_id = i.id) AS taking_part"
        f" FROM items i JOIN actors a ON a.id = i.actor_id WHERE {where}"
        " ORDER BY i.published DESC, i.id DESC LIMIT ?", (*params, limit))
    return [ProjectSummary(
        url=row["object_iri"], path=urlsplit(row["object_iri"]).path, title=row["title"],
        summary=_summary(row), status=row["project_status"] or "proposed",
        chapter=row["handle"], chapter_name=row["name"],
        participants=int(row["taking_part"]), published=at(row["published"]))
        for row in rows]
