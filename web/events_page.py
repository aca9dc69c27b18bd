"""`/events` and `/events.ics`: the upcoming events of every chapter on this node and of the
chapters below them on other nodes, soonest first, each in its own time zone.

The page goes 50 at a time by a cursor, the (start, id) of the last event shown; the
calendar holds the next CALENDAR_EVENTS of them, for calendar apps to subscribe to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web
from icalendar import Event

from federation.sanitize import clean_html, clean_text
from storage import items as item_store
from storage import paging
from storage import taking_part as taking_part_store
from storage.items import StoredItem
from storage.taking_part import ReceivedObject
from storage.timestamps import from_wire
from web.errors import refuse
from web.feeds import CALENDAR_EVENTS, _written, calendar_response, event_calendar
from web.i18n import _
from web.items import event_zone
from web.pages import render
from web.remote_views import RemoteView, is_public, remote_view
from web.state import DB, NODE

PAGE = 50


@dataclass(frozen=True)
class EventEntry:
    """One event as /events lists it, from this node or from below."""

    key: tuple[datetime, str]  # (start in UTC, id): the order, and the cursor
    title: str
    link: str
    chapter_name: str
    chapter_link: str | None
    starts: datetime  # in the event's own time zone
    ends: datetime | None
    timezone: str
    place: str | None
    online: bool
    online_url: str | None
    elsewhere: bool
    language: str | None = None  # of the title (its `lang`), when known


def _local(row: StoredItem) -> EventEntry:
    fields = row.fields
    assert fields.starts_at is not None  # the query asks for a start
    zone = event_zone(fields.timezone)
    place = ", ".join(filter(None, (fields.place_name, fields.address))) or None
    return EventEntry(
        key=(fields.starts_at.astimezone(UTC), row.object_iri), title=fields.title,
        link=row.object_iri, chapter_name=row.author_name, chapter_link=f"/@{row.author}",
        starts=fields.starts_at.astimezone(zone),
        ends=fields.ends_at.astimezone(zone) if fields.ends_at else None,
        timezone=zone.key, place=place, online=fields.online_url is not None,
        online_url=fields.online_url, elsewhere=False, language=fields.language)


def _online(document: dict[str, Any]) -> str | None:
    """The link of an online event, as ours and Mobilizon's documents give it."""
    if document.get("isOnline") is not True:
        return None
    for attachment in document.get("attachment") or []:
        if isinstance(attachment, dict) and isinstance(attachment.get("href"), str) \
                and attachment["href"].startswith(("https://", "http://")):
            return str(attachment["href"])
    return None


def _remote(obj: ReceivedObject, view: RemoteView) -> EventEntry | None:
    if view.starts is None:
        return None
    return EventEntry(
        key=(view.starts.astimezone(UTC), view.iri), title=view.title,
        link=f"/remote/{view.id}", chapter_name=view.author_name,
        chapter_link=view.author_url,
        starts=view.starts if view.timezone else view.starts.astimezone(UTC),
        ends=(view.ends if view.timezone else view.ends.astimezone(UTC)) if view.ends
        else None,
        timezone=view.timezone or "UTC", place=view.place,
        online=obj.document.get("isOnline") is True, online_url=_online(obj.document),
        elsewhere=True, language=view.title_language)


Source = StoredItem | ReceivedObject


async def _received(db: Any, now: datetime) -> list[tuple[EventEntry, Source]]:
    """Public remote events from below that have not ended, with what they came from."""
    found: list[tuple[EventEntry, Source]] = []
    for obj in await taking_part_store.received_events(db):
        # Past ones are most of what is stored: told apart before the whole view is made.
        ends = from_wire(obj.document.get("endTime")) or from_wire(obj.document.get("startTime"))
        if ends is None or ends < now or not is_public(obj.document):
            continue
        entry = _remote(obj, remote_view(obj))
        if entry is not None and (entry.ends or entry.starts) >= now:
            found.append((entry, obj))
    return found


async def upcoming(request: web.Request, after: tuple[datetime, str] | None,
                   limit: int) -> tuple[list[tuple[EventEntry, Source]], bool]:
    """The next `limit` events after `after` (each with its item or remote object), and
    whether there are more."""
    db = request.app[DB]
    now = datetime.now(UTC)
    local: list[tuple[EventEntry, Source]] = [
        (_local(row), row) for row in await item_store.local_events(db, now, after, limit + 1)]
    remote = [(entry, obj) for entry, obj in await _received(db, now)
              if after is None or entry.key > after]
    merged = sorted([*local, *remote], key=lambda found: found[0].key)
    return merged[:limit], len(merged) > limit


def _after(request: web.Request) -> tuple[datetime, str] | None:
    token = request.query.get("cursor")
    if token is None:
        return None
    try:
        cursor = paging.decode(token, 2)
    except paging.BadCursor:
        raise refuse(400, _("This link to another page is not one this site made.")) from None
    start, iri = cursor.keys
    if not cursor.forward or not isinstance(start, datetime) or not isinstance(iri, str):
        raise refuse(400, _("This link to another page is not one this site made."))
    return start, iri


async def events_page(request: web.Request) -> web.Response:
    after = _after(request)
    found, more = await upcoming(request, after, PAGE)
    events = [entry for entry, _ in found]
    later = paging.encode(paging.Cursor(events[-1].key, True)) if more and events else None
    return render(request, "events.html", events=events, paged=after is not None,
                  later=f"/events?cursor={later}" if later else None)


def _vevent(entry: EventEntry, obj: ReceivedObject) -> tuple[Event, date, date]:
    """A VEVENT for an event from elsewhere, as web/feeds.py makes one of ours."""
    document = obj.document
    event = Event()
    event.add("uid", obj.iri)
    stamp = from_wire(document.get("updated")) or obj.published or datetime.now(UTC)
    event.add("dtstamp", stamp.astimezone(UTC))
    if obj.published:
        event.add("created", obj.published.astimezone(UTC))
    event.add("dtstart", entry.starts)
    if entry.ends is not None:
        event.add("dtend", entry.ends)
    event.add("summary", entry.title)
    summary = document.get("summary") or document.get("content")
    if isinstance(summary, str) and summary:
        description = clean_text(clean_html(summary), limit=500)
        if description:
            event.add("description", description)
    if entry.place or entry.online_url:
        event.add("location", entry.place or entry.online_url)
    link = document.get("url")
    event.add("url", link if isinstance(link, str) and link.startswith(
        ("https://", "http://")) else obj.iri)
    event.add("status", "CONFIRMED")
    return event, entry.starts.date(), (entry.ends or entry.starts).date()


async def events_calendar(request: web.Request) -> web.StreamResponse:
    """`/events.ics`: every upcoming event here and below, for calendars to subscribe to."""

    node = request.app[NODE]
    # A calendar app sends no cookie: the node's language, unless its Accept-Language asks.
    name = _("%(node)s: upcoming events", node=node.name)

    async def write() -> bytes:
        found, _next = await upcoming(request, None, CALENDAR_EVENTS)
        return event_calendar(
            node, [source for _kind, source in found if isinstance(source, StoredItem)],
            name,
            [_vevent(entry, source) for entry, source in found
             if isinstance(source, ReceivedObject)])

    return calendar_response(await _written(request, write))


def setup(app: web.Application) -> None:
    app.router.add_get("/events", events_page)
    app.router.add_get("/events.ics", events_calendar)
