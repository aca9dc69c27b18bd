"""Organisers publish for their chapter from the web: every kind the CLI posts, with the
same validation and the same one-line reasons, shown next to the field they are about.

Routes: GET/POST /@{slug}/publish?kind=news|blog|minutes|event|poll|note (the chapter's
organisers and the administrators). The edit form and deletion of a chapter's items come
here from web/writing.py, whose /objects/{uuid}/edit and /objects/{uuid}/delete hand over
when the item is a chapter's (a chapter's note is deleted there too, never edited). A
second button, `preview`, shows the body as it will be published and publishes nothing.
Publishing, editing and deleting go through outbox.content, as the CLI's do: minutes climb
the hierarchy, edits and deletions federate. The session middleware (web/session.py) has
already checked every POST's origin and CSRF token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import structlog
from aiohttp import web
from markupsafe import Markup

from chapterhouse.reasons import N_, reason
from outbox.content import delete_item, edit_item, publish_item, written_in
from outbox.items import (
    MAX_BODY,
    MAX_OPTION,
    MAX_OPTIONS,
    MAX_SUMMARY,
    MAX_TITLE,
    InvalidItem,
    Item,
    body_html,
    unknown_zone,
)
from outbox.publish import MAX_NOTE, PublishError, delete_object, post_note
from storage import actors as actor_store
from storage import items as item_store
from storage import outbox as outbox_store
from storage.actors import ActorRecord
from storage.items import StoredItem
from web import written_languages
from web.accounts import see_other
from web.i18n import _, sentence
from web.pages import render
from web.session import Viewer, viewer
from web.state import DB, NODE
from web.workspace import chapter_in_path

log = structlog.get_logger(__name__)

KINDS = ("news", "blog", "minutes", "event", "poll", "note")
# Worded where shown (the form's tabs and heading).
LABELS = {"news": N_("News"), "blog": N_("Blog post"), "minutes": N_("Minutes"),
          "event": N_("Event"), "poll": N_("Poll"), "note": N_("Note")}
# As the CLI's --upward: minutes always go up, a note never does.
UPWARD_KINDS = ("news", "blog", "event", "poll")
WITH_BODY = ("news", "blog", "minutes", "event")
MAX_ZONE = 64
MAX_MOMENT = 40
MAX_URL = 2000
MAX_PLACE = 200
MAX_ADDRESS = 500
LOCAL_MOMENT = "%Y-%m-%dT%H:%M"

# validate()'s reasons (and post_note's) by how they begin, and the field each is about.
_REASONS = (
    ("title", "title"), ("question", "title"), ("summary", "summary"), ("body", "body"),
    ("meeting date", "meeting_date"), ("unknown time zone", "timezone"),
    ("an event needs a start", "starts_at"), ("start", "starts_at"),
    ("the end must be after", "ends_at"), ("end", "ends_at"),
    ("place name", "place_name"), ("an event takes either", "place_name"),
    ("address", "address"), ("an address needs", "address"),
    ("online url", "online_url"), ("capacity", "capacity"),
    ("option", "options"), ("a poll needs at least", "options"),
    ("a poll has at most", "options"), ("poll options", "options"),
    ("a poll needs a closing time", "closes_at"), ("closing time", "closes_at"),
    ("the closing time", "closes_at"), ("a note", "text"), ("language", "language"),
)


@dataclass
class ItemForm:
    """What the form shows and sends back, as typed (the store's values only once valid)."""

    kind: str
    title: str = ""
    summary: str = ""
    body: str = ""
    meeting_date: str = ""
    starts_at: str = ""
    ends_at: str = ""
    timezone: str = "UTC"
    place_name: str = ""
    address: str = ""
    online_url: str = ""
    capacity: str = ""
    options: str = ""  # one per line
    multiple: bool = False
    closes_at: str = ""
    upward: bool = False
    text: str = ""  # a note's
    fixed_options: list[str] = field(default_factory=list)  # a published poll's
    language: str = ""  # what it is written in ("eo"); "" only on forms sent without one

    def item(self) -> Item:
        """The Item the CLI would post; InvalidItem for what only a form can get wrong."""
        capacity: int | None = None
        if self.kind == "event" and self.capacity.strip():
            try:
                capacity = int(self.capacity.strip())
            except ValueError:
                raise InvalidItem(reason(
                    "event.capacity_number", "capacity %(given)r is not a whole number",
                    given=self.capacity.strip())) from None
        item = Item(kind=self.kind, title=self.title, summary=self.summary, body=self.body,
                    language=self.language or None)
        if self.kind == "minutes":
            item.meeting_date = self.meeting_date.strip() or None
        if self.kind == "event":
            item.starts_at = self.starts_at.strip() or None
            item.ends_at = self.ends_at.strip() or None
            item.timezone = self.timezone.strip()
            item.place_name = self.place_name or None
            item.address = self.address or None
            item.online_url = self.online_url.strip() or None
            item.capacity = capacity
        if self.kind == "poll":
            item.options = [line.strip() for line in self.options.splitlines() if line.strip()]
            item.multiple = self.multiple
            closes = self.closes_at.strip()
            item.closes_at = _in_zone(closes, self.timezone.strip()) if closes else None
        return item


def _in_zone(value: str, zone_name: str) -> str:
    """A datetime-local value read in the form's time zone (the CLI wants an offset)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value  # validate() says why, in the CLI's words
    if moment.tzinfo is None:
        try:
            moment = moment.replace(tzinfo=ZoneInfo(zone_name))
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidItem(unknown_zone(zone_name)) from None
    return moment.isoformat()


def errors_of(message: object) -> dict[str, str]:
    """A one-line reason (validate()'s or post_note's, or the exception raised with it),
    next to the field it is about, worded in the reader's language. The field is found
    by the reason's English, which is the same whatever the reader reads."""
    text = sentence(message)
    lowered = str(message).lower()
    for start, name in _REASONS:
        if lowered.startswith(start):
            return {name: text}
    return {"form": text}


@cache
def zone_names() -> list[str]:
    return sorted(available_timezones())


def _text(posted: Any, name: str, limit: int) -> str:
    value = posted.get(name)
    # Twice the limit is kept, so that the CLI's reason says it is too long.
    return value[: limit * 2].replace("\r\n", "\n") if isinstance(value, str) else ""


def read_form(posted: Any, kind: str) -> ItemForm:
    return ItemForm(
        kind=kind, title=_text(posted, "title", MAX_TITLE),
        summary=_text(posted, "summary", MAX_SUMMARY), body=_text(posted, "body", MAX_BODY),
        meeting_date=_text(posted, "meeting_date", MAX_MOMENT),
        starts_at=_text(posted, "starts_at", MAX_MOMENT),
        ends_at=_text(posted, "ends_at", MAX_MOMENT),
        timezone=_text(posted, "timezone", MAX_ZONE),
        place_name=_text(posted, "place_name", MAX_PLACE),
        address=_text(posted, "address", MAX_ADDRESS),
        online_url=_text(posted, "online_url", MAX_URL),
        capacity=_text(posted, "capacity", 12),
        options=_text(posted, "options", (MAX_OPTION + 1) * MAX_OPTIONS),
        multiple=posted.get("multiple") == "yes",
        closes_at=_text(posted, "closes_at", MAX_MOMENT),
        upward=posted.get("upward") == "yes" and kind in UPWARD_KINDS,
        text=_text(posted, "text", MAX_NOTE),
        language=written_languages.posted_language(posted),
    )


def _local(moment: datetime | None, zone: str | None) -> str:
    if moment is None:
        return ""
    try:
        where = ZoneInfo(zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        where = ZoneInfo("UTC")
    return moment.astimezone(where).strftime(LOCAL_MOMENT)


def form_of(row: StoredItem) -> ItemForm:
    """A published item, as its edit form shows it: moments in the event's own zone."""
    fields = row.fields
    return ItemForm(
        kind=fields.kind, title=fields.title, summary=fields.summary or "",
        body=fields.body or "", meeting_date=fields.meeting_date or "",
        starts_at=_local(fields.starts_at, fields.timezone),
        ends_at=_local(fields.ends_at, fields.timezone), timezone=fields.timezone or "UTC",
        place_name=fields.place_name or "", address=fields.address or "",
        online_url=fields.online_url or "",
        capacity="" if fields.capacity is None else str(fields.capacity),
        multiple=fields.multiple, closes_at=_local(fields.closes_at, "UTC"),
        fixed_options=list(fields.options), language=fields.language or "",
    )


# --- Who may

def organises(current: Viewer, handle: str) -> bool:
    return current.is_admin or handle in {chapter.handle for chapter in current.organises}


def _notice(request: web.Request, heading: str, message: str, status: int) -> web.Response:
    log.info("publishing refused", path=request.path, status=status, reason=message)
    response = render(request, "notice.html", heading=heading, message=message, link=None)
    response.set_status(status)
    return response


def _not_yours(request: web.Request, name: str) -> web.Response:
    return _notice(request, _("Not yours to publish"),
                   _("Only the organisers of %(chapter)s publish, edit and delete its items.",
                     chapter=name), 403)


async def _organised(request: web.Request, kind: str) -> ActorRecord | web.Response:
    chapter = await chapter_in_path(request, f"publish?kind={kind}")
    if not isinstance(chapter, ActorRecord):
        return chapter
    current = viewer(request)
    assert current is not None and chapter.handle is not None  # chapter_in_path saw to it
    if not organises(current, chapter.handle):
        return _not_yours(request, chapter.name)
    return chapter


async def _zone_of_newest_event(request: web.Request, chapter_id: int) -> str:
    """The zone the chapter's events are in, as the start for a new one."""
    newest = await item_store.latest(request.app[DB], ("event",), chapter_id, 1)
    return (newest[0].fields.timezone if newest else None) or "UTC"


def _path(iri: str) -> str:
    return urlsplit(iri).path


def _page(request: web.Request, form: ItemForm, errors: dict[str, str], action: str,
          chapter_name: str, chapter_handle: str, editing: StoredItem | None = None,
          preview: Markup | None = None, status: int = 200) -> web.Response:
    if errors:
        log.info("item refused", path=request.path, kind=form.kind, fields=sorted(errors))
    response = render(
        request, "publish.html", form=form, errors=errors, action=action, editing=editing,
        preview=preview, kinds=KINDS, labels=LABELS, upward_kinds=UPWARD_KINDS,
        with_body=WITH_BODY, zones=zone_names(), chapter_name=chapter_name,
        written_languages=written_languages.choices(form.language),
        chapter_handle=chapter_handle,
        limits={"title": MAX_TITLE, "summary": MAX_SUMMARY, "body": MAX_BODY,
                "note": MAX_NOTE, "options": MAX_OPTIONS, "option": MAX_OPTION})
    response.set_status(status)
    return response


def _kind(request: web.Request, posted: Any = None) -> str | None:
    sent = posted.get("kind") if posted is not None else None
    kind = sent if isinstance(sent, str) else request.query.get("kind", "news")
    return kind if kind in KINDS else None


def _no_kind(request: web.Request) -> web.Response:
    return _notice(request, _("No such kind of item"),
                   _("Choose one of %(kinds)s.",
                     kinds=", ".join(_(LABELS[kind]) for kind in KINDS)), 404)


async def publish_form(request: web.Request) -> web.Response:
    kind = _kind(request)
    if kind is None:
        return _no_kind(request)
    found = await _organised(request, kind)
    if isinstance(found, web.Response):
        return found
    assert found.handle is not None
    form = ItemForm(kind=kind, timezone=await _zone_of_newest_event(request, found.id),
                    language=await written_in(request.app[DB], found.handle,
                                              written_languages.node_language(request)))
    return _page(request, form, {}, f"/@{found.handle}/publish", found.name, found.handle)


async def publish(request: web.Request) -> web.Response:
    posted = await request.post()
    kind = _kind(request, posted)
    if kind is None:
        return _no_kind(request)
    found = await _organised(request, kind)
    if isinstance(found, web.Response):
        return found
    handle = found.handle
    assert handle is not None
    form = read_form(posted, kind)
    action = f"/@{handle}/publish"

    def again(errors: dict[str, str], preview: Markup | None = None) -> web.Response:
        return _page(request, form, errors, action, found.name, handle, preview=preview,
                     status=400 if errors else 200)

    if "preview" in posted:
        return again({}, Markup(body_html(form.body)))
    db, urls = request.app[DB], request.app[NODE].urls
    # A form sent without the field (an older page, a script) is in the chapter's language.
    form.language = form.language or await written_in(
        db, handle, written_languages.node_language(request))
    try:
        if kind == "note":
            iri = await post_note(db, urls, handle, form.text, form.language)
        else:
            iri = await publish_item(db, urls, handle, form.item(), upward=form.upward)
    except (InvalidItem, PublishError) as exc:
        return again(errors_of(exc))
    log.info("item published from the web", chapter=handle, kind=kind, object=iri)
    return see_other(f"{_path(iri)}?published=1")


# --- A chapter's items, from their page (web/writing.py hands over)

def _allowed(request: web.Request, author: str, author_name: str, back: str
             ) -> Viewer | web.Response:
    current = viewer(request)
    if current is None:
        return see_other(f"/login?next={quote(back, safe='/@')}")
    if not organises(current, author):
        return _not_yours(request, author_name)
    return current


async def edit_form(request: web.Request, row: StoredItem) -> web.Response:
    path = _path(row.object_iri)
    found = _allowed(request, row.author, row.author_name, f"{path}/edit")
    if isinstance(found, web.Response):
        return found
    form = form_of(row)
    # An item from before languages were kept: the form proposes the chapter's.
    form.language = form.language or await written_in(
        request.app[DB], row.author, written_languages.node_language(request))
    return _page(request, form, {}, f"{path}/edit", row.author_name, row.author,
                 editing=row)


def _details(form: ItemForm) -> dict[str, Any]:
    """What an edit changes besides the text, per kind (outbox.content.EDITABLE_DETAILS);
    the language of every kind, when the form sent one."""
    language = {"language": form.language} if form.language else {}
    if form.kind == "minutes":
        return {"meeting_date": form.item().meeting_date, **language}
    if form.kind == "event":
        item = form.item()
        return {name: getattr(item, name) for name in (
            "starts_at", "ends_at", "timezone", "place_name", "address", "online_url",
            "capacity")} | language
    return language


async def edit(request: web.Request, row: StoredItem) -> web.Response:
    path = _path(row.object_iri)
    found = _allowed(request, row.author, row.author_name, path)
    if isinstance(found, web.Response):
        return found
    posted = await request.post()
    form = read_form(posted, row.kind)
    form.fixed_options = list(row.fields.options)
    form.multiple, form.closes_at = row.fields.multiple, _local(row.fields.closes_at, "UTC")
    action = f"{path}/edit"

    def again(errors: dict[str, str], preview: Markup | None = None) -> web.Response:
        return _page(request, form, errors, action, row.author_name, row.author,
                     editing=row, preview=preview, status=400 if errors else 200)

    if "preview" in posted:
        return again({}, Markup(body_html(form.body)))
    # A poll keeps its text fields as they were but for the question (the CLI's edit
    # changes them; the form shows only the question).
    poll = row.kind == "poll"
    try:
        await edit_item(request.app[DB], request.app[NODE].urls, row.object_iri,
                        form.title, None if poll else form.summary, None if poll else form.body,
                        details=_details(form))
    except (InvalidItem, PublishError) as exc:
        return again(errors_of(exc))
    log.info("item edited from the web", chapter=row.author, object=row.object_iri)
    return see_other(path)


async def delete(request: web.Request, row: StoredItem) -> web.Response:
    found = _allowed(request, row.author, row.author_name, _path(row.object_iri))
    if isinstance(found, web.Response):
        return found
    try:
        await delete_item(request.app[DB], request.app[NODE].urls, row.object_iri)
    except PublishError as exc:
        return _notice(request, _("Not deleted"), sentence(exc), 409)
    log.info("item deleted from the web", chapter=row.author, object=row.object_iri)
    return see_other(f"/@{quote(row.author)}")


@dataclass(frozen=True)
class ChapterNote:
    iri: str
    author: str  # the chapter's handle
    author_name: str


async def chapter_note(request: web.Request) -> ChapterNote | None:
    """The live note the URL names when a chapter of this node is its author (a note is no
    item: it is deleted, never edited, as with the CLI)."""
    db = request.app[DB]
    iri = request.app[NODE].urls.object(request.match_info["uuid"])
    found = await outbox_store.local_object(db, iri)
    if found is None:
        return None
    document, actor_id, deleted_at = found
    if deleted_at is not None or document.get("type") != "Note":
        return None
    handle = await actor_store.handle_of(db, actor_id)
    actor = None if handle is None else await actor_store.actor_by_handle(db, handle)
    if actor is None or actor.kind != "chapter" or actor.handle is None:
        return None
    return ChapterNote(iri, actor.handle, actor.name)


async def delete_note(request: web.Request, note: ChapterNote) -> web.Response:
    found = _allowed(request, note.author, note.author_name, _path(note.iri))
    if isinstance(found, web.Response):
        return found
    try:
        await delete_object(request.app[DB], request.app[NODE].urls, note.iri)
    except PublishError as exc:
        return _notice(request, _("Not deleted"), sentence(exc), 409)
    log.info("note deleted from the web", chapter=note.author, object=note.iri)
    return see_other(f"/@{quote(note.author)}")


def setup(app: web.Application) -> None:
    app.router.add_get("/@{slug}/publish", publish_form)
    app.router.add_post("/@{slug}/publish", publish)
