"""Every chapter the node knows, for /chapters: its own, and those on other nodes below
them as far as federation tells (an accepted subchapter of one of ours, or a chapter whose
items reached one of ours through such a subchapter), each with the chapter above it.

A fixed number of queries whatever the number of chapters: one over this node's chapters
(their accepted parent and their member count alongside), three over the remote ones
(their actor documents, the chapters of ours that accepted them, the subchapters that
passed their items on). The tree itself is drawn by the caller.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from federation.urls import MAX_URL_LENGTH
from storage.database import Reader
from storage.timestamps import at, from_wire

_SPACE = re.compile(r"\s")


@dataclass(frozen=True)
class KnownChapter:
    iri: str
    name: str
    level: str | None
    location: str | None
    founded: datetime | None
    parent_iri: str | None  # the chapter above it, as far as we know
    member_count: int | None  # None: not known (a remote chapter that does not say)
    handle: str | None  # a chapter of this node: its handle
    url: str | None  # a chapter elsewhere: its page on its own node (else its id)


async def local_chapters(db: Reader, local_prefix: str) -> list[KnownChapter]:
    """This node's chapters, with their accepted parent and how many members they have.
    `local_prefix` is the node's `Urls.actor("")`: a chapter's id is it and its handle."""
    rows = await db.fetchall(
        "SELECT a.handle, a.name, c.level, c.location, c.founded_at, p.parent_iri,"
        " s.total FROM actors a JOIN chapters c ON c.actor_id = a.id"
        " LEFT JOIN parents p ON p.chapter_id = a.id AND p.state = 'accepted'"
        " LEFT JOIN collection_sizes s ON s.actor_id = a.id AND s.name = 'members'"
        " ORDER BY a.id")
    return [KnownChapter(
        iri=local_prefix + row[0], name=row[1], level=row[2], location=row[3],
        founded=at(row[4]), parent_iri=row[5], member_count=int(row[6] or 0),
        handle=row[0], url=None) for row in rows]


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _count(document: dict[str, Any]) -> int | None:
    """The size of a `members` collection embedded in the document, when it says one."""
    members = document.get("members")
    total = members.get("totalItems") if isinstance(members, dict) else None
    return total if isinstance(total, int) and not isinstance(total, bool) and total >= 0 \
        else None


def _page(iri: str, document: dict[str, Any]) -> str:
    """Its page for people when the document names one on its own node, else its id."""
    url = document.get("url")
    if isinstance(url, list):
        url = url[0] if url else None
    if isinstance(url, dict):
        url = url.get("href")
    # Its id was checked when the document was fetched: a page under the same origin is
    # an http(s) URL of that node, at a string comparison's cost (federation.urls parses
    # every URL, ten times the rest of this for 5,000 chapters).
    origin = "/".join(iri.split("/", 3)[:3]) + "/"
    if isinstance(url, str) and origin.startswith(("https://", "http://")) \
            and url.startswith(origin) and len(url) <= MAX_URL_LENGTH \
            and not _SPACE.search(url):
        return url
    return iri


def _remote(iri: str, raw: str | None, accepted_by: str | None, via: str | None,
            local_prefix: str) -> KnownChapter:
    try:
        document: Any = json.loads(raw or "{}")
    except ValueError:
        document = {}
    if not isinstance(document, dict):
        document = {}
    location = document.get("location")
    if isinstance(location, list):
        location = location[0] if location else None
    # Its own word first (a Chapterhouse chapter names its `parent`), then what we saw: the
    # chapter of ours that accepted it, the subchapter that passed its items on.
    parent = _text(document.get("parent")) or (
        local_prefix + accepted_by if accepted_by else via)
    return KnownChapter(
        iri=iri,
        name=_text(document.get("name")) or _text(document.get("preferredUsername")) or iri,
        level=_text(document.get("level")),
        location=_text(location.get("name")) if isinstance(location, dict) else None,
        founded=from_wire(document.get("published")),
        parent_iri=parent, member_count=_count(document), handle=None,
        url=_page(iri, document))


async def remote_chapters(db: Reader, local_prefix: str) -> list[KnownChapter]:
    """Chapters on other nodes below ours (see the module's doc), what their cached actor
    documents say of them."""
    # Three set-wise reads: a subquery per chapter for who accepted it and who passed its
    # items on cost ten times the rest with 5,000 chapters (bench/chapter_tree.py).
    rows = await db.fetchall(
        "SELECT r.iri, r.document FROM remote_actors r WHERE r.type = 'Group' AND ("
        " EXISTS (SELECT 1 FROM subchapters s WHERE s.child_iri = r.iri"
        "  AND s.state = 'accepted')"
        " OR EXISTS (SELECT 1 FROM remote_objects o JOIN subchapters s"
        "  ON s.child_iri = o.via AND s.state = 'accepted'"
        "  WHERE o.attributed_to = r.iri AND o.via IS NOT NULL AND o.via <> r.iri))"
        " ORDER BY r.iri")
    accepted_by = {row[0]: row[1] for row in await db.fetchall(
        "SELECT s.child_iri, min(a.handle) FROM subchapters s"
        " JOIN actors a ON a.id = s.chapter_id WHERE s.state = 'accepted'"
        " GROUP BY s.child_iri")}
    passed_on_by = {row[0]: row[1] for row in await db.fetchall(
        "SELECT o.attributed_to, min(o.via) FROM remote_objects o JOIN subchapters s"
        " ON s.child_iri = o.via AND s.state = 'accepted'"
        " WHERE o.via IS NOT NULL AND o.via <> o.attributed_to GROUP BY o.attributed_to")}
    return [_remote(iri, document, accepted_by.get(iri), passed_on_by.get(iri), local_prefix)
            for iri, document in rows]


async def known_chapters(db: Reader, local_prefix: str) -> list[KnownChapter]:
    """This node's chapters, then those below them elsewhere."""
    return await local_chapters(db, local_prefix) + await remote_chapters(db, local_prefix)
