"""Feeds for the programs people already use: iCalendar for calendars, Atom for readers.

- `/objects/{uuid}.ics`: one event (served from web/objects.py);
- `/actors/{handle}/events.ics`: a chapter's (or member's) upcoming events, to subscribe to;
- `/actors/{handle}/feed.atom`: its news, blog posts, minutes, events and polls.

Atom is written with xml.etree from the standard library: the format is a handful of
elements, and ElementTree escapes text and attributes correctly, so a feed library (and
its lxml dependency) would add weight without adding correctness. Both feeds are public,
like the HTML pages, also in authorized-fetch mode (feed readers and calendars cannot sign).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta

from aiohttp import web
from icalendar import Calendar, Event

from outbox.items import KINDS, derived_summary, item_from_stored
from storage import items as store
from storage.actors import ActorRecord
from storage.items import StoredItem
from storage.timestamps import iso
from web import i18n
from web.actors import find_actor
from web.errors import refuse
from web.i18n import _
from web.items import event_zone, item_view
from web.state import DB, NODE, TEMPLATES, Node

ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM_MEDIA_TYPE = "application/atom+xml"
CALENDAR_MEDIA_TYPE = "text/calendar"
FEED_ENTRIES = 20
CALENDAR_EVENTS = 200
CACHE_CONTROL = "max-age=60, public"


def feed_url(node: Node, handle: str) -> str:
    return f"{node.urls.actor(handle)}/feed.atom"


def calendar_url(node: Node, handle: str) -> str:
    return f"{node.urls.actor(handle)}/events.ics"


# iCalendar

def _vevent(row: StoredItem) -> tuple[Event, date, date]:
    """A VEVENT in the event's own time zone, and the span of dates it covers."""
    item = item_from_stored(row.fields)
    zone = event_zone(item.timezone)
    start = datetime.fromisoformat(item.starts_at or "").astimezone(zone)
    end = datetime.fromisoformat(item.ends_at).astimezone(zone) if item.ends_at else None
    event = Event()
    event.add("uid", row.object_iri)
    event.add("dtstamp", (row.updated or row.published).astimezone(UTC))
    event.add("created", row.published.astimezone(UTC))
    if row.updated:
        event.add("last-modified", row.updated.astimezone(UTC))
    event.add("dtstart", start)
    if end is not None:
        event.add("dtend", end)
    event.add("summary", item.title)
    description = derived_summary(item)
    if description:
        event.add("description", description)
    if item.place_name:
        event.add("location", ", ".join(filter(None, (item.place_name, item.address))))
    elif item.online_url:
        event.add("location", item.online_url)
    event.add("url", row.object_iri)
    event.add("status", "CONFIRMED")
    return event, start.date(), (end or start).date()


