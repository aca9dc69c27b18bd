"""Chapters on other nodes known to be below this node's: where /join also looks.

A chapter elsewhere is below ours when it is an accepted subchapter of one of our
chapters, or when what it wrote reached one of ours passed up through such a subchapter
(a grandchild). What we know of it is its actor document as last fetched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from storage.database import Reader

# Remote chapters read at most for one search: a node knows tens, not thousands.
SCANNED = 1000


@dataclass(frozen=True)
class RemoteChapter:
    iri: str
    username: str | None  # preferredUsername: the slug on its own node
    name: str
    level: str | None  # set by Chapterhouse nodes
    location: str | None
    url: str | None  # its page for people, as its document says
    below: str | None  # the name of our chapter it is a subchapter of (direct children)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _chapter(iri: str, document: str, below: str | None) -> RemoteChapter:
    try:
        doc: Any = json.loads(document)
    except ValueError:
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    location = doc.get("location")
    username = _text(doc.get("preferredUsername"))
    return RemoteChapter(
        iri=iri, username=username, name=_text(doc.get("name")) or username or iri,
        level=_text(doc.get("level")),
        location=_text(location.get("name")) if isinstance(location, dict) else None,
        url=_text(doc.get("url")), below=below)


def _matches(chapter: RemoteChapter, words: str) -> bool:
    haystack = " ".join(filter(None, (chapter.name, chapter.username, chapter.location)))
    return words in haystack.lower()


async def chapters_below(db: Reader, query: str, limit: int = 50) -> list[RemoteChapter]:
    """Chapters on other nodes below ours whose name, username or place contains `query`
    (any case; all of them for an empty query), by name."""
    rows = await db.fetchall(
        "SELECT r.iri, r.document,"
        " (SELECT min(a.name) FROM subchapters s JOIN actors a ON a.id = s.chapter_id"
        "  WHERE s.child_iri = r.iri AND s.state = 'accepted') AS below"
        " FROM remote_actors r WHERE r.type = 'Group' AND ("
        " EXISTS (SELECT 1 FROM subchapters s WHERE s.child_iri = r.iri"
        "  AND s.state = 'accepted')"
        " OR EXISTS (SELECT 1 FROM remote_objects o JOIN subchapters s"
        "  ON s.child_iri = o.via AND s.state = 'accepted'"
        "  WHERE o.attributed_to = r.iri AND o.via IS NOT NULL AND o.via <> r.iri))"
        f" ORDER BY r.iri LIMIT {SCANNED}")
    words = " ".join(query.lower().split())
    found = [c for c in (_chapter(r[0], r[1], r[2]) for r in rows)
             if not words or _matches(c, words)]
    found.sort(key=lambda c: (c.name.lower(), c.iri))
    return found[:limit]
