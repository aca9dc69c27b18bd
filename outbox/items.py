"""What chapters and members publish, and how each kind looks on the wire.

News, blog posts and minutes are `Article`s, meetings are `Event`s (with the fields
Mobilizon reads) and polls are `Question`s exactly as Mastodon reads and writes them; a
project is an `Article` of its chapter with our terms for its status, its starter and who
takes part.
Mastodon shows only the name, the summary and a link for Articles and Events, so every
item carries a plain-text summary: the author's, or the start of its body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markdown_it import MarkdownIt

from chapterhouse.reasons import Reason, reason
from federation.languages import is_language, maps
from federation.sanitize import clean_html, clean_text
from federation.urls import Urls
from federation.vocab import AS_CONTEXT, CHAPTERHOUSE_TERMS, PROJECT_TERMS, PUBLIC
from storage.items import ItemFields

KINDS = ("news", "blog", "minutes", "event", "poll", "project")
ARTICLE_KINDS = ("news", "blog", "minutes")
# What people join (and leave) with `Join` and `Leave`, from here or from elsewhere.
JOINABLE_KINDS = ("event", "project")
MAX_TITLE = 300
MAX_SUMMARY = 1000
MAX_BODY = 100_000
MAX_OPTIONS = 20  # Mastodon allows 500; a chapter decision with more is not a poll
MAX_OPTION = 200
MAX_CAPACITY = 1_000_000  # and the database's integer column holds it on either engine
SUMMARY_FROM_BODY = 280
# A project's status, as stored and sent (chapterhouse:projectStatus).
PROJECT_STATUSES = ("proposed", "active", "finished")
# Who takes part in a project is listed in its document, up to this many.
MAX_LISTED_PARTICIPANTS = 200

# Terms from Mobilizon's and schema.org's vocabularies that events use, and Mastodon's for
# polls and hashtags, defined inline like our own.
CONTENT_TERMS: dict[str, Any] = {
    "toot": "http://joinmastodon.org/ns#",
    "votersCount": "toot:votersCount",
    "Hashtag": "as:Hashtag",
    "sc": "http://schema.org#",
    "mz": "https://joinmobilizon.org/ns#",
    "timezone": "mz:timezone",
    "joinMode": "mz:joinMode",
    "participantCount": "mz:participantCount",
    "isOnline": "mz:isOnline",
    "maximumAttendeeCapacity": "sc:maximumAttendeeCapacity",
    "remainingAttendeeCapacity": "sc:remainingAttendeeCapacity",
    "PostalAddress": "sc:PostalAddress",
    "address": {"@id": "sc:address"},
    "streetAddress": "sc:streetAddress",
    "chapterhouse": CHAPTERHOUSE_TERMS["chapterhouse"],
    "meetingDate": {"@id": "chapterhouse:meetingDate",
                    "@type": "http://www.w3.org/2001/XMLSchema#date"},
    **PROJECT_TERMS,
    # FEP-8b32 proofs, defined here so that JSON-LD processors keep them.
    "sec": "https://w3id.org/security#",
    "proof": {"@id": "sec:proof", "@type": "@id", "@container": "@graph"},
    "DataIntegrityProof": "sec:DataIntegrityProof",
    "cryptosuite": {"@id": "sec:cryptosuite", "@type": "sec:cryptosuiteString"},
    "verificationMethod": {"@id": "sec:verificationMethod", "@type": "@id"},
    # As in the data-integrity context: the purpose is a term, read as an IRI.
    "proofPurpose": {"@id": "sec:proofPurpose", "@type": "@vocab"},
    "assertionMethod": {"@id": "sec:assertionMethod", "@type": "@id", "@container": "@set"},
    "proofValue": {"@id": "sec:proofValue", "@type": "sec:multibase"},
    "created": {"@id": "http://purl.org/dc/terms/created",
                "@type": "http://www.w3.org/2001/XMLSchema#dateTime"},
}
CONTENT_CONTEXT: list[Any] = [AS_CONTEXT, CONTENT_TERMS]

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


class InvalidItem(ValueError):
    """An item that cannot be published as given; the message says why."""


@dataclass
class Item:
    kind: str
    title: str
    summary: str = ""
    body: str = ""
    meeting_date: str | None = None
    starts_at: str | None = None
    ends_at: str | None = None
    timezone: str | None = None
    place_name: str | None = None
    address: str | None = None
    online_url: str | None = None
    capacity: int | None = None
    options: list[str] = field(default_factory=list)
    multiple: bool = False
    closes_at: str | None = None
    # What it is written in ("eo"); None: unknown (sent without language maps).
    language: str | None = None
    project_status: str | None = None  # projects: one of PROJECT_STATUSES
    started_by: str | None = None  # projects: the handle of the member who started it


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# The fields a reason names, each a message of its own (worded with the reason it is in);
# the English is also how web forms find the field a reason is about.
TITLE = reason("field.title", "title")
QUESTION = reason("field.question", "question")
SUMMARY = reason("field.summary", "summary")
BODY = reason("field.body", "body")
START = reason("field.start", "start")
END = reason("field.end", "end")
PLACE_NAME = reason("field.place_name", "place name")
ADDRESS = reason("field.address", "address")
OPTION = reason("field.option", "option")
CLOSING_TIME = reason("field.closing_time", "closing time")


def _text(label: str, value: str | None, limit: int, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise InvalidItem(reason("item.empty", "%(field)s must not be empty", field=label))
    if len(value) > limit:
        raise InvalidItem(reason("item.too_long", "%(field)s is longer than %(limit)d "
                                 "characters", field=label, limit=limit))
    if any(ord(c) < 32 and c not in "\n\t\r" for c in value):
        raise InvalidItem(reason("item.control", "%(field)s contains control characters",
                                 field=label))
    return value


def parse_moment(label: str, value: str, zone: ZoneInfo | None = None) -> datetime:
    """An ISO 8601 date-time; one without an offset is read in `zone` (or refused)."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidItem(reason("moment.format", "%(field)s %(value)r is not an ISO 8601 "
                                 "date and time", field=label, value=value)) from None
    if moment.tzinfo is None:
        if zone is None:
            raise InvalidItem(reason("moment.offset", "%(field)s %(value)r needs a time zone "
                                     "offset, e.g. +01:00", field=label, value=value))
        moment = moment.replace(tzinfo=zone)
    try:
        moment.astimezone(UTC)  # stored and sent in UTC: year 9999 at -05:00 is not there
    except OverflowError:
        raise InvalidItem(reason("moment.range", "%(field)s %(value)r is out of range",
                                 field=label, value=value)) from None
    return moment


