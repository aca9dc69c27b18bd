"""What /join shows of the chapters below ours on other nodes: where to join each.

A visitor joins a chapter on its own node. A Chapterhouse chapter (its document has a
`level`) is joined at that node's /join/SLUG; any other, from its page.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from actors.handles import InvalidHandle, validate_handle
from federation.urls import http_url, origin_of
from storage import known_chapters as store
from storage.database import Reader


@dataclass(frozen=True)
class BelowChoice:
    name: str
    level: str | None
    location: str | None
    host: str  # the node it is on
    join_url: str  # where a visitor asks to join it, on that node
    below: str | None  # the chapter of ours it is a subchapter of


def _is_handle(name: str) -> bool:
    try:
        validate_handle(name)
    except InvalidHandle:
        return False
    return True


def _join_url(chapter: store.RemoteChapter) -> tuple[str, str] | None:
    origin = origin_of(chapter.iri)
    if origin is None:
        return None
    scheme, host = origin
    if chapter.level and chapter.username and _is_handle(chapter.username):
        # A Chapterhouse chapter (it has a level): its node's own join form.
        return host, f"{scheme}://{host}/join/{quote(chapter.username)}"
    page = http_url(chapter.url)
    # Its page, if on its own node (a document naming a page elsewhere is not believed).
    if page is not None and origin_of(page) == origin:
        return host, page
    return host, chapter.iri


async def chapters_below(db: Reader, query: str) -> list[BelowChoice]:
    choices = []
    for chapter in await store.chapters_below(db, query):
        found = _join_url(chapter)
        if found is not None:
            choices.append(BelowChoice(name=chapter.name, level=chapter.level,
                                       location=chapter.location, host=found[0],
                                       join_url=found[1], below=chapter.below))
    return choices