def event_calendar(node: Node, rows: list[StoredItem], name: str | None = None,
                   others: Sequence[tuple[Event, date, date]] = ()) -> bytes:
    """An iCalendar document with one VEVENT per event row (and each of `others`, VEVENTs
    made elsewhere with the dates they span), and the VTIMEZONEs they use."""
    calendar = Calendar()
    calendar.add("prodid", f"-//Chapterhouse//Chapterhouse {node.version}//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    if name:
        calendar.add("name", name)
        calendar.add("x-wr-calname", name)
    first, last = None, None
    for event, starts, ends in [*map(_vevent, rows), *others]:
        calendar.add_component(event)
        first = starts if first is None else min(first, starts)
        last = ends if last is None else max(last, ends)
    if first is not None and last is not None:
        # Only the transitions around the events, not decades of them.
        calendar.add_missing_timezones(first_date=first - timedelta(days=366),
                                       last_date=last + timedelta(days=366))
    return calendar.to_ical()


def calendar_response(body: bytes, download: str | None = None) -> web.Response:
    headers = {"Cache-Control": CACHE_CONTROL}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="{download}"'
    return web.Response(body=body, content_type=CALENDAR_MEDIA_TYPE, charset="utf-8",
                        headers=headers)


# Feeds as last written, by URL, with the database's data_version and the minute they
# were written in. Calendar apps and feed readers poll these, and a calendar of 200
# events costs about 0.4 ms an event to write out; while nothing is committed (the
# version moves with every commit of another connection, and the reader never writes)
# and within the minute that decides what is upcoming, the same bytes are the answer.
_WRITTEN = web.AppKey("written_feeds", OrderedDict)
WRITTEN_KEPT = 128


async def _written(request: web.Request, write: Callable[[], Awaitable[bytes]]) -> bytes:
    cache: OrderedDict[tuple[str, str, str], tuple[tuple[int, str], bytes]] = \
        request.app[_WRITTEN]
    stamp = (await request.app[DB].data_version(), datetime.now(UTC).strftime("%Y%m%d%H%M"))
    # Worded for the reader (dates, "Minutes of the meeting of …", a remote item's version
    # in their language): one copy per language and zone, never the first reader's for all.
    reader = i18n.current()
    key = (request.path, reader.code, reader.zone_name)
    found = cache.get(key)
    if found is not None and found[0] == stamp:
        cache.move_to_end(key)
        return found[1]
    body = await write()
    cache[key] = (stamp, body)
    cache.move_to_end(key)
    while len(cache) > WRITTEN_KEPT:
        cache.popitem(last=False)
    return body


async def actor_calendar(request: web.Request) -> web.StreamResponse:
    """`/actors/{handle}/events.ics`: upcoming events, for calendars to subscribe to."""
    actor = await find_actor(request)

    async def write() -> bytes:
        now = datetime.now(UTC)
        rows = await store.upcoming_events(request.app[DB], now, actor.id,
                                           CALENDAR_EVENTS)
        return event_calendar(request.app[NODE], rows, actor.name)

    return calendar_response(await _written(request, write))


# Atom

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _text(parent: ET.Element, tag: str, text: str, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    element.text = text
    return element


async def actor_feed(request: web.Request) -> web.StreamResponse:
    """`/actors/{handle}/feed.atom`: what the actor published, newest first."""
    actor = await find_actor(request)
    if actor.handle is None:  # the node actor has no feed
        raise refuse(404, _("the node actor has no feed"))
    body = await _written(request, lambda: _atom(request, actor))
    return web.Response(body=body, content_type=ATOM_MEDIA_TYPE, charset="utf-8",
                        headers={"Cache-Control": CACHE_CONTROL})


async def _atom(request: web.Request, actor: ActorRecord) -> bytes:
    assert actor.handle is not None
    node, db = request.app[NODE], request.app[DB]
    now = datetime.now(UTC)
    rows = await store.latest(db, KINDS, actor.id, FEED_ENTRIES)
    entries = [await item_view(db, row, now) for row in rows]
    entry_template = request.app[TEMPLATES].get_template("entry.html")
    profile = node.urls.profile(actor.handle)
    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    _text(feed, "id", feed_url(node, actor.handle))
    _text(feed, "title", actor.name)
    if actor.summary:
        _text(feed, "subtitle", actor.summary)
    stamps = [entry.updated or entry.published for entry in entries]
    _text(feed, "updated", max(stamps) if stamps else iso(actor.created_at) or "")
    ET.SubElement(feed, "link", {"rel": "self", "type": ATOM_MEDIA_TYPE,
                                 "href": feed_url(node, actor.handle)})
    ET.SubElement(feed, "link", {"rel": "alternate", "type": "text/html", "href": profile})
    author = ET.SubElement(feed, "author")
    _text(author, "name", actor.name)
    _text(author, "uri", profile)
    _text(feed, "generator", "Chapterhouse", version=node.version)
    if actor.icon_url:
        _text(feed, "icon", actor.icon_url)
    for view in entries:
        entry = ET.SubElement(feed, "entry")
        _text(entry, "id", view.id)
        title = _text(entry, "title", view.title, type="text")
        if view.language:
            # The author's words are in their language; the content's labels (when, where)
            # are in the reader's, so only the title and summary say it.
            title.set(XML_LANG, view.language)
        ET.SubElement(entry, "link", {"rel": "alternate", "type": "text/html", "href": view.id})
        if view.kind == "event":
            ET.SubElement(entry, "link", {"rel": "related", "type": CALENDAR_MEDIA_TYPE,
                                          "href": view.ics_url})
        _text(entry, "published", view.published)
        _text(entry, "updated", view.updated or view.published)
        entry_author = ET.SubElement(entry, "author")
        _text(entry_author, "name", view.author_name)
        _text(entry_author, "uri", node.urls.profile(view.author))
        ET.SubElement(entry, "category", {"term": view.kind})
        if view.summary:
            summary = _text(entry, "summary", view.summary, type="text")
            if view.language:
                summary.set(XML_LANG, view.language)
        _text(entry, "content", entry_template.render(node=node, item=view).strip(),
              type="html")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def setup(app: web.Application) -> None:
    app[_WRITTEN] = OrderedDict()
    app.router.add_get("/actors/{handle}/feed.atom", actor_feed)
    app.router.add_get("/actors/{handle}/events.ics", actor_calendar)