def unknown_zone(name: str | None) -> Reason:
    return reason("event.zone", "unknown time zone %(zone)r (use e.g. Europe/Dublin)",
                  zone=name)


def validate(item: Item, now: datetime | None = None) -> Item:
    """Check and normalise an item; InvalidItem with a one-line reason."""
    now = now or datetime.now(UTC)
    if item.kind not in KINDS:
        raise InvalidItem(reason("item.kind", "kind must be one of %(kinds)s",
                                 kinds=", ".join(KINDS)))
    label = QUESTION if item.kind == "poll" else TITLE
    item.title = _text(label, item.title, MAX_TITLE, required=True)
    item.summary = _text(SUMMARY, item.summary, MAX_SUMMARY)
    item.body = _text(BODY, item.body, MAX_BODY)
    _validate_language(item)
    if item.kind == "minutes" and item.meeting_date is not None:
        given = item.meeting_date.strip()
        try:
            item.meeting_date = date.fromisoformat(given).isoformat()
        except ValueError as exc:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", given):
                # The right shape, so the calendar is what refused it: say how.
                # (Python's own words for why: the CLI and its tests have said them.)
                raise InvalidItem(reason(
                    "minutes.no_date", "meeting date %(date)s is not a date: %(why)s",
                    date=given, why=str(exc))) from None
            raise InvalidItem(reason(
                "minutes.date_format", "meeting date %(date)r is not YYYY-MM-DD",
                date=item.meeting_date)) from None
    if item.kind == "event":
        _validate_event(item)
    if item.kind == "poll":
        _validate_poll(item, now)
    if item.kind == "project":
        _validate_project(item)
    return item


def _validate_project(item: Item) -> None:
    status = (item.project_status or "").strip().lower()
    if status not in PROJECT_STATUSES:
        raise InvalidItem(reason(
            "project.status", "status %(status)s is not one of proposed, active, finished",
            status=repr((item.project_status or "")[:40])))
    item.project_status = status


def _validate_language(item: Item) -> None:
    if item.language is None:
        return
    given = item.language.strip()
    if not is_language(given.lower()):
        raise InvalidItem(reason(
            "item.language", "language %(language)s is not a language code such as en or eo",
            language=repr(given[:40])))
    item.language = given.lower()


