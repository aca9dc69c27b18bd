"""Archives: every section of the node and of each chapter, newest first, a page at a time
(`/news`, `/blogs`, `/minutes`, `/polls`, `/events/past`, and `/@{chapter}/news`, ...).

The page is cut by a cursor (storage/archives.py), which the links carry: "Older" (rel
next) and "Newer" (rel prev). A cursor that is not one of ours is a 400, never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from chapterhouse.reasons import N_
from storage import actors as actor_store
from storage import archives as store
from storage import items as item_store
from storage.actors import ActorRecord
from storage.archives import ArchiveEntry, ArchivePage
from storage.paging import BadCursor, Cursor
from web.errors import refuse
from web.i18n import _
from web.items import event_zone, item_views
from web.pages import render
from web.state import DB

# The path of each section, the kind of item it lists, and its heading.
SECTIONS = {
    "news": ("news", N_("News")),
    "blogs": ("blog", N_("Blogs")),
    "minutes": ("minutes", N_("Minutes")),
    "polls": ("poll", N_("Polls")),
    "projects": ("project", N_("Projects")),
}
UPCOMING = 50


@dataclass(frozen=True)
class EntryView:
    entry: ArchiveEntry
    starts: datetime | None  # an event's start and end in its own time zone
    ends: datetime | None


def _views(page: ArchivePage) -> list[EntryView]:
    views = []
    for entry in page.entries:
        zone = event_zone(entry.timezone)
        views.append(EntryView(
            entry,
            entry.starts_at.astimezone(zone) if entry.starts_at else None,
            entry.ends_at.astimezone(zone) if entry.ends_at else None))
    return views


def _cursor(request: web.Request) -> Cursor | None:
    try:
        return store.cursor_of(request.query.get("cursor"))
    except BadCursor:
        raise refuse(400, _("This link to an older page is not one this site made.")) from None


def _page(request: web.Request, page: ArchivePage, heading: str, section: str,
          chapter: ActorRecord | None, **context: object) -> web.Response:
    path = request.path
    return render(
        request, "archive.html", heading=heading, archive_section=section, chapter=chapter,
        entries=_views(page),
        newer=f"{path}?cursor={page.prev}" if page.prev else None,
        older=f"{path}?cursor={page.next}" if page.next else None,
        **context)


async def _chapter(request: web.Request) -> ActorRecord:
    chapter = await actor_store.actor_by_handle(request.app[DB], request.match_info["handle"])
    if chapter is None or chapter.kind != "chapter":
        raise refuse(404, _("There is no such chapter on this node."))
    return chapter


async def node_section(request: web.Request) -> web.Response:
    section = request.match_info["section"]
    kind, heading = SECTIONS[section]
    page = await store.section(request.app[DB], kind, None, _cursor(request))
    return _page(request, page, heading, section, None)


async def chapter_section(request: web.Request) -> web.Response:
    chapter = await _chapter(request)
    section = request.match_info["section"]
    kind, heading = SECTIONS[section]
    page = await store.section(request.app[DB], kind, chapter.id, _cursor(request))
    return _page(request, page, heading, section, chapter)


async def node_past_events(request: web.Request) -> web.Response:
    page = await store.past_events(request.app[DB], datetime.now(UTC), None, _cursor(request))
    return _page(request, page, N_("Past events"), "events", None)


async def chapter_events(request: web.Request) -> web.Response:
    """A chapter's events: what is coming (on the first page), then the past, paged."""
    chapter = await _chapter(request)
    db = request.app[DB]
    now = datetime.now(UTC)
    cursor = _cursor(request)
    upcoming = [] if cursor is not None else await item_views(
        db, await item_store.upcoming_events(db, now, chapter.id, UPCOMING), now)
    page = await store.past_events(db, now, chapter.id, cursor)
    return _page(request, page, N_("Events"), "events", chapter, upcoming=upcoming)


def setup(app: web.Application) -> None:
    names = "|".join(SECTIONS)
    app.router.add_get(f"/{{section:{names}}}", node_section)
    app.router.add_get("/events/past", node_past_events)
    app.router.add_get(f"/@{{handle}}/{{section:{names}}}", chapter_section)
    app.router.add_get("/@{handle}/events", chapter_events)
