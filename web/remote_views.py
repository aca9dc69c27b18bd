"""Remote objects (polls, events, posts from other nodes) as pages show and list them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markupsafe import Markup

from federation.languages import version
from federation.sanitize import clean_html, clean_text
from federation.vocab import PUBLIC
from outbox.items import MAX_LISTED_PARTICIPANTS, PROJECT_STATUSES
from outbox.taking_part import RemotePoll, remote_poll
from storage import taking_part as store
from storage.database import Reader
from storage.timestamps import from_wire
from web.i18n import current

# What a chapter page lists of what reached it from elsewhere.
RECEIVED_TYPES = ("Question", "Event", "Article", "Page", "Note")
RECEIVED_SHOWN = 10
PUBLIC_NAMES = frozenset({PUBLIC, "as:Public", "Public"})


def _addressed(document: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for key in ("to", "cc", "audience"):
        value = document.get(key)
        for entry in value if isinstance(value, list) else [value]:
            if isinstance(entry, str):
                found.add(entry)
            elif isinstance(entry, dict) and isinstance(entry.get("id"), str):
                found.add(entry["id"])
    return found


def is_public(document: dict[str, Any]) -> bool:
    return bool(_addressed(document) & PUBLIC_NAMES)


@dataclass(frozen=True)
class RemoteView:
    """A remote object as its page shows it."""

    id: int
    iri: str
    type: str
    title: str
    content: Markup
    link: str | None
    author_name: str
    author_handle: str | None
    author_url: str | None
    published: datetime | None
    starts: datetime | None
    ends: datetime | None
    place: str | None
    participants: int | None
    capacity: int | None
    poll: RemotePoll | None
    # An event's own time zone (Mobilizon's and our `timezone`), in which it is shown.
    timezone: str | None = None
    # The language of the content and of the title shown (their `lang`), when known.
    language: str | None = None
    title_language: str | None = None
    # A Chapterhouse project's status (chapterhouse:projectStatus) and who takes part.
    project_status: str | None = None
    participant_ids: tuple[str, ...] = ()


def _zone(value: object) -> ZoneInfo | None:
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        return None
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _in_zone(moment: datetime | None, zone: ZoneInfo | None) -> datetime | None:
    return moment.astimezone(zone) if moment is not None and zone is not None else moment


def _http(value: object) -> str | None:
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) \
        else None


def _link(document: dict[str, Any], iri: str) -> str | None:
    url = document.get("url")
    if isinstance(url, list):
        url = url[0] if url else None
    if isinstance(url, dict):
        url = url.get("href")
    return _http(url) or _http(iri)


def _place(document: dict[str, Any]) -> str | None:
    location = document.get("location")
    if isinstance(location, list):
        location = location[0] if location else None
    if isinstance(location, dict):
        name = location.get("name")
        address = location.get("address")
        if isinstance(address, dict):
            address = ", ".join(str(address[k]) for k in (
                "streetAddress", "postalCode", "addressLocality", "addressCountry")
                if isinstance(address.get(k), str))
        parts = [p for p in (name, address) if isinstance(p, str) and p]
        return clean_text(", ".join(parts)) if parts else None
    return clean_text(location) if isinstance(location, str) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def remote_view(obj: store.ReceivedObject) -> RemoteView:
    document = obj.document
    # The version in the reader's language, when the author wrote one (contentMap).
    wanted = current().code
    name, name_language = version(document, "name", wanted)
    found, content_language = version(document, "content", wanted)
    content = found or ""
    text = clean_text(name) if isinstance(name, str) and name else ""
    content_is_title = False
    if not text:
        # A Question or Note has its text as content: its first words are its title.
        plain = " ".join(clean_text(clean_html(content), limit=len(content) + 1).split())
        text = plain if len(plain) <= 80 else plain[:80].rsplit(" ", 1)[0] + "…"
        content_is_title = text == plain
        name_language = content_language
    zone = _zone(document.get("timezone")) if obj.type == "Event" else None
    handle = (f"@{obj.author_username}@{obj.author_host}"
              if obj.author_username and obj.author_host else None)
    return RemoteView(
        id=obj.id, iri=obj.iri, type=obj.type, title=text or obj.type,
        # Sanitised when it arrived; cleaning again costs little and guards the page.
        content=Markup("" if content_is_title else clean_html(content)),
        link=_link(document, obj.iri),
        author_name=obj.author_name or obj.author_username or obj.attributed_to,
        author_handle=handle, author_url=_http(obj.attributed_to), published=obj.published,
        starts=_in_zone(from_wire(document.get("startTime")), zone),
        ends=_in_zone(from_wire(document.get("endTime")), zone) if obj.type == "Event" else None,
        timezone=zone.key if zone is not None else None,
        place=_place(document) if obj.type == "Event" else None,
        participants=_int(document.get("participantCount")),
        capacity=_int(document.get("maximumAttendeeCapacity")),
        poll=remote_poll(document) if obj.type == "Question" else None,
        language=content_language, title_language=name_language if text else None,
        **_project(document))


def _project(document: dict[str, Any]) -> dict[str, Any]:
    """A project's status and who takes part (as far as its `participants` collection
    lists them), when the document is one (`projectStatus`)."""
    status = document.get("projectStatus")
    if status not in PROJECT_STATUSES:
        return {}
    found: dict[str, Any] = {"project_status": status}
    listed = document.get("participants")
    if isinstance(listed, dict):
        items = listed.get("items")
        # Another server's list: each once, and no more than we would list ourselves (one
        # query names them all, and a page of 40,000 names helps no one).
        found["participant_ids"] = tuple(dict.fromkeys(
            i for i in (items if isinstance(items, list) else [])
            if isinstance(i, str)))[:MAX_LISTED_PARTICIPANTS]
    return found


@dataclass(frozen=True)
class ReceivedGroup:
    """What reached a chapter from one actor elsewhere ("From IOPS Ireland")."""

    source: str
    items: list[RemoteView]


async def received_sections(db: Reader, chapter_id: int) -> list[ReceivedGroup]:
    """The polls, events and posts from other nodes that reached a chapter, by their
    source (the chapter that passed them down, else their author); public ones only, as
    the chapter page is."""
    rows = await store.received_for(db, chapter_id, RECEIVED_TYPES,
                                    RECEIVED_SHOWN * 2)
    groups: dict[str, list[RemoteView]] = {}
    for row in rows:
        if not is_public(row.document):
            continue
        view = remote_view(row)
        source = row.via_name if row.via and row.via != row.attributed_to and row.via_name \
            else view.author_name
        groups.setdefault(source, []).append(view)
        if sum(map(len, groups.values())) >= RECEIVED_SHOWN:
            break
    return [ReceivedGroup(source, items) for source, items in groups.items()]