def _validate_event(item: Item) -> None:
    try:
        zone = ZoneInfo(item.timezone or "")
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidItem(unknown_zone(item.timezone)) from None
    if item.starts_at is None:
        raise InvalidItem(reason("event.no_start", "an event needs a start"))
    start = parse_moment(START, item.starts_at, zone)
    item.starts_at = start.isoformat()
    if item.ends_at is not None:
        end = parse_moment(END, item.ends_at, zone)
        if end <= start:
            raise InvalidItem(reason("event.end", "the end must be after the start"))
        item.ends_at = end.isoformat()
    item.place_name = _text(PLACE_NAME, item.place_name, 200) or None
    item.address = _text(ADDRESS, item.address, 500) or None
    if item.online_url:
        parts = urlsplit(item.online_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidItem(reason("event.online_url",
                                     "online URL %(url)r must be an http(s) URL",
                                     url=item.online_url))
    if bool(item.place_name) == bool(item.online_url):
        raise InvalidItem(reason("event.where",
                                 "an event takes either a place name or an online URL"))
    if item.address and not item.place_name:
        raise InvalidItem(reason("event.address", "an address needs a place name"))
    if item.capacity is not None and item.capacity < 1:
        raise InvalidItem(reason("event.capacity_low", "capacity must be at least 1"))
    if item.capacity is not None and item.capacity > MAX_CAPACITY:
        raise InvalidItem(reason("event.capacity_high", "capacity must be at most %(num)d",
                                 num=MAX_CAPACITY))


def _validate_poll(item: Item, now: datetime) -> None:
    options = [_text(OPTION, o, MAX_OPTION, required=True) for o in item.options]
    if len(options) < 2:
        raise InvalidItem(reason("poll.few", "a poll needs at least two options"))
    if len(options) > MAX_OPTIONS:
        raise InvalidItem(reason("poll.many", "a poll has at most %(num)d options",
                                 num=MAX_OPTIONS))
    if len(set(options)) != len(options):
        raise InvalidItem(reason("poll.same", "poll options must differ from each other"))
    item.options = options
    if item.closes_at is None:
        raise InvalidItem(reason("poll.no_close", "a poll needs a closing time"))
    closes = parse_moment(CLOSING_TIME, item.closes_at)
    if closes <= now:
        raise InvalidItem(reason("poll.closed", "the closing time is in the past"))
    item.closes_at = iso_utc(closes)


def body_html(markdown: str) -> str:
    # Raw HTML is off in the parser, and the result is sanitised all the same: members write
    # these, and what we send is shown by other servers.
    return clean_html(_markdown.render(markdown)).strip() if markdown else ""


def derived_summary(item: Item) -> str:
    """The author's summary, or the start of the body as plain text."""
    if item.summary:
        return item.summary
    text = re.sub(r"\s+", " ", clean_text(_markdown.render(item.body), limit=MAX_BODY)).strip()
    text = (text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
            .replace("&#39;", "'").replace("&amp;", "&"))
    if len(text) <= SUMMARY_FROM_BODY:
        return text
    return text[:SUMMARY_FROM_BODY].rsplit(" ", 1)[0] + "…"


def event_line(item: Item) -> str:
    """"Saturday 12 September 2026, 14:00 (Europe/Dublin) · Teachers' Club, 36 Parnell Sq"."""
    start = datetime.fromisoformat(item.starts_at or "")
    when = f"{start:%A} {start.day} {start:%B %Y, %H:%M} ({item.timezone})"
    where = item.place_name or "online"
    if item.address:
        where = f"{where}, {item.address}"
    return f"{when} · {where}"


@dataclass(frozen=True)
class Counts:
    """Live numbers that go into a document: votes per option, voters, participants."""

    votes: dict[str, int] = field(default_factory=dict)
    voters: int = 0
    participants: int = 0
    participant_ids: list[str] = field(default_factory=list)  # projects: who, first come


def to_ap(
    item: Item, object_id: str, urls: Urls, handle: str, published: str,
    updated: str | None = None, counts: Counts | None = None, closed_at: str | None = None,
) -> dict[str, Any]:
    counts = counts or Counts()
    actor = urls.actor(handle)
    document: dict[str, Any] = {
        "@context": CONTENT_CONTEXT,
        "id": object_id,
        "attributedTo": actor,
        "url": object_id,
        "published": published,
        "to": [PUBLIC],
        "cc": [urls.collection(handle, "followers")],
        "replies": f"{object_id}/replies",
    }
    if updated:
        document["updated"] = updated
    if item.kind in ARTICLE_KINDS:
        document |= {
            "type": "Article",
            "name": item.title,
            "summary": derived_summary(item),
            "content": body_html(item.body),
            "mediaType": "text/html",
            "tag": [{"type": "Hashtag", "name": f"#{item.kind}"}],
        }
        document |= maps(item.language, content=document["content"], name=item.title,
                         summary=document["summary"])
        if item.kind == "minutes" and item.meeting_date:
            document["meetingDate"] = item.meeting_date
    elif item.kind == "event":
        document |= _event(item, counts)
    elif item.kind == "project":
        document |= _project(item, counts, urls)
    else:
        document |= _question(item, counts, closed_at)
    return document


def _event(item: Item, counts: Counts) -> dict[str, Any]:
    line = event_line(item)
    summary = f"{line}. {derived_summary(item)}".strip().rstrip(".") if item.body or \
        item.summary else line
    body = body_html(item.body)
    document: dict[str, Any] = {
        "type": "Event",
        "name": item.title,
        "summary": summary,
        # For servers that know no Event, the content says when and where as well.
        "content": f"<p>{clean_text(line)}</p>{body}",
        "mediaType": "text/html",
        "startTime": item.starts_at,
        "timezone": item.timezone,
        "joinMode": "free",
        "participantCount": counts.participants,
        "isOnline": item.online_url is not None,
    }
    document |= maps(item.language, content=document["content"], name=item.title,
                     summary=summary)
    if item.ends_at:
        document["endTime"] = item.ends_at
    if item.place_name:
        place: dict[str, Any] = {"type": "Place", "name": item.place_name}
        if item.address:
            place["address"] = {"type": "PostalAddress", "streetAddress": item.address}
        document["location"] = place
    if item.online_url:
        document["attachment"] = [{"type": "Link", "name": "Website", "href": item.online_url,
                                   "mediaType": "text/html"}]
    if item.capacity is not None:
        document["maximumAttendeeCapacity"] = item.capacity
        document["remainingAttendeeCapacity"] = max(item.capacity - counts.participants, 0)
    return document


def _project(item: Item, counts: Counts, urls: Urls) -> dict[str, Any]:
    """An Article (what Mastodon shows with its name, summary and link) with the project's
    status, who started it and who takes part (their ids, as far as they are listed)."""
    document: dict[str, Any] = {
        "type": "Article",
        "name": item.title,
        "summary": derived_summary(item),
        "content": body_html(item.body),
        "mediaType": "text/html",
        "tag": [{"type": "Hashtag", "name": "#project"}],
        "projectStatus": item.project_status,
        "participantCount": counts.participants,
        "participants": {"type": "Collection", "totalItems": counts.participants,
                         "items": counts.participant_ids[:MAX_LISTED_PARTICIPANTS]},
    }
    if item.started_by:
        document["startedBy"] = urls.actor(item.started_by)
    document |= maps(item.language, content=document["content"], name=item.title,
                     summary=document["summary"])
    return document


def _question(item: Item, counts: Counts, closed_at: str | None) -> dict[str, Any]:
    options = [
        {"type": "Note", "name": option,
         "replies": {"type": "Collection", "totalItems": counts.votes.get(option, 0)}}
        for option in item.options
    ]
    document: dict[str, Any] = {
        "type": "Question",
        "content": f"<p>{clean_text(item.title)}</p>{body_html(item.body)}",
        "mediaType": "text/html",
        "endTime": item.closes_at,
        "votersCount": counts.voters,
        "anyOf" if item.multiple else "oneOf": options,
    }
    document |= maps(item.language, content=document["content"])
    if closed_at:
        document["closed"] = closed_at
    return document


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _moment(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def stored_fields(item: Item) -> ItemFields:
    """A validated item as the store keeps it: its moments as datetimes."""
    return ItemFields(
        kind=item.kind, title=item.title, summary=item.summary, body=item.body,
        meeting_date=item.meeting_date, starts_at=_moment(item.starts_at),
        ends_at=_moment(item.ends_at), timezone=item.timezone, place_name=item.place_name,
        address=item.address, online_url=item.online_url, capacity=item.capacity,
        options=list(item.options), multiple=item.multiple,
        closes_at=_moment(item.closes_at), language=item.language,
        project_status=item.project_status, started_by=item.started_by,
    )


def item_from_stored(fields: ItemFields) -> Item:
    """The item as published: an event's moments in its own zone, with their offset (as
    peers and calendars were given them), a poll's closing time in UTC."""
    zone = _zone(fields.timezone)
    return Item(
        kind=fields.kind, title=fields.title, summary=fields.summary, body=fields.body,
        meeting_date=fields.meeting_date,
        starts_at=None if fields.starts_at is None else
        fields.starts_at.astimezone(zone).isoformat(),
        ends_at=None if fields.ends_at is None else fields.ends_at.astimezone(zone).isoformat(),
        timezone=fields.timezone, place_name=fields.place_name, address=fields.address,
        online_url=fields.online_url, capacity=fields.capacity, options=list(fields.options),
        multiple=fields.multiple,
        closes_at=None if fields.closes_at is None else iso_utc(fields.closes_at),
        language=fields.language, project_status=fields.project_status,
        started_by=fields.started_by,
    )
